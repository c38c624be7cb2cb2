"""Conditioning attributes: what one sample is conditioned on, before any tokenization.

A sample's `ConditioningAttributes` groups its conditions by kind: free text (`text`),
waveforms such as a melody (`wav`) and joint text/audio embeddings (`joint_embed`). The
`ConditioningProvider` collates a list of them into batches, one per attribute name.

A *null* condition is what classifier-free guidance and condition dropout use in place of
a real one: `None` text, and for waveforms a one-sample silent wav of length 0 (see
`nullify_wav`). Conditioners turn null conditions into all-zero embeddings with mask 0.
"""

from __future__ import annotations

import typing as tp
from dataclasses import dataclass, field

import torch

# A conditioner's output: (embedding [B, Tc, D], mask [B, Tc]) with mask 1 on valid steps.
ConditionType = tuple[torch.Tensor, torch.Tensor]


class WavCondition(tp.NamedTuple):
    """A waveform condition (e.g. a melody), for one sample or a collated batch.

    Attributes:
        wav: audio [B, C, T] (B = 1 for one sample's attributes).
        length: valid samples per item [B] (long); 0 marks a null condition.
        sample_rate: sample rate per item (B entries).
        path: source file per item, or None.
        seek_time: start time in the source file (seconds) per item, or None.
    """

    wav: torch.Tensor
    length: torch.Tensor
    sample_rate: list[int]
    path: list[str | None] = []
    seek_time: list[float | None] = []


class JointEmbedCondition(tp.NamedTuple):
    """A condition embedded jointly from audio and text (e.g. CLAP), one sample or a batch.

    Attributes:
        wav: audio [B, C, T]; text: one description per item (or None);
        length: valid samples per item [B]; sample_rate, path, seek_time as in WavCondition.
    """

    wav: torch.Tensor
    text: list[str | None]
    length: torch.Tensor
    sample_rate: list[int]
    path: list[str | None] = []
    seek_time: list[float | None] = []


@dataclass
class ConditioningAttributes:
    """All conditions of one sample, keyed by attribute name within each kind.

    Example: `ConditioningAttributes(text={"description": "calm piano"},
    wav={"self_wav": WavCondition(melody[None], torch.tensor([melody.shape[-1]]), [32000])})`
    where `melody` is [C, T].
    """

    text: dict[str, str | None] = field(default_factory=dict)
    wav: dict[str, WavCondition] = field(default_factory=dict)
    joint_embed: dict[str, JointEmbedCondition] = field(default_factory=dict)

    def __getitem__(self, item: str) -> tp.Any:
        return getattr(self, item)

    @property
    def text_attributes(self) -> tp.KeysView[str]:
        return self.text.keys()

    @property
    def wav_attributes(self) -> tp.KeysView[str]:
        return self.wav.keys()

    @property
    def joint_embed_attributes(self) -> tp.KeysView[str]:
        return self.joint_embed.keys()

    @property
    def attributes(self) -> dict[str, tp.KeysView[str]]:
        """Attribute names per kind: {"text": ..., "wav": ..., "joint_embed": ...}."""
        return {
            "text": self.text_attributes,
            "wav": self.wav_attributes,
            "joint_embed": self.joint_embed_attributes,
        }

    def to_flat_dict(self) -> dict[str, tp.Any]:
        """Flatten to {"text.description": ..., "wav.self_wav": ...}."""
        return {
            **{f"text.{k}": v for k, v in self.text.items()},
            **{f"wav.{k}": v for k, v in self.wav.items()},
            **{f"joint_embed.{k}": v for k, v in self.joint_embed.items()},
        }

    @classmethod
    def from_flat_dict(cls, x: dict[str, tp.Any]) -> ConditioningAttributes:
        """Inverse of `to_flat_dict`."""
        out = cls()
        for key, value in x.items():
            kind, _, name = key.partition(".")
            if kind not in ("text", "wav", "joint_embed") or not name:
                raise ValueError(
                    f"Bad flat attribute key {key!r}: expected 'text.NAME', 'wav.NAME' "
                    "or 'joint_embed.NAME'."
                )
            getattr(out, kind)[name] = value
        return out


def null_wav_condition(batch_size: int = 1, sample_rate: int = 32000,
                       device: torch.device | str | None = None) -> WavCondition:
    """A null waveform condition: silent [B, 1, 1] wav with length 0."""
    return WavCondition(
        wav=torch.zeros(batch_size, 1, 1, device=device),  # [B, 1, 1]
        length=torch.zeros(batch_size, dtype=torch.long, device=device),  # [B]
        sample_rate=[sample_rate] * batch_size,
        path=[None] * batch_size,
        seek_time=[None] * batch_size,
    )


def nullify_wav(cond: WavCondition) -> WavCondition:
    """Replace a waveform condition by its null version (same batch size and sample rate)."""
    batch = cond.wav.shape[0]
    return WavCondition(
        wav=torch.zeros(*cond.wav.shape[:-1], 1, dtype=cond.wav.dtype,
                        device=cond.wav.device),  # [B, C, 1]
        length=torch.zeros(batch, dtype=torch.long, device=cond.wav.device),  # [B]
        sample_rate=list(cond.sample_rate),
        path=[None] * batch,
        seek_time=[None] * batch,
    )


def nullify_joint_embed(embed: JointEmbedCondition) -> JointEmbedCondition:
    """Replace a joint-embedding condition by its null version (silent wav, no text)."""
    batch = embed.wav.shape[0]
    return JointEmbedCondition(
        wav=torch.zeros(*embed.wav.shape[:-1], 1, dtype=embed.wav.dtype,
                        device=embed.wav.device),  # [B, C, 1]
        text=[None] * batch,
        length=torch.zeros(batch, dtype=torch.long, device=embed.wav.device),  # [B]
        sample_rate=list(embed.sample_rate),
        path=[None] * batch,
        seek_time=[None] * batch,
    )


def length_to_mask(lengths: torch.Tensor, max_len: int | None = None) -> torch.Tensor:
    """Boolean mask [B, max_len], True on the first `lengths[b]` steps of row b."""
    if max_len is None:
        max_len = int(lengths.max().item()) if lengths.numel() else 0
    steps = torch.arange(max_len, device=lengths.device)  # [T]
    return steps[None, :] < lengths[:, None]  # [B, T]
