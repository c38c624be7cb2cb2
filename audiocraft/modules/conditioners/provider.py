"""ConditioningProvider: batches the attributes of many samples and runs every conditioner.

Two steps, so that tokenization (string handling, CPU work) can happen in a data loader
and only `forward` runs on the model's device:

    tokenized = provider.tokenize(attributes)      # list[ConditioningAttributes] -> dict
    conditions = provider(tokenized)               # -> {name: (emb [B, Tc, D], mask [B, Tc])}
"""

from __future__ import annotations

import typing as tp
from collections import defaultdict

import torch
from torch import nn

from .attributes import (
    ConditioningAttributes,
    ConditionType,
    JointEmbedCondition,
    WavCondition,
    null_wav_condition,
)
from .base import BaseConditioner, TextConditioner, WaveformConditioner


def _pad_stack(wavs: list[torch.Tensor]) -> torch.Tensor:
    """Stack 1-D tensors [T_i] into [B, max T_i], zero-padded at the end."""
    max_len = max(w.shape[-1] for w in wavs)
    out = wavs[0].new_zeros(len(wavs), max_len)  # [B, T]
    for i, w in enumerate(wavs):
        out[i, : w.shape[-1]] = w
    return out


class ConditioningProvider(nn.Module):
    """Holds the conditioners of a model, one per attribute name.

    Args:
        conditioners: attribute name -> conditioner; text conditioners read
            `attributes.text[name]`, waveform conditioners `attributes.wav[name]`, others
            `attributes.joint_embed[name]`.
        device: where tokenized tensors are placed.

    A text attribute missing from a sample counts as null (None). A missing waveform
    attribute counts as the null wav (silent, length 0): a melody model runs without a
    melody this way. Attribute names no conditioner knows raise a ValueError.
    """

    def __init__(
        self, conditioners: dict[str, BaseConditioner], device: str | torch.device = "cpu"
    ):
        super().__init__()
        self.device = torch.device(device)
        self.conditioners = nn.ModuleDict(conditioners)

    @property
    def text_conditions(self) -> list[str]:
        return [k for k, v in self.conditioners.items() if isinstance(v, TextConditioner)]

    @property
    def wav_conditions(self) -> list[str]:
        return [k for k, v in self.conditioners.items() if isinstance(v, WaveformConditioner)]

    @property
    def joint_embed_conditions(self) -> list[str]:
        return [
            k for k, v in self.conditioners.items()
            if not isinstance(v, (TextConditioner, WaveformConditioner))
        ]

    @property
    def has_wav_condition(self) -> bool:
        return len(self.wav_conditions) > 0

    def _check_names(self, inputs: list[ConditioningAttributes]) -> None:
        known = {
            "text": set(self.text_conditions),
            "wav": set(self.wav_conditions),
            "joint_embed": set(self.joint_embed_conditions),
        }
        for sample in inputs:
            if not isinstance(sample, ConditioningAttributes):
                raise TypeError(
                    f"Expected a list of ConditioningAttributes, got an item of type "
                    f"{type(sample).__name__}."
                )
            for kind, names in sample.attributes.items():
                unknown = set(names) - known[kind]
                if unknown:
                    raise ValueError(
                        f"Unknown {kind} condition(s) {sorted(unknown)}: this model's {kind} "
                        f"conditioners are {sorted(known[kind])}. Remove the attribute or "
                        "use a model conditioned on it."
                    )

    def tokenize(self, inputs: list[ConditioningAttributes]) -> dict[str, tp.Any]:
        """Collate B samples per attribute and tokenize each with its conditioner.

        Returns: attribute name -> the conditioner's tokenized batch (in the order text,
        wav, joint_embed; the order prepend fusion stacks conditions in).
        """
        self._check_names(inputs)
        batches: dict[str, tp.Any] = {}
        batches.update(self._collate_text(inputs))
        batches.update(self._collate_wavs(inputs))
        batches.update(self._collate_joint_embeds(inputs))
        return {name: self._get(name).tokenize(batch) for name, batch in batches.items()}

    def _get(self, name: str) -> BaseConditioner:
        conditioner = self.conditioners[name]
        assert isinstance(conditioner, BaseConditioner)
        return conditioner

    def forward(self, tokenized: dict[str, tp.Any]) -> dict[str, ConditionType]:
        """Embed every tokenized attribute: name -> (emb [B, Tc, D], mask [B, Tc])."""
        unknown = set(tokenized) - set(self.conditioners.keys())
        if unknown:
            raise ValueError(f"No conditioner for tokenized attribute(s) {sorted(unknown)}.")
        return {name: self._get(name)(inputs) for name, inputs in tokenized.items()}

    def _collate_text(self, samples: list[ConditioningAttributes]) -> dict[str, list[str | None]]:
        out: dict[str, list[str | None]] = defaultdict(list)
        for sample in samples:
            for name in self.text_conditions:
                out[name].append(sample.text.get(name))
        return dict(out)

    def _collate_wavs(self, samples: list[ConditioningAttributes]) -> dict[str, WavCondition]:
        out: dict[str, WavCondition] = {}
        for name in self.wav_conditions:
            conditioner = self.conditioners[name]
            assert isinstance(conditioner, WaveformConditioner)
            wavs, lengths, rates, paths, seeks = [], [], [], [], []
            for sample in samples:
                cond = sample.wav.get(name)
                if cond is None:
                    cond = null_wav_condition(1, conditioner.sample_rate)
                wav = cond.wav
                if wav.dim() != 3 or wav.shape[0] != 1:
                    raise ValueError(
                        f"Wav condition {name!r} of one sample must be [1, C, T], got shape "
                        f"{tuple(wav.shape)}: add the batch dimension with wav[None]."
                    )
                # Conditioning is mono: average channels.
                wavs.append(wav.mean(dim=1).flatten())  # [T]
                lengths.append(cond.length.reshape(-1)[:1])
                rates.extend(list(cond.sample_rate)[:1])
                paths.extend(list(cond.path)[:1] or [None])
                seeks.extend(list(cond.seek_time)[:1] or [None])
            out[name] = WavCondition(
                _pad_stack(wavs).unsqueeze(1),  # [B, 1, T]
                torch.cat(lengths).to(self.device),  # [B]
                rates, paths, seeks,
            )
        return out

    def _collate_joint_embeds(
        self, samples: list[ConditioningAttributes]
    ) -> dict[str, JointEmbedCondition]:
        out: dict[str, JointEmbedCondition] = {}
        for name in self.joint_embed_conditions:
            wavs, texts, lengths, rates, paths, seeks = [], [], [], [], [], []
            for sample in samples:
                if name not in sample.joint_embed:
                    raise ValueError(f"Sample lacks joint-embedding condition {name!r}.")
                cond = sample.joint_embed[name]
                wavs.append(cond.wav.mean(dim=1).flatten())  # [T]
                texts.extend(list(cond.text)[:1])
                lengths.append(cond.length.reshape(-1)[:1])
                rates.extend(list(cond.sample_rate)[:1])
                paths.extend(list(cond.path)[:1] or [None])
                seeks.extend(list(cond.seek_time)[:1] or [None])
            out[name] = JointEmbedCondition(
                _pad_stack(wavs).unsqueeze(1), texts, torch.cat(lengths).to(self.device),
                rates, paths, seeks,
            )
        return out
