"""The missing-weights advice names a command this environment has, and fits local paths."""

from __future__ import annotations

import sys
from pathlib import Path

from audiocraft.models.hub import missing_weights_message


def test_repo_id_advice_names_an_existing_command(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    message = missing_weights_message("facebook/musicgen-small", "state_dict.bin")
    assert "hf download facebook/musicgen-small" in message
    assert (Path(sys.executable).parent / "hf").exists()  # installed with huggingface_hub
    assert "models--facebook--musicgen-small" in message and str(tmp_path / "hf") in message


def test_local_paths_get_advice_about_folders_not_downloads(tmp_path):
    missing = missing_weights_message(str(tmp_path / "nope"), "state_dict.bin")
    assert f"there is no file or folder {tmp_path / 'nope'}" in missing
    empty = missing_weights_message(str(tmp_path), "state_dict.bin")
    assert f"the folder {tmp_path} exists but holds no state_dict.bin" in empty
    for message in (missing, empty):
        assert "download" not in message and "export/" in message
