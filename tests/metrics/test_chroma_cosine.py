"""Chroma cosine similarity on synthetic chords."""

import math

import pytest
import torch

from audiocraft.metrics.chroma_cosine import ChromaCosineSimilarity

SR = 32000


def chord(midis, seconds=2.0, sr=SR):
    t = torch.arange(int(seconds * sr)) / sr
    wav = sum(torch.sin(2 * math.pi * 440 * 2 ** ((m - 69) / 12) * t) for m in midis)
    return (wav / len(midis))[None, None]  # [1, 1, T]


C_MAJOR, F_SHARP_MAJOR, A_MINOR = (60, 64, 67), (66, 70, 73), (57, 60, 64)


def _score(gen, ref, **kwargs):
    metric = ChromaCosineSimilarity()
    metric.update(gen, ref, **kwargs)
    return metric.compute()["chroma_cosine"]


def test_same_chord_is_one_and_other_chords_lower():
    c = chord(C_MAJOR)
    assert _score(c, c, sample_rate=SR) == pytest.approx(1.0, abs=1e-6)
    # The same pitch classes an octave up and in stereo still match.
    up = chord([m + 12 for m in C_MAJOR]).expand(1, 2, -1)
    assert _score(up, c, sample_rate=SR) > 0.9
    shared_two = _score(chord(A_MINOR), c, sample_rate=SR)  # A minor shares C and E
    disjoint = _score(chord(F_SHARP_MAJOR), c, sample_rate=SR)  # no common pitch class
    assert disjoint < shared_two < 0.95
    assert disjoint < 0.3


def test_frames_are_weighted_and_sizes_respected():
    c, fs = chord(C_MAJOR), chord(F_SHARP_MAJOR)
    metric = ChromaCosineSimilarity()
    # Item 0 matches for its whole length; item 1 is cut to its first 0.5 s.
    metric.update(torch.cat([c, fs]), torch.cat([c, c]), sample_rate=SR,
                  sizes=torch.tensor([c.shape[-1], SR // 2]))
    frames_0 = math.ceil(c.shape[-1] / 4096)  # hop 4096 at 32 kHz
    frames_1 = math.ceil(SR / 2 / 4096)
    assert float(metric.frames) == frames_0 + frames_1
    gen, ref = metric.extractor(fs[:, 0]), metric.extractor(c[:, 0])  # [1, frames, 12]
    cut = torch.nn.functional.cosine_similarity(gen[0, :frames_1], ref[0, :frames_1], dim=-1)
    assert metric.compute()["chroma_cosine"] == pytest.approx(
        (frames_0 + cut.sum().item()) / (frames_0 + frames_1), rel=1e-6)
    # Resampled input gives (nearly) the same score as input at the chroma rate.
    c16 = chord(C_MAJOR, sr=16000)
    assert _score(c16, c16, sample_rate=16000) == pytest.approx(1.0, abs=1e-6)
    # A melody at another rate than the generated audio, and longer: cut to the shorter.
    assert _score(c, chord(C_MAJOR, 3.0, sr=16000), sample_rate=SR,
                  melody_sample_rate=16000) == pytest.approx(1.0, abs=1e-4)
    mixed = ChromaCosineSimilarity()
    mixed.update(c, chord(C_MAJOR, 3.0, sr=16000), sample_rate=SR, melody_sample_rate=16000)
    assert float(mixed.frames) == math.ceil(c.shape[-1] / 4096)


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match=r"\[B, C, T\]"):
        ChromaCosineSimilarity().update(torch.zeros(2, 100), torch.zeros(2, 100), sample_rate=SR)
    with pytest.raises(ValueError, match="call update"):
        ChromaCosineSimilarity().compute()
