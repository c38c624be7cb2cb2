"""Condition dropout for training: classifier-free guidance and per-attribute dropout.

Both replace conditions by their null version (None text, silent length-0 wav) on copies
of the attributes, only in training mode (AttributeDropout optionally in eval too).

`per_sample=False` (the reference behaviour) draws one decision per batch: the whole
batch is dropped or kept. `per_sample=True` draws one decision per sample.
"""

from __future__ import annotations

from copy import deepcopy

import torch
from torch import nn

from .attributes import ConditioningAttributes, nullify_joint_embed, nullify_wav

CONDITION_KINDS = ("text", "wav", "joint_embed")


def dropout_condition(
    sample: ConditioningAttributes, kind: str, name: str
) -> ConditioningAttributes:
    """Null the condition `kind.name` of `sample` in place and return the sample."""
    if kind not in CONDITION_KINDS:
        raise ValueError(f"Unknown condition kind {kind!r}; expected one of {CONDITION_KINDS}.")
    if kind == "text":
        sample.text[name] = None
    elif kind == "wav":
        if name in sample.wav:
            sample.wav[name] = nullify_wav(sample.wav[name])
    elif name in sample.joint_embed:
        sample.joint_embed[name] = nullify_joint_embed(sample.joint_embed[name])
    return sample


class _SeededDropout(nn.Module):
    def __init__(self, seed: int, per_sample: bool):
        super().__init__()
        self.per_sample = per_sample
        # A private generator: the decisions do not consume the global RNG and are
        # reproducible from the seed.
        self.rng = torch.Generator(device="cpu")
        self.rng.manual_seed(seed)

    def _draws(self, n_samples: int, p: float) -> list[bool]:
        """Which samples to drop: one draw shared by all, or one per sample."""
        if self.per_sample:
            return [bool(torch.rand(1, generator=self.rng).item() < p) for _ in range(n_samples)]
        return [bool(torch.rand(1, generator=self.rng).item() < p)] * n_samples


class ClassifierFreeGuidanceDropout(_SeededDropout):
    """Drops all conditions (text, wav, joint_embed) with probability p, in training mode.

    Args:
        p: drop probability. seed: seed of the private generator.
        per_sample: one draw per sample instead of one per batch (reference: per batch).
    """

    def __init__(self, p: float, seed: int = 1234, per_sample: bool = False):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Guidance dropout p must be in [0, 1], got {p}.")
        super().__init__(seed, per_sample)
        self.p = p

    def forward(self, samples: list[ConditioningAttributes]) -> list[ConditioningAttributes]:
        """Return the samples with conditions dropped (copies when anything is dropped)."""
        if not self.training or self.p == 0 or not samples:
            return samples
        drops = self._draws(len(samples), self.p)
        if not any(drops):
            return samples
        out = deepcopy(samples)
        for sample, drop in zip(out, drops):
            if drop:
                for kind in CONDITION_KINDS:
                    for name in list(sample.attributes[kind]):
                        dropout_condition(sample, kind, name)
        return out

    def __repr__(self) -> str:
        return f"ClassifierFreeGuidanceDropout(p={self.p}, per_sample={self.per_sample})"


class AttributeDropout(_SeededDropout):
    """Drops single attributes with their own probabilities.

    Args:
        p: kind -> {attribute name -> probability}, e.g. {"wav": {"self_wav": 0.5}}.
        active_on_eval: also drop in eval mode.
        seed: seed of the private generator.
        per_sample: one draw per sample and attribute instead of one per batch and attribute.
    """

    def __init__(self, p: dict[str, dict[str, float]], active_on_eval: bool = False,
                 seed: int = 1234, per_sample: bool = False):
        super().__init__(seed, per_sample)
        self.active_on_eval = active_on_eval
        self.p: dict[str, dict[str, float]] = {}
        for kind, probs in p.items():
            if kind not in CONDITION_KINDS:
                raise ValueError(
                    f"Unknown condition kind {kind!r} in attribute dropout; expected one of "
                    f"{CONDITION_KINDS}."
                )
            for name, prob in (probs or {}).items():
                if not 0.0 <= float(prob) <= 1.0:
                    raise ValueError(f"Dropout p for {kind}.{name} must be in [0, 1], got {prob}.")
            self.p[kind] = {str(k): float(v) for k, v in (probs or {}).items()}

    def forward(self, samples: list[ConditioningAttributes]) -> list[ConditioningAttributes]:
        """Return copies of the samples with attributes dropped."""
        if (not self.training and not self.active_on_eval) or not samples:
            return samples
        out = deepcopy(samples)
        for kind, probs in self.p.items():
            for name, prob in probs.items():
                for sample, drop in zip(out, self._draws(len(out), prob)):
                    if drop:
                        dropout_condition(sample, kind, name)
        return out

    def __repr__(self) -> str:
        return f"AttributeDropout(p={self.p}, per_sample={self.per_sample})"
