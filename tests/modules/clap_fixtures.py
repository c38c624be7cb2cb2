"""The tiny random CLAP folder of the metrics tests, and a debug MusicGen LM conditioned
on `description` through the `clap` conditioner (cross-attention) for round trips."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from omegaconf import OmegaConf

from audiocraft.models import builders

_SPEC = importlib.util.spec_from_file_location(
    "tiny_metric_backbones", Path(__file__).resolve().parent.parent / "metrics"
    / "tiny_metric_backbones.py")
assert _SPEC is not None and _SPEC.loader is not None
_MODULE = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(_MODULE)
save_tiny_clap = _MODULE.save_tiny_clap  # projection dim 8, 1 s windows at 48 kHz


def clap_args(folder: Path, **overrides) -> dict:
    """The `clap` section of a tiny config (the reference's keys)."""
    return {"checkpoint": str(folder), "model_arch": "HTSAT-base", "enable_fusion": False,
            "sample_rate": 48000, "max_audio_length": 1, "audio_stride": 0.5, "dim": 8,
            "attribute": "description", "normalize": True, "quantize": True, "n_q": 2,
            "bins": 16, "kmeans_iters": 2, "text_p": 0.0, "batch_size": None,
            "cache_path": None, **overrides}


def clap_lm_cfg(folder: Path):
    cfg = OmegaConf.create(builders.DEBUG_LM_CFG)
    cfg.conditioners = {"description": {"model": "clap", "clap": clap_args(folder)}}
    cfg.dataset = {"segment_duration": 1.0, "joint_embed_attributes": ["description"]}
    return cfg
