"""The conditioner interface: tokenize (cheap, may run in a data loader) then forward.

Every conditioner maps one attribute of a batch to `(embedding [B, Tc, output_dim],
mask [B, Tc])`, where mask is 1 on valid steps and 0 on padding and null conditions;
masked steps of the embedding are exactly zero. The last layer is always `output_proj`
(`dim -> output_dim`), the part that is trained on top of frozen encoders such as T5 and
whose weights the audiocraft checkpoints store as `conditioners.NAME.output_proj.*`.

`CONDITIONERS` is the registry of conditioner models: the `model` key of a config section
`conditioners.NAME` names an entry, built by its `from_config`. A conditioner file
registers its class with `@CONDITIONERS.register("name")`; importing
`audiocraft.modules.conditioners` registers the built-in ones (t5, lut, chroma_stem, number,
beat, style, clap).
"""

from __future__ import annotations

import typing as tp
from abc import ABC, abstractmethod
from dataclasses import dataclass

import torch
from torch import nn

from ...utils.registry import Registry
from .attributes import ConditionType, WavCondition, length_to_mask


@dataclass(frozen=True)
class ConditionerContext:
    """What a conditioner may need to be built besides its own config section.

    Attributes:
        device: where the conditioner runs (`cfg.device`).
        duration: segment length in seconds (`cfg.dataset.segment_duration`, default 30),
            e.g. the length of a melody chroma.
    """

    device: str | torch.device = "cpu"
    duration: float = 30.0


class BaseConditioner(nn.Module, ABC):
    """Base class of all conditioners.

    Args:
        dim: size of the features the conditioner computes before projection.
        output_dim: model dimension D of the language model (size after `output_proj`).
    """

    def __init__(self, dim: int, output_dim: int):
        super().__init__()
        self.dim = dim
        self.output_dim = output_dim
        self.output_proj = nn.Linear(dim, output_dim)

    @classmethod
    def from_config(cls, output_dim: int, args: dict[str, tp.Any],
                    context: ConditionerContext) -> BaseConditioner:
        """Build from the config section `conditioners.NAME.<model>` (`args`), projecting
        to `output_dim`. The default passes `args` as keyword arguments; conditioners that
        need the device or the segment duration override it to take them from `context`."""
        return cls(output_dim=output_dim, **args)

    @abstractmethod
    def tokenize(self, x: tp.Any) -> tp.Any:
        """Turn a collated batch of raw conditions into model inputs (no gradients needed)."""

    @abstractmethod
    def forward(self, inputs: tp.Any) -> ConditionType:
        """Embed tokenized inputs: returns (embedding [B, Tc, output_dim], mask [B, Tc])."""


class TextConditioner(BaseConditioner, ABC):
    """A conditioner on text. `tokenize` takes a list of B strings, None meaning null."""


class WaveformConditioner(BaseConditioner, ABC):
    """A conditioner on audio. `tokenize` takes a collated `WavCondition` ([B, C, T]).

    Subclasses compute features [B, Tc, dim] in `_get_wav_embedding`; this class projects
    them, then masks steps beyond each item's length (downsampled by
    `_downsampling_factor`) when `use_masking` is set.

    Args:
        dim: feature size; output_dim: model dimension D; sample_rate: expected input rate.
    """

    def __init__(self, dim: int, output_dim: int, sample_rate: int, use_masking: bool = True):
        super().__init__(dim, output_dim)
        self.sample_rate = sample_rate
        self.use_masking = use_masking

    def tokenize(self, x: WavCondition) -> WavCondition:
        wav, length, sample_rate, path, seek_time = x
        device = self.output_proj.weight.device
        return WavCondition(wav.to(device), length.to(device), sample_rate, path, seek_time)

    @abstractmethod
    def _get_wav_embedding(self, x: WavCondition) -> torch.Tensor:
        """Features [B, Tc, dim] of the batch."""

    @abstractmethod
    def _downsampling_factor(self) -> float:
        """Input samples per feature step (to turn lengths in samples into steps)."""

    def forward(self, x: WavCondition) -> ConditionType:
        with torch.no_grad():
            feats = self._get_wav_embedding(x)  # [B, Tc, dim]
        embeds = self.output_proj(feats.to(self.output_proj.weight))  # [B, Tc, D]
        if self.use_masking:
            steps = torch.ceil(x.length.float() / self._downsampling_factor()).long()
            mask = length_to_mask(steps, max_len=embeds.shape[1]).long()  # [B, Tc]
        else:
            mask = torch.ones_like(embeds[..., 0], dtype=torch.long)  # [B, Tc]
        embeds = embeds * mask.unsqueeze(-1)
        return embeds, mask


# Conditioner model name (`conditioners.NAME.model`) -> conditioner class.
CONDITIONERS: Registry[type[BaseConditioner]] = Registry("conditioner model")
