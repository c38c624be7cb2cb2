"""audiocraft.metrics.triads: a triad's third reads right, and a lost third is caught."""

import pytest
import torch

from audiocraft.metrics import triads


def test_triads_read_their_quality_and_a_lost_third_is_caught():
    wavs, labels = triads.triad_set(8000, seconds=1.0)
    assert wavs.shape == (144, 1, 8000) and len(labels) == 144
    assert {q for _, q in labels} == {"major", "minor"}
    real = triads.triad_quality(wavs, labels, 8000)
    assert real >= 0.75  # the estimator's profile hears the third over the bass
    flipped = [(pc, "minor" if q == "major" else "major") for pc, q in labels]
    assert triads.triad_quality(wavs, flipped, 8000) == pytest.approx(1.0 - real)
    # A "codec" that drops everything above the bass octave loses the thirds: a coin toss
    # at best (the bass's 5th harmonic is a major third, so nearly all read major).
    spec = torch.fft.rfft(wavs, dim=-1)
    spec[..., int(200 * wavs.shape[-1] / 8000):] = 0
    lowpassed = torch.fft.irfft(spec, n=wavs.shape[-1], dim=-1)
    assert triads.triad_quality(lowpassed, labels, 8000) <= 0.6


def test_partial_levels_tell_a_lost_third_from_a_kept_root():
    wavs, labels = triads.triad_set(8000, seconds=1.0)
    same = triads.partial_level_change(wavs, wavs, labels, 8000)
    assert same == {"root": 0.0, "major third": 0.0, "minor third": 0.0}
    # The same chords without their third (root and fifth over the bass): the minor third
    # falls by tens of dB; the root barely moves (the peak level changes a little), nor
    # does the major third (the bass's 5th harmonic is within a bin of it).
    no_third, _ = triads.triad_set(8000, seconds=1.0, drop_third=True)
    lost = triads.partial_level_change(wavs, no_third, labels, 8000)
    assert lost["minor third"] < -15.0
    assert abs(lost["root"]) < 3.0 and lost["major third"] > lost["minor third"] + 10.0
