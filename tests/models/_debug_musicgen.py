"""The debug preset as the API tests use it: a window of 1 s so long-form runs fast."""

from __future__ import annotations

import torch

from audiocraft.models.builders import get_debug_lm_model
from audiocraft.models.musicgen import MusicGen
from audiocraft.modules.conditioners import ConditionFuser, ConditioningProvider
from audiocraft.modules.conditioners.chroma import ChromaStemConditioner

WINDOW = 1.0  # seconds


def debug_musicgen(window: float = WINDOW) -> MusicGen:
    """MusicGen.get_pretrained('debug') with a short window."""
    model = MusicGen.get_pretrained("debug", device="cpu")
    return MusicGen("debug", model.compression_model, model.lm, max_duration=window)


def debug_melody_musicgen(window: float = WINDOW) -> MusicGen:
    """The debug preset plus a chroma melody conditioner (prepended, as in the melody
    models), for generate_with_chroma."""
    model = MusicGen.get_pretrained("debug", device="cpu")
    lm = get_debug_lm_model("cpu")
    dim = lm.dim
    conditioners = dict(lm.condition_provider.conditioners)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        conditioners["self_wav"] = ChromaStemConditioner(
            output_dim=dim, sample_rate=model.sample_rate, duration=window, use_demucs=False)
    lm.condition_provider = ConditioningProvider(conditioners)
    fuse = {method: list(names) for method, names in lm.fuser.fuse2cond.items()}
    fuse["prepend"] = fuse.get("prepend", []) + ["self_wav"]
    lm.fuser = ConditionFuser(fuse)
    return MusicGen("debug-melody", model.compression_model, lm.eval(), max_duration=window)
