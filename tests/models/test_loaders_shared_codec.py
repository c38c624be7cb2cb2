"""Shared loader helpers: HF cache lookup, hub-file reading and their error messages."""

from pathlib import Path

import pytest
import torch

from audiocraft.models import loaders


def _make_cache(root: Path, repo_id: str, rev: str = "abc123") -> Path:
    repo = root / "hub" / ("models--" + repo_id.replace("/", "--"))
    snap = repo / "snapshots" / rev
    snap.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(rev)
    (snap / "config.json").write_text("{}")
    return snap


def test_resolve_hf_folder_local_and_cache(tmp_path, monkeypatch):
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    snap = _make_cache(tmp_path, "org/model")
    assert loaders.resolve_hf_folder("org/model") == snap
    assert loaders.resolve_hf_folder(str(snap)) == snap
    assert loaders.resolve_hf_folder("org/other") is None
    assert loaders.find_file("org/model", "config.json") == snap / "config.json"
    assert loaders.find_file("org/model", "missing.bin") is None


def test_missing_weights_message_names_places(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    msg = loaders.missing_weights_message("org/model", "weights")
    assert "models--org--model" in msg and "huggingface-cli download org/model" in msg
    assert "HF_HOME" in msg


def test_read_hub_file_errors(tmp_path, fixtures_dir):
    good = Path(fixtures_dir) / "audiocraft" / "compression_state_dict.bin"
    pkg = loaders.read_hub_file(good)
    assert "best_state" in pkg and "xp.cfg" in pkg
    truncated = tmp_path / "trunc.bin"
    truncated.write_bytes(good.read_bytes()[:5000])
    with pytest.raises(loaders.CheckpointError, match="truncated"):
        loaders.read_hub_file(truncated)
    wrong = tmp_path / "wrong.bin"
    torch.save({"foo": torch.zeros(1)}, wrong)
    with pytest.raises(loaders.CheckpointError, match="not an audiocraft hub file"):
        loaders.read_hub_file(wrong)


def test_lm_only_folder_takes_the_codec_it_records(tmp_path):
    import hashlib
    import json
    import shutil

    from audiocraft.models import hub

    toy_codec = hub.TOY_MODEL_DIR / "compression_state_dict.bin"
    folder = tmp_path / "lm_only"
    folder.mkdir()
    shutil.copy(hub.TOY_MELODY_MODEL_DIR / "state_dict.bin", folder / "state_dict.bin")
    assert loaders.find_file(folder, "compression_state_dict.bin") is None  # no record
    digest = hashlib.sha256(toy_codec.read_bytes()).hexdigest()
    record = {"files": {}, "shares_codec_of": {"model": "toy", "file": toy_codec.name,
                                               "sha256": digest}}
    (folder / "checksums.json").write_text(json.dumps(record))
    assert loaders.find_file(folder, "compression_state_dict.bin") == toy_codec
    assert loaders.find_file(folder, "state_dict.bin") == folder / "state_dict.bin"
    codec = loaders.load_compression_model(folder)
    assert codec.sample_rate == 8000
    # A codec that is no longer the one recorded is not taken.
    record["shares_codec_of"]["sha256"] = "0" * 64
    (folder / "checksums.json").write_text(json.dumps(record))
    assert loaders.find_file(folder, "compression_state_dict.bin") is None
    with pytest.raises(loaders.MissingWeightsError):
        loaders.load_compression_model(folder)
