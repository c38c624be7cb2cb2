"""The tempo and key estimators of `audiocraft.metrics.music`: click tracks, plain cadences,
the labelled synthetic pieces, and the key profiles measured on them."""

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from audiocraft.data.synth import generate_piece
from audiocraft.metrics import synth_scores
from audiocraft.metrics.music import (
    KK_MINOR,
    SYNTH_MAJOR,
    SYNTH_MINOR,
    compare_tempo,
    estimate_bpm,
    estimate_key,
    fit_key_profiles,
    key_scores,
    normalize_tonic,
    same_key,
)

SR = 32000


@pytest.mark.parametrize("index", range(4))
def test_synthetic_labels_are_audible(index):
    """The first pieces of seed 0: tempo within 2% and the exact key."""
    audio, spec = generate_piece(index, seed=0, duration=6.0)
    wav = torch.from_numpy(audio).float()[None]  # [1, T]
    bpm = estimate_bpm(wav, SR)
    assert compare_tempo(bpm, spec.bpm, tolerance=0.02).kind == "exact", (bpm, spec.bpm)
    key = estimate_key(wav, SR)
    assert same_key(key, (spec.tonic, spec.mode)), (key, spec.key, spec.progression)


def _clicks(bpm: float, seconds: float, sr: int = 16000) -> torch.Tensor:
    wav = torch.zeros(int(seconds * sr))
    burst = torch.randn(200, generator=torch.Generator().manual_seed(0)) * 0.5
    for k in range(int(seconds * bpm / 60)):
        start = int(round(k * 60 / bpm * sr))
        wav[start: start + 200] += burst[: len(wav) - start]
    return wav


def test_tempo_estimator_on_a_click_track_and_octave_classes():
    assert estimate_bpm(_clicks(100.0, 8.0), 16000) == pytest.approx(100.0, rel=0.01)
    assert compare_tempo(121.0, 120.0).kind == "exact"
    assert compare_tempo(61.0, 120.0).kind == "octave"
    assert compare_tempo(239.0, 120.0).kind == "octave"
    assert compare_tempo(150.0, 120.0).kind == "wrong"
    with pytest.raises(ValueError, match="silent"):
        estimate_bpm(torch.zeros(16000 * 4), 16000)


def test_key_estimator_on_a_plain_cadence():
    # I-IV-V-I in B-flat major and its relative G minor's i-iv-V-i, sine tones.
    def chords(roots_and_thirds, sr=16000):
        out = []
        t = torch.arange(sr) / sr
        for notes in roots_and_thirds:
            out.append(sum(torch.sin(2 * math.pi * 440 * 2 ** ((n - 69) / 12) * t)
                           for n in notes) / len(notes))
        return torch.cat(out)
    major = chords([(58, 62, 65), (63, 67, 70), (65, 69, 72), (58, 62, 65)])
    minor = chords([(55, 58, 62), (60, 63, 67), (62, 66, 69), (55, 58, 62)])
    assert same_key(estimate_key(major, 16000), ("Bb", "major"))
    assert same_key(estimate_key(minor, 16000), ("G", "minor"))
    # The synthetic music's profiles read a plain cadence too.
    assert same_key(estimate_key(major, 16000, profiles="synthetic"), ("Bb", "major"))
    assert same_key(estimate_key(minor, 16000, profiles="synthetic"), ("G", "minor"))
    assert normalize_tonic("bb") == "A#"
    with pytest.raises(ValueError, match="Unknown pitch class"):
        normalize_tonic("H")


@pytest.fixture(scope="module")
def labelled_profiles():
    """(num, seed) -> salience profiles [num, 12] of 6 s pieces at 8 kHz, tonics, modes."""
    return lambda num, seed: synth_scores.labelled_profiles(num, seed, 6.0, 8000)


def test_synthetic_key_profiles_are_measured_from_training_pieces(labelled_profiles):
    """The shipped profiles come back from a sample of the pieces they were measured on,
    and differ from the probe-tone ratings where the synthesizer's overtones fall."""
    major, minor = fit_key_profiles(*labelled_profiles(96, 0))
    for fitted, shipped in ((major, SYNTH_MAJOR), (minor, SYNTH_MINOR)):
        assert np.corrcoef(fitted, shipped)[0, 1] > 0.99
        assert np.abs(fitted - shipped).max() < 0.06
        assert fitted[0] == 1.0  # tonic first, scaled to 1
    assert minor[3] > minor[4] and major[4] > major[3]  # the thirds tell the modes apart
    assert np.corrcoef(SYNTH_MINOR, KK_MINOR)[0, 1] < 0.95


def test_synthetic_key_profiles_read_held_out_keys_better(labelled_profiles):
    profiles, tonics, modes = labelled_profiles(64, 5000)
    right = {}
    for name in ("synthetic", "krumhansl"):
        best = [key_scores(p, name)[0] for p in profiles]
        right[name] = sum(same_key((b.tonic, b.mode), (t, m))
                          for b, t, m in zip(best, tonics, modes))
    assert right["synthetic"] >= 0.92 * 64 and right["synthetic"] > right["krumhansl"]
    # A (major, minor) pair works as well as a name.
    p = profiles[0]
    assert key_scores(p, (SYNTH_MAJOR, SYNTH_MINOR))[0] == key_scores(p, "synthetic")[0]


def test_key_profiles_bad_input_says_what_to_do():
    p = np.ones(12)
    with pytest.raises(ValueError, match="Unknown key profiles 'kk'"):
        key_scores(p, "kk")
    with pytest.raises(ValueError, match="two arrays of 12"):
        estimate_key(torch.randn(16000), 16000, profiles=(np.ones(12), np.ones(7)))
    with pytest.raises(ValueError, match="No minor piece"):
        fit_key_profiles(np.ones((2, 12)), ["C", "D"], ["major", "major"])
    with pytest.raises(ValueError, match=r"profiles \[N, 12\]"):
        fit_key_profiles(np.ones((2, 12)), ["C"], ["major", "minor"])


def test_fit_key_profiles_script_prints_profiles_and_accuracies():
    script = Path(__file__).resolve().parents[2] / "scripts" / "fit_key_profiles.py"
    run = subprocess.run([sys.executable, str(script), "--num", "24", "--check-num", "8",
                          "--check-seed", "5000"], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    out = run.stdout
    assert "SYNTH_MAJOR = np.array([1.000, " in out and "SYNTH_MINOR = np.array([" in out
    for name in ("measured here", "synthetic (shipped)", "krumhansl"):
        assert name in out
    assert "minor pieces: mode" in out
    bad = subprocess.run([sys.executable, str(script), "--num", "1"], capture_output=True,
                         text=True, timeout=600)
    assert bad.returncode == 2 and "--num must be at least 2" in bad.stderr
