"""The toy model's evaluation (audiocraft.recipes.toy_eval, the command line of
scripts/eval_toy_model.py): a run writes every figure of the model card's table."""

import json

import pytest

from audiocraft.recipes import toy_eval


def test_a_run_writes_every_figure(tmp_path, capsys):
    out = tmp_path / "eval.json"
    code = toy_eval.main(["--model", "toy", "--num", "2", "--seconds", "4", "--long-seconds", "12",
                    "--json", str(out)])
    assert code == 0
    report = json.loads(out.read_text())
    assert set(report["adherence"]) == {
        "real audio", "codec reconstruction", "generated from captions",
        "unconditional (baseline)", "shuffled captions (baseline)"}
    real = report["adherence"]["real audio"]
    assert real["n"] == 2 and real["tempo"] == 1.0  # the estimator finds the labelled bpm
    for row in report["adherence"].values():
        assert 0.0 <= row["tempo"] + row["tempo_octave"] <= 1.0
    assert report["codec_si_snr_db"] > 0.0 and report["codec_mel_l1"] > 0.0
    assert set(report["triads"]) == {"real audio", "codec reconstruction"}
    assert report["triads"]["real audio"] >= 0.75
    assert len(report["long_form"]) == 1 and report["long_form"][0]["bpm"] >= 0.0
    assert report["settings"]["long_form_labels"]["bpm"] > 0
    # Without --cfg-coef the model's own guidance is used, and recorded.
    from audiocraft.models import MusicGen
    own = MusicGen.get_pretrained("toy", device="cpu").lm.cfg_coef
    assert report["settings"]["cfg_coef"] == own
    captured = capsys.readouterr()
    printed = captured.out
    # Progress as it goes, on stderr, in order (the table comes at the end, on stdout).
    stages = ["loading toy", "rendering 2 held-out pieces", "codec: SI-SNR", "generating 2 clips",
              "estimating tempo and key", "long piece 1 of 1", "] done"]
    positions = [captured.err.find(stage) for stage in stages]
    assert -1 not in positions and positions == sorted(positions), captured.err
    assert "| generated from captions |" in printed and "SI-SNR" in printed
    assert "triads keeping their quality" in printed
    assert set(report["triad_partials"]) == {"root", "major third", "minor third"}
    assert "level change of the minor third" in printed
    # Mode and key with the synthetic music's key profiles, and with the probe-tone ones.
    assert report["settings"]["key_profiles"] == "synthetic"
    assert report["settings"]["alt_key_profiles"] == "krumhansl"
    for row in report["adherence"].values():
        assert 0.0 <= row["mode_alt"] <= 1.0 and 0.0 <= row["key_alt"] <= row["mode_alt"]
    assert "| mode (krumhansl) | key (krumhansl) |" in printed


def test_codec_only_scores_a_compression_model(tmp_path):
    out = tmp_path / "codec.json"
    assert toy_eval.main(["--codec-only", "--model", "toy", "--num", "2", "--seconds", "4",
                    "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert set(report["adherence"]) == {"real audio", "codec reconstruction"}
    assert report["codec_si_snr_db"] > 0.0 and report["long_form"] == []


def test_guidance_per_codebook_is_recorded(tmp_path):
    out = tmp_path / "eval.json"
    assert toy_eval.main(["--model", "toy", "--num", "2", "--seconds", "2", "--long-seconds", "0",
                    "--cfg-coef", "3,6,6,6", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["settings"]["cfg_coef"] == [3.0, 6.0, 6.0, 6.0]
    with pytest.raises(SystemExit):
        toy_eval.main(["--num", "2", "--cfg-coef", "3;6"])


def test_long_form_stride_is_used_and_recorded(tmp_path):
    out = tmp_path / "eval.json"
    assert toy_eval.main(["--model", "toy", "--num", "2", "--seconds", "2", "--long-seconds", "12",
                    "--stride", "1.5", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["settings"]["stride"] == 1.5 and len(report["long_form"]) == 1
    with pytest.raises(SystemExit):
        toy_eval.main(["--num", "2", "--stride", "0"])


def test_one_piece_is_refused():
    with pytest.raises(SystemExit):
        toy_eval.main(["--num", "1"])
    with pytest.raises(SystemExit):
        toy_eval.main(["--num", "2", "--key-profiles", "temperley"])
    with pytest.raises(SystemExit):
        toy_eval.main(["--num", "2", "--long-pieces", "3"])  # more long pieces than captions


def test_several_long_pieces_are_summarised(tmp_path, capsys):
    out = tmp_path / "eval.json"
    assert toy_eval.main(["--model", "toy", "--num", "2", "--seconds", "2", "--long-seconds", "12",
                    "--long-pieces", "2", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    pieces = report["long_form_pieces"]
    assert len(pieces) == 2 and pieces[0]["minutes"] == report["long_form"]
    # Each piece's real audio (the synthesizer's rendering of the caption) scored alike.
    for piece in pieces:
        assert len(piece["real_keys"]) == len(piece["minutes"]) == 1
        assert piece["real_key_held"] is True  # one minute: one key
    assert pieces[0]["caption"] != pieces[1]["caption"] and pieces[1]["bpm"] > 0
    out = capsys.readouterr().out
    right = sum(all(m["key"] == p["key"] for m in p["minutes"]) for p in pieces)
    real_right = sum(all(k == p["key"] for k in p["real_keys"]) for p in pieces)
    held = sum(p["key_held"] for p in pieces)
    assert f"2 long pieces: key held in {held} ({right} in the caption's key)" in out
    assert f"Real audio, the same pieces: key held in 2 ({real_right} in the caption's key)" in out
