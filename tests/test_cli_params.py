"""Every numeric option of ``audiocraft generate`` refuses bad values (NaN, infinities,
out of range, fractions where whole numbers are meant) with one clear line, before any
model loads."""

import pytest

from audiocraft import cli

NAN = "nan"


@pytest.mark.parametrize("option, value, message", [
    ("--duration", NAN, "--duration must be a finite number"),
    ("--duration", "inf", "--duration must be a finite number"),
    ("--duration", "-inf", "--duration must be a finite number"),
    ("--duration", "0", "--duration must be > 0"),
    ("--duration", "-5", "--duration must be > 0"),
    ("--batch", "0", "--batch must be >= 1"),
    ("--batch", "100000", "--batch must be <= 1024"),
    ("--top-k", "-1", "--top-k must be >= 0"),
    ("--top-p", NAN, "--top-p must be a finite number"),
    ("--top-p", "1.5", "--top-p must be <= 1"),
    ("--top-p", "-0.5", "--top-p must be >= 0"),
    ("--temperature", NAN, "--temperature must be a finite number"),
    ("--temperature", "inf", "--temperature must be a finite number"),
    ("--temperature", "-1", "--temperature must be >= 0"),
    ("--seed", "-1", "--seed must be >= 0"),
    ("--seed", str(2**64), "--seed must be <= 9.22337e+18"),
    ("--window", NAN, "--window must be a finite number"),
    ("--window", "0", "--window must be > 0"),
    ("--stride", "inf", "--stride must be a finite number"),
    ("--stride", "-2", "--stride must be > 0"),
    ("--threads", "0", "--threads must be >= 1"),
    ("--bpm", NAN, "--bpm must be a finite number"),
    ("--bpm", "0", "--bpm must be > 0"),
])
def test_bad_numbers_give_one_clear_line(tmp_path, capsys, option, value, message):
    out = tmp_path / "x.wav"
    code = cli.main(["generate", "x", "--out", str(out), "--model", "no-such-model",
                     "--quiet", f"{option}={value}"])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err, err
    assert "no-such-model" not in err  # refused before the model is looked up
    assert not out.exists()


@pytest.mark.parametrize("option, value", [
    ("--top-k", "2.5"), ("--seed", "1.5"), ("--batch", "x"), ("--duration", "ten"),
    ("--cfg-coef", "nan"), ("--cfg-coef", "3,inf"), ("--format", "exe"),
    ("--melody-policy", "again"), ("--precision", "float64"),
])
def test_argparse_refuses_the_wrong_type(tmp_path, capsys, option, value):
    with pytest.raises(SystemExit) as info:
        cli.main(["generate", "x", "--out", str(tmp_path / "x.wav"), option, value])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {option}" in err and "Traceback" not in err
