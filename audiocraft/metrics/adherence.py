"""Tempo and key adherence: does generated music follow the bpm and key it was asked for?

Each clip's tempo and key are measured with the estimators of
:mod:`audiocraft.metrics.music` and compared with the sample's labels (``bpm`` and
``key`` of its ``MusicInfo`` / JSON sidecar, e.g. ``120`` and ``"A minor"``). Clips
without a label are counted apart and left out of the rates; clips the estimator cannot
measure (silence, too short) count as wrong and are also counted apart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torchmetrics import Metric

from audiocraft.metrics.music import compare_tempo, estimate_bpm, estimate_key, same_key

__all__ = ["parse_key", "labels_of", "TempoAdherence", "KeyAdherence"]

KeyLabel = str | tuple[str, str] | None


def parse_key(label: str | tuple[str, str]) -> tuple[str, str]:
    """``"A minor"`` / ``"Bb major"`` / ``("A", "minor")`` -> ``(tonic, mode)``; a bare
    tonic means major, a trailing ``m`` (``"Am"``) minor."""
    if isinstance(label, tuple):
        return label[0], label[1].lower()
    parts = label.replace(":", " ").split()
    if len(parts) == 2 and parts[1].lower() in ("major", "minor", "maj", "min"):
        return parts[0], "minor" if parts[1].lower().startswith("min") else "major"
    if len(parts) == 1 and parts[0]:
        if len(parts[0]) > 1 and parts[0].endswith("m"):
            return parts[0][:-1], "minor"
        return parts[0], "major"
    raise ValueError(f"Cannot read the key label {label!r}: write it like 'A minor'.")


def labels_of(info: Any) -> tuple[float | None, str | None]:
    """``(bpm, key)`` of a ``MusicInfo``, a sidecar dict or any object with those fields."""
    if isinstance(info, Mapping):
        bpm, key = info.get("bpm"), info.get("key")
    else:
        bpm, key = getattr(info, "bpm", None), getattr(info, "key", None)
    return (None if bpm in (None, "") else float(bpm)), (key or None)


def _items(wav: torch.Tensor, labels: Sequence[Any]) -> list[torch.Tensor]:
    if wav.dim() != 3 or wav.shape[0] != len(labels):
        raise ValueError(f"Expected wav [B, C, T] and B labels, got {tuple(wav.shape)} and "
                         f"{len(labels)} labels.")
    return list(wav.detach().cpu())


class TempoAdherence(Metric):
    """Share of clips whose measured tempo is the labelled one (within ``tolerance``,
    relative), an octave of it (x2, x1/2, x3, x1/3) or wrong.

    ``compute()`` returns ``{"tempo_exact", "tempo_octave", "tempo_wrong"}`` (rates over
    labelled clips), ``tempo_count`` (labelled clips), ``tempo_unlabelled`` and
    ``tempo_unmeasured`` (counted as wrong).
    """

    full_state_update = False
    higher_is_better = True
    is_differentiable = False
    exact: torch.Tensor
    octave: torch.Tensor
    wrong: torch.Tensor
    unlabelled: torch.Tensor
    unmeasured: torch.Tensor

    def __init__(self, tolerance: float = 0.04, min_bpm: float = 50.0, max_bpm: float = 220.0):
        super().__init__()
        self.tolerance, self.min_bpm, self.max_bpm = tolerance, min_bpm, max_bpm
        for name in ("exact", "octave", "wrong", "unlabelled", "unmeasured"):
            self.add_state(name, torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, wav: torch.Tensor, bpms: Sequence[float | None], sample_rate: int) -> None:
        """Audio ``wav [B, C, T]`` at ``sample_rate`` and its ``B`` labelled tempos."""
        for item, bpm in zip(_items(wav, bpms), bpms):
            if bpm is None:
                self.unlabelled += 1
                continue
            try:
                estimate = estimate_bpm(item, sample_rate, self.min_bpm, self.max_bpm)
            except ValueError:
                self.unmeasured += 1
                self.wrong += 1
                continue
            kind = compare_tempo(estimate, float(bpm), self.tolerance).kind
            setattr(self, kind, getattr(self, kind) + 1)

    def compute(self) -> dict[str, float]:
        n = float(self.exact + self.octave + self.wrong)
        if n == 0:
            raise ValueError("Tempo adherence has no labelled clip: give bpm labels.")
        return {"tempo_exact": float(self.exact) / n, "tempo_octave": float(self.octave) / n,
                "tempo_wrong": float(self.wrong) / n, "tempo_count": n,
                "tempo_unlabelled": float(self.unlabelled),
                "tempo_unmeasured": float(self.unmeasured)}


class KeyAdherence(Metric):
    """Share of clips whose measured key (tonic and mode) and mode alone are the labelled
    ones. ``method`` and ``profiles``: of :func:`~audiocraft.metrics.music.estimate_key`.

    ``compute()`` returns ``{"key_accuracy", "mode_accuracy"}`` (over labelled clips),
    ``key_count``, ``key_unlabelled`` and ``key_unmeasured`` (counted as wrong).
    """

    full_state_update = False
    higher_is_better = True
    is_differentiable = False
    key_right: torch.Tensor
    mode_right: torch.Tensor
    count: torch.Tensor
    unlabelled: torch.Tensor
    unmeasured: torch.Tensor

    def __init__(self, method: str = "salience",
                 profiles: str | tuple[Any, Any] = "krumhansl"):
        super().__init__()
        self.method, self.profiles = method, profiles
        for name in ("key_right", "mode_right", "count", "unlabelled", "unmeasured"):
            self.add_state(name, torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, wav: torch.Tensor, keys: Sequence[KeyLabel], sample_rate: int) -> None:
        """Audio ``wav [B, C, T]`` at ``sample_rate`` and its ``B`` key labels (``"A minor"``,
        ``("A", "minor")`` or None)."""
        for item, label in zip(_items(wav, keys), keys):
            if label is None:
                self.unlabelled += 1
                continue
            truth = parse_key(label)
            self.count += 1
            try:
                estimate = estimate_key(item, sample_rate, self.method, self.profiles)
            except ValueError:
                self.unmeasured += 1
                continue
            self.key_right += float(same_key(estimate, truth))
            self.mode_right += float(estimate[1] == truth[1])

    def compute(self) -> dict[str, float]:
        n = float(self.count)
        if n == 0:
            raise ValueError("Key adherence has no labelled clip: give key labels.")
        return {"key_accuracy": float(self.key_right) / n,
                "mode_accuracy": float(self.mode_right) / n, "key_count": n,
                "key_unlabelled": float(self.unlabelled),
                "key_unmeasured": float(self.unmeasured)}
