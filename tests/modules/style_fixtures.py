"""A tiny HuBERT encoder saved as a local transformers folder (the style conditioner's
stand-in for MERT) and a tiny style MusicGen built on the debug presets."""

from __future__ import annotations

from pathlib import Path

import torch
from omegaconf import OmegaConf

from audiocraft.models import builders
from audiocraft.models.musicgen import MusicGen

ENCODER_RATE = 8000  # the tiny encoder's input rate; hop 80 -> 100 frames/s


def save_tiny_encoder(folder: Path) -> Path:
    """A random HuBERT (hidden 16, 1 layer, hop 80) saved with save_pretrained."""
    from transformers import HubertConfig, HubertModel

    config = HubertConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                          intermediate_size=32, conv_dim=(8, 8, 8), conv_stride=(5, 4, 4),
                          conv_kernel=(10, 8, 8), num_conv_pos_embeddings=16,
                          num_conv_pos_embedding_groups=2, feat_extract_norm="layer")
    torch.manual_seed(0)
    HubertModel(config).save_pretrained(folder)
    return folder


def style_args(encoder: Path, **overrides) -> dict:
    """The `style` section of a tiny config: 0.5 s excerpts -> 50 frames -> 10 steps."""
    return {"sample_rate": 32000, "encoder_path": str(encoder),
            "encoder_sample_rate": ENCODER_RATE, "transformer_scale": "none", "length": 0.5,
            "varying_lengths": [0.3, 0.5], "ds_factor": 5, "n_q_out": 4, "eval_q": 2,
            "bins": 16, **overrides}


def style_lm_cfg(encoder: Path):
    """The debug LM with a style conditioner on `self_wav`, prepended before the text."""
    cfg = OmegaConf.create(builders.DEBUG_LM_CFG)
    cfg.conditioners.self_wav = {"model": "style", "style": style_args(encoder)}
    cfg.fuser.prepend = ["self_wav"]
    cfg.dataset = {"segment_duration": 1.0}
    return cfg


def fit_bottleneck(conditioner, seconds: float = 1.0, batch: int = 4) -> None:
    """One training-mode pass on noise: k-means initialises the quantiser's codebooks
    (an untrained quantiser maps everything to zero)."""
    from audiocraft.modules.conditioners import WavCondition

    n = int(seconds * 32000)
    wav = WavCondition(torch.randn(batch, 1, n), torch.full((batch,), n), [32000] * batch)
    conditioner.train()
    with torch.no_grad():
        conditioner(conditioner.tokenize(wav))
    conditioner.eval()


def tiny_style_musicgen(encoder: Path) -> MusicGen:
    torch.manual_seed(0)
    lm = builders.get_lm_model(style_lm_cfg(encoder))
    fit_bottleneck(lm.condition_provider.conditioners["self_wav"])
    return MusicGen("style", builders.get_debug_compression_model(), lm.eval(), max_duration=1)
