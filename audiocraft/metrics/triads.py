"""Major and minor triads as a probe of pitch detail: a set of them rendered with the
synthetic music's instruments, whether each one's third still reads right, and how the
levels of its root and third change through a codec.

A mode the codec cannot carry, no LM can generate: the toy model's evaluation
(``scripts/eval_toy_model.py``) scores its codec on these.
"""

from __future__ import annotations

import numpy as np
import torch

from ..data.synth import INSTRUMENT_NAMES
from ..data.synth_voices import tone
from .music import salience_profile


def triad_set(sample_rate: int, seconds: float = 2.0, drop_third: bool = False
              ) -> tuple[torch.Tensor, list[tuple[int, str]]]:
    """Triads ``[N, 1, T]`` and their (root pitch class, "major"/"minor"): every chord
    instrument of the synthetic set x 12 roots (C4 to B4) x both qualities, each over its
    root two octaves down on a bass instrument, at the levels the set mixes them (bass
    0.8; chords 0.35 at velocity 0.5), normalised to a 0.9 peak. `drop_third` leaves the
    thirds out (root and fifth only; labels unchanged): what a codec that loses them
    would return."""
    n = int(seconds * sample_rate)
    basses = sorted(INSTRUMENT_NAMES["bass"])
    wavs, labels = [], []
    for i, timbre in enumerate(sorted(INSTRUMENT_NAMES["chords"])):
        for pc in range(12):
            for quality, third in (("major", 4), ("minor", 3)):
                x = np.zeros(n)
                bass = tone(36 + pc, 0.95 * seconds, sample_rate, basses[(i + pc) % len(basses)])
                x[: min(n, len(bass))] += 0.8 * bass[:n]
                for interval in (0, 7) if drop_third else (0, third, 7):
                    note = tone(60 + pc + interval, 0.95 * seconds, sample_rate, timbre, 0.5)
                    x[: min(n, len(note))] += 0.35 * note[:n]
                wavs.append(torch.from_numpy(0.9 * x / np.abs(x).max()).float()[None])
                labels.append((pc, quality))
    return torch.stack(wavs), labels


def triad_quality(wavs: torch.Tensor, labels: list[tuple[int, str]], sample_rate: int
                  ) -> float:
    """Share of triads ``wavs [N, 1, T]`` whose third reads as labelled: a major triad's
    major-third pitch class has more salience (the key estimator's profile) than its
    minor third, a minor triad's the reverse."""
    right = 0
    for wav, (pc, quality) in zip(wavs, labels):
        profile = salience_profile(wav, sample_rate)
        heard = "major" if profile[(pc + 4) % 12] > profile[(pc + 3) % 12] else "minor"
        right += heard == quality
    return right / len(labels)


def partial_level_change(wavs: torch.Tensor, recon: torch.Tensor,
                         labels: list[tuple[int, str]], sample_rate: int) -> dict[str, float]:
    """Median level change (dB, reconstruction minus original) of the fundamentals of the
    triads ``wavs [N, 1, T]``: the chord's root (C4 over a C2 bass: the bass's 4th
    harmonic) and its third, major (within a bin of the bass's 5th harmonic) and minor (on
    no harmonic of the bass). Levels are the spectrum's peak within a bin of the note, over the
    middle of each clip, relative to the clip's loudest bin. A codec that plays minor
    thirds as major thirds keeps the root and the major third and loses the minor
    third."""
    n = 1 << int(np.log2(wavs.shape[-1] // 2))
    start = (wavs.shape[-1] - n) // 2
    window = np.hanning(n)
    freqs = np.fft.rfftfreq(n, 1.0 / sample_rate)

    def level_db(x: torch.Tensor, midi: int) -> float:
        mag = np.abs(np.fft.rfft(x[0, start: start + n].numpy() * window))
        b = int(np.argmin(np.abs(freqs - 440.0 * 2.0 ** ((midi - 69) / 12.0))))
        return float(20 * np.log10(mag[b - 1: b + 2].max() / mag.max() + 1e-12))

    change: dict[str, list[float]] = {"root": [], "major third": [], "minor third": []}
    for orig, rec, (pc, quality) in zip(wavs, recon, labels):
        third = 60 + pc + (4 if quality == "major" else 3)
        for name, midi in (("root", 60 + pc), (f"{quality} third", third)):
            change[name].append(level_db(rec, midi) - level_db(orig, midi))
    return {name: float(np.median(v)) for name, v in change.items()}
