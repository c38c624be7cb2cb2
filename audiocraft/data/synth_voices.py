"""Sound sources of the synthetic music: drum hits and pitched timbres (numpy, mono).

Pitched voices are additive (band-limited: no harmonic above Nyquist) so their pitch is
unambiguous to a chromagram; drums are short noise/sweep hits with sharp attacks so an
onset detector finds the beat. Every function returns float64 ``[T]`` at ``sr``.
"""

from __future__ import annotations

import numpy as np

# Timbres with their harmonic amplitude laws and envelope shapes.
TIMBRES = ("sine", "triangle", "square", "saw", "organ", "pluck", "epiano", "pad")
_TABLE = 4096  # samples per period of the wavetables


def midi_to_hz(note: float) -> float:
    """MIDI note number to frequency (A4 = 69 = 440 Hz, equal temperament)."""
    return 440.0 * 2.0 ** ((note - 69) / 12.0)


def _harmonics(timbre: str, f0: float, sr: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(harmonic numbers, amplitudes, decay rates per second) for a timbre."""
    max_k = max(1, int((0.45 * sr) // f0))
    k = np.arange(1, min(max_k, 24) + 1, dtype=np.float64)
    decay = np.zeros_like(k)
    if timbre == "sine":
        amp = (k == 1).astype(np.float64)
    elif timbre == "triangle":
        amp = np.where(k % 2 == 1, 1.0 / k**2, 0.0)
    elif timbre == "square":
        amp = np.where(k % 2 == 1, 1.0 / k, 0.0) * 0.7
    elif timbre == "saw":
        amp = 0.6 / k
    elif timbre == "organ":
        amp = np.select([k == 1, k == 2, k == 3, k == 4], [1.0, 0.6, 0.35, 0.2], 0.0)
    elif timbre == "pluck":
        amp = 1.0 / k
        decay = 2.0 + 1.5 * k  # upper partials die first, like a plucked string
    elif timbre == "epiano":
        amp = np.select([k == 1, k == 2, k == 3, k == 4], [1.0, 0.35, 0.12, 0.05], 0.0)
        decay = 1.5 + 2.0 * k
    elif timbre == "pad":
        amp = 0.5 / k**1.5
    else:
        raise ValueError(f"Unknown timbre {timbre!r}: use one of {TIMBRES}.")
    return k, amp, decay


def tone(
    note: float, duration: float, sr: int, timbre: str = "sine", velocity: float = 1.0,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """One note: ``duration`` seconds of MIDI ``note`` plus a short release, ``[T]``."""
    f0 = midi_to_hz(note)
    attack = {"pad": 0.08, "organ": 0.01, "pluck": 0.003, "epiano": 0.003}.get(timbre, 0.006)
    release = 0.12 if timbre == "pad" else 0.03
    n = max(1, int(round((duration + release) * sr)))
    t = np.arange(n) / sr
    k, amp, decay = _harmonics(timbre, f0, sr)
    keep = amp > 0
    k, amp, decay = k[keep], amp[keep], decay[keep]
    phases = (rng.uniform(0, 2 * np.pi, len(k)) if rng is not None else np.zeros(len(k)))
    detune = 1.0 + (0.002 * np.sin(2 * np.pi * 5.0 * t) if timbre == "pad" else 0.0)
    cycles = f0 * t * detune  # [T] phase in periods
    if not decay.any():
        # A fixed spectrum repeats every period: read one period from a table (linear
        # interpolation), far cheaper than a sine per harmonic per sample.
        x = np.arange(_TABLE) / _TABLE
        table = (amp[:, None] * np.sin(2 * np.pi * k[:, None] * x[None, :] + phases[:, None])
                 ).sum(axis=0)  # [_TABLE]
        pos = (cycles % 1.0) * _TABLE
        i0 = pos.astype(np.int64)
        frac = pos - i0
        wave = table[i0] * (1 - frac) + table[(i0 + 1) % _TABLE] * frac
    else:
        partials = amp[:, None] * np.exp(-decay[:, None] * t[None, :]) * np.sin(
            2 * np.pi * k[:, None] * cycles[None, :] + phases[:, None]
        )  # [harmonics, T]
        wave = partials.sum(axis=0)
    env = np.minimum(1.0, t / attack)
    held = t <= duration
    env = env * np.where(held, 1.0, np.exp(-(t - duration) / (release / 4)))
    if timbre in ("pluck", "epiano"):
        env = env * np.exp(-1.2 * t)
    return velocity * wave * env


def kick(sr: int, velocity: float = 1.0) -> np.ndarray:
    """Bass drum: a sine sweeping 150 -> 45 Hz with a fast decay, ``[T]``."""
    t = np.arange(int(0.35 * sr)) / sr
    freq = 45.0 + 105.0 * np.exp(-t / 0.03)
    phase = 2 * np.pi * np.cumsum(freq) / sr
    click = np.exp(-t / 0.002)
    return velocity * (np.sin(phase) * np.exp(-t / 0.09) + 0.3 * click)


def snare(sr: int, rng: np.random.Generator, velocity: float = 1.0) -> np.ndarray:
    """Snare: a 190 Hz body and high-passed noise, ``[T]``."""
    t = np.arange(int(0.2 * sr)) / sr
    noise = np.diff(rng.standard_normal(len(t) + 1))
    body = np.sin(2 * np.pi * 190 * t) * np.exp(-t / 0.04)
    return velocity * (0.5 * body + 0.35 * noise * np.exp(-t / 0.05))


def hihat(
    sr: int, rng: np.random.Generator, velocity: float = 1.0, open_: bool = False
) -> np.ndarray:
    """Hi-hat: twice-differentiated (very bright) noise, short or open, ``[T]``."""
    length = 0.25 if open_ else 0.06
    t = np.arange(int(length * sr)) / sr
    noise = np.diff(rng.standard_normal(len(t) + 2), n=2) / 2
    return velocity * 0.25 * noise * np.exp(-t / (length / 4))


def add_at(buffer: np.ndarray, sound: np.ndarray, start: int, gain: float = 1.0) -> None:
    """Mix ``sound`` into ``buffer`` from sample ``start`` on (cut at the end)."""
    if start >= len(buffer):
        return
    end = min(len(buffer), start + len(sound))
    buffer[start:end] += gain * sound[: end - start]
