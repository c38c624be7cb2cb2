"""Shared helpers of the LM tests: a stand-in text conditioner and the reference fixture."""

from __future__ import annotations

import os

import numpy as np
import torch

from audiocraft.modules.conditioners import (
    ConditionFuser,
    ConditioningProvider,
    TextConditioner,
)
from audiocraft.modules.patterns import DelayedPatternProvider

FIXTURE_DIR = os.path.join(os.path.dirname(__file__), "..", "fixtures", "audiocraft")


class HiddenStateConditioner(TextConditioner):
    """T5-like conditioner whose encoder is a table of precomputed hidden states.

    `texts` maps a description to hidden states [L, dim]; None (the null condition) maps to
    `null_hidden` with mask 0. Output: output_proj(hidden) * mask, as the T5 conditioner.
    """

    def __init__(self, dim: int, output_dim: int, texts: dict[str, torch.Tensor],
                 null_hidden: torch.Tensor, masks: dict[str, torch.Tensor] | None = None):
        super().__init__(dim, output_dim)
        self.texts = texts
        self.masks = masks or {}
        self.null_hidden = null_hidden

    def tokenize(self, x: list[str | None]) -> list[str | None]:
        return list(x)

    def forward(self, inputs: list[str | None]):  # type: ignore[override]
        hidden, masks = [], []
        for text in inputs:
            if text is None:
                hidden.append(self.null_hidden)
                masks.append(torch.zeros(self.null_hidden.shape[0], dtype=torch.long))
            else:
                h = self.texts[text]
                hidden.append(h)
                masks.append(self.masks.get(text, torch.ones(h.shape[0], dtype=torch.long)))
        h = torch.stack(hidden)  # [B, L, dim]
        mask = torch.stack(masks)  # [B, L]
        emb = self.output_proj(h.to(self.output_proj.weight)) * mask[..., None]
        return emb, mask


def load_reference() -> dict[str, np.ndarray]:
    data = np.load(os.path.join(FIXTURE_DIR, "reference.npz"))
    return {k: data[k] for k in data.files}


def load_best_state() -> dict[str, torch.Tensor]:
    pkg = torch.load(os.path.join(FIXTURE_DIR, "state_dict.bin"), map_location="cpu",
                     weights_only=True)
    return pkg["best_state"]


def fixture_lm(ref: dict[str, np.ndarray] | None = None, prompt: str = "prompt"):
    """The fixture's tiny MusicGen LM with a HiddenStateConditioner named description."""
    from audiocraft.models.lm import LMModel

    ref = ref if ref is not None else load_reference()
    conditioner = HiddenStateConditioner(
        768, 64, {prompt: torch.from_numpy(ref["gen_cond_t5_hidden"][0])},
        torch.from_numpy(ref["gen_null_t5_hidden"][0]))
    provider = ConditioningProvider({"description": conditioner})
    fuser = ConditionFuser({"cross": ["description"]})
    model = LMModel(
        DelayedPatternProvider(4, [0, 1, 2, 3]), provider, fuser, n_q=4, card=2048, dim=64,
        num_heads=4, num_layers=2, hidden_scale=4, norm_first=True, bias_proj=False,
        bias_ff=False, bias_attn=False, activation="gelu", cross_attention=True, cfg_coef=3.0)
    model.load_state_dict(load_best_state(), strict=True)
    return model.eval()


def tiny_lm(fuse: str = "cross", card: int = 64, n_q: int = 4, seed: int = 0,
            cfg_coef: float = 3.0, pattern=None, **kwargs):
    """A random tiny LM with a HiddenStateConditioner knowing texts 'a', 'b' and 'c'
    ('c' has 2 padded positions); conditions fused by `fuse` (cross or prepend)."""
    from audiocraft.models.lm import LMModel

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    texts = {name: torch.randn(5, 12, generator=gen) for name in "abc"}
    masks = {"c": torch.tensor([1, 1, 1, 0, 0])}
    texts["c"][3:] = 0
    conditioner = HiddenStateConditioner(12, 32, texts, torch.randn(5, 12, generator=gen), masks)
    provider = ConditioningProvider({"description": conditioner})
    fuser = ConditionFuser({fuse: ["description"]})
    args = dict(n_q=n_q, card=card, dim=32, num_heads=2, num_layers=2, hidden_scale=2,
                norm_first=True, cross_attention=fuse == "cross", cfg_coef=cfg_coef,
                weight_init="gaussian", depthwise_init="current", zero_bias_init=True)
    args.update(kwargs)
    pattern = pattern if pattern is not None else DelayedPatternProvider(n_q, list(range(n_q)))
    model = LMModel(pattern, provider, fuser, **args)
    return model.eval()
