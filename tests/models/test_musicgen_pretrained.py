"""MusicGen.get_pretrained: names, local folders in both formats, the HF cache, no network."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from tiny_hf_models import save_tiny_musicgen

from audiocraft.models.loaders import MissingWeightsError, export_compression, export_lm
from audiocraft.models.musicgen import MusicGen


def export_debug(folder: Path) -> MusicGen:
    debug = MusicGen.get_pretrained("debug", device="cpu")
    folder.mkdir(parents=True, exist_ok=True)
    export_compression(debug.compression_model, folder / "compression_state_dict.bin")
    export_lm(debug.lm, None, folder / "state_dict.bin")
    return debug


def sample(model: MusicGen) -> torch.Tensor:
    model = MusicGen(model.name, model.compression_model, model.lm, max_duration=1.0)
    model.set_generation_params(duration=1.4)
    return model.generate(["a tune"], seed=4, return_tokens=True)[1]


def test_local_audiocraft_folder_loads_and_generates_like_debug(tmp_path):
    debug = export_debug(tmp_path / "ckpt")
    loaded = MusicGen.get_pretrained(str(tmp_path / "ckpt"), device="cpu")
    assert loaded.sample_rate == debug.sample_rate and loaded.frame_rate == debug.frame_rate
    assert torch.equal(sample(loaded), sample(debug))


@pytest.mark.parametrize("name", ["facebook/musicgen-small", "small"])
def test_hub_name_resolves_from_the_hf_cache(tmp_path, monkeypatch, name):
    repo = tmp_path / "hf" / "hub" / "models--facebook--musicgen-small"
    export_debug(repo / "snapshots" / "0123abc")
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0123abc")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    model = MusicGen.get_pretrained(name, device="cpu")
    assert sample(model).shape == (1, 4, 35)


def test_missing_weights_say_how_to_get_them(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    with pytest.raises(MissingWeightsError, match="huggingface-cli download"):
        MusicGen.get_pretrained("facebook/musicgen-melody-large", device="cpu")
    with pytest.raises(MissingWeightsError):
        MusicGen.get_pretrained(str(tmp_path / "no_such_folder"), device="cpu")


@pytest.mark.slow
@pytest.mark.parametrize("melody", [False, True])
def test_transformers_folder_loads_and_generates(tmp_path, melody):
    save_tiny_musicgen(tmp_path / "hf_musicgen", melody=melody)
    model = MusicGen.get_pretrained(str(tmp_path / "hf_musicgen"), device="cpu")
    assert model.frame_rate == 50 and model.sample_rate == 32000
    model = MusicGen(model.name, model.compression_model, model.lm, max_duration=0.5)
    model.set_generation_params(duration=0.8)
    if melody:
        tune = 0.3 * torch.sin(torch.arange(16000) / 5.0)[None]  # [C, T], 1 s at 16 kHz
        wav = model.generate_with_chroma(["hello"], [tune], 16000, seed=0)
    else:
        wav = model.generate(["hello"], seed=0)
    assert wav.shape == (1, 1, int(0.8 * 32000))
    assert torch.isfinite(wav).all()
