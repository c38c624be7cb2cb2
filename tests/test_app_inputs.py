"""app_inputs.py (the app's input checks, beside app.py) depends on the package's model
layer only, never on the CLI entry point; the rest of its behaviour is tested through
``app`` in test_app.py."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_timeline_checks_do_not_load_the_cli():
    code = ("import sys, app_inputs; print(app_inputs.parse_timeline('0: a\\n5: b')); "
            "print('audiocraft.cli' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=120, check=True).stdout.split("\n")
    assert out[:2] == ["[(0.0, 'a'), (5.0, 'b')]", "False"]


def test_a_bad_timeline_is_an_app_error():
    sys.path.insert(0, str(ROOT))
    import app_inputs

    with pytest.raises(app_inputs.AppError, match="not sorted by time"):
        app_inputs.parse_timeline("10: a\n5: b")


# ---- untrusted input: model allow-list, uploads, messages ----

sys.path.insert(0, str(ROOT))
import app  # noqa: E402  (the top-level app.py)
import app_inputs  # noqa: E402


def model_folder(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "state_dict.bin").write_bytes(b"weights")
    return path


def test_model_names_are_an_allow_list(tmp_path, monkeypatch):
    root = tmp_path / "models"
    model_folder(root / "mine")
    model_folder(root / "group" / "theirs")
    (root / "empty").mkdir()
    outside = model_folder(tmp_path / "outside")
    (root / "escape").symlink_to(outside)
    roots = app_inputs.configured_model_roots([root])
    for name in app_inputs.KNOWN_MODELS:
        assert app_inputs.resolve_model(name, roots) == (name, name)
    assert app_inputs.resolve_model("mine", roots) == ("mine", str(root / "mine"))
    assert app_inputs.resolve_model("group/theirs", roots)[0] == "group/theirs"
    assert app_inputs.resolve_model(str(root / "mine"), roots)[0] == "mine"
    for name in ("empty", "escape", "../outside", str(outside), "mine/../../outside", "/etc",
                 "~", "group", "", "x" * 5000, "mine\0", str(root), "./mine/.."):
        with pytest.raises(app_inputs.AppError) as info:
            app_inputs.resolve_model(name, roots)
        assert str(tmp_path) not in app_inputs.public_message(str(info.value))
    with pytest.raises(app_inputs.AppError, match=r"Folders here: mine\.$"):
        app_inputs.resolve_model("nope", roots)
    assert app_inputs.root_models(roots) == ["mine"]  # direct children holding a model
    monkeypatch.setenv(app_inputs.MODEL_ROOTS_ENV, str(root / "group"))
    assert app_inputs.resolve_model("theirs", app_inputs.configured_model_roots())[0] == "theirs"
    monkeypatch.setenv(app_inputs.MODEL_ROOTS_ENV, str(tmp_path / "missing"))
    with pytest.raises(app_inputs.AppError, match="is not a folder"):
        app_inputs.configured_model_roots()


def test_uploads_must_be_in_the_upload_folder_and_small(tmp_path):
    cache = tmp_path / "gradio"
    (cache / "abc").mkdir(parents=True)
    ok = cache / "abc" / "tune.wav"
    ok.write_bytes(b"x" * 100)
    assert app_inputs.check_upload(str(ok), "melody", [cache]) == str(ok)
    assert app_inputs.check_upload({"path": str(ok)}, "melody", [cache]) == str(ok)
    assert app_inputs.check_upload("", "melody", [cache]) is None
    (tmp_path / "secret.wav").write_bytes(b"x")
    (cache / "link.wav").symlink_to(tmp_path / "secret.wav")
    for bad in ("/etc/passwd", str(tmp_path / "secret.wav"), str(cache / "link.wav"),
                str(cache / "abc"), str(cache / "abc" / ".." / ".." / "secret.wav")):
        with pytest.raises(app_inputs.AppError, match="must be a file uploaded to this app"):
            app_inputs.check_upload(bad, "melody", [cache])
    with pytest.raises(app_inputs.AppError, match="must be an uploaded audio file"):
        app_inputs.check_upload(5, "melody", [cache])
    with pytest.raises(app_inputs.AppError, match="larger than this app's limit of 1e-05 MB"):
        app_inputs.check_upload(str(ok), "melody", [cache], max_mb=1e-5)


def test_public_messages_hide_paths_and_environment_values(monkeypatch):
    monkeypatch.setenv("AUDIOCRAFT_TEST_TOKEN", "tok-123456789")
    text = ("Could not read /home/me/models/x/state_dict.bin (C:\\Users\\me\\w.bin): token "
            "tok-123456789; see https://huggingface.co/facebook/musicgen-small or "
            "'facebook/musicgen-small'. " + "y" * 1000)
    out = app_inputs.public_message(text)
    assert ".../state_dict.bin" in out and ".../w.bin" in out and "/home/me" not in out
    assert "tok-123456789" not in out and "***" in out
    assert "https://huggingface.co/facebook/musicgen-small" in out  # URLs kept
    assert "'facebook/musicgen-small'" in out and len(out) <= app_inputs.MAX_MESSAGE_CHARS


@pytest.mark.parametrize("argv, message", [
    (["--max-duration", "nan"], "--max-duration must be a finite number > 0"),
    (["--max-duration", "inf"], "--max-duration must be a finite number > 0"),
    (["--max-duration", "0"], "--max-duration must be a finite number > 0"),
    (["--max-upload-mb", "-1"], "--max-upload-mb must be a finite number > 0"),
    (["--max-upload-mb", "nan"], "--max-upload-mb must be a finite number > 0"),
    (["--queue-size", "0"], "--queue-size must be >= 1"),
    (["--max-params", "nan"], "--max-params must be a finite number >= 1"),
    (["--max-params", "0.5"], "--max-params must be a finite number >= 1"),
    (["--server-port", "70000"], "--server-port must be in 1..65535"),
    (["--threads", "0"], "--threads must be >= 1"),
    (["--model-root", "/no/such/folder"], "is not a folder"),
    (["--model", "/etc/passwd"], "--model: The model '/etc/passwd' is not available"),
    (["--queue-size", "x"], "argument --queue-size: invalid int value"),
])
def test_app_options_refuse_bad_values(capsys, argv, message):
    with pytest.raises(SystemExit) as info:
        app.main(argv)
    assert info.value.code == 2
    assert message in capsys.readouterr().err
