"""Exports (hub files, transformers folders) are written atomically: a failure half-way
leaves the previous export whole and no temporary file."""

import pytest
import safetensors.torch
import torch
from omegaconf import OmegaConf

from audiocraft.models import builders, loaders


def _fail_half_way(real):
    def save(obj, path, *args, **kwargs):
        real(obj, path, *args, **kwargs)
        with open(path, "r+b") as f:  # a half-written file, then the failure
            f.truncate(max(1, f.seek(0, 2) // 2))
        raise OSError("No space left on device")
    return save


@pytest.mark.parametrize("export", ["lm", "compression", "hub_file"])
def test_a_failed_export_keeps_the_previous_one(tmp_path, monkeypatch, export):
    lm = builders.get_debug_lm_model()
    codec = builders.get_debug_compression_model()
    writers = {
        "lm": lambda: loaders.export_lm(lm, None, tmp_path / "state_dict.bin"),
        "compression": lambda: loaders.export_compression(
            codec, tmp_path / "compression_state_dict.bin"),
        "hub_file": lambda: loaders.save_hub_file(
            loaders.read_hub_file(tmp_path / "keep.bin"), tmp_path / "state_dict.bin"),
    }
    loaders.export_lm(lm, None, tmp_path / "keep.bin")
    path = writers[export]()
    before = path.read_bytes()
    monkeypatch.setattr(torch, "save", _fail_half_way(torch.save))
    with pytest.raises(OSError, match="No space left"):
        writers[export]()
    assert path.read_bytes() == before
    assert loaders.read_hub_file(path)["best_state"]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")) == []


def test_a_failed_transformers_export_keeps_the_previous_folder(tmp_path, monkeypatch):
    cfg = OmegaConf.create(builders.DEBUG_COMPRESSION_CFG)
    cfg.seanet.lstm = 1  # transformers' EnCodec always has one
    codec = builders.get_compression_model(cfg)
    folder = loaders.export_compression_hf(codec, tmp_path / "hf")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    monkeypatch.setattr(safetensors.torch, "save_file",
                        _fail_half_way(safetensors.torch.save_file))
    with pytest.raises(OSError, match="No space left"):
        loaders.export_compression_hf(codec, folder)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert loaders.load_compression_model(folder) is not None
