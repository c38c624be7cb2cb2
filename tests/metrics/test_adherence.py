"""Tempo and key adherence on pieces of the synthetic music with known labels."""

import numpy as np
import pytest
import torch

from audiocraft.data.synth import generate_piece
from audiocraft.metrics.adherence import KeyAdherence, TempoAdherence, labels_of, parse_key

SR = 8000


@pytest.fixture(scope="module")
def piece():
    wav, spec = generate_piece(0, 0, 6.0, SR)  # 82 bpm, D# minor
    return torch.from_numpy(np.asarray(wav, dtype=np.float32))[None, None], spec


def test_parse_key_and_labels():
    assert parse_key("A minor") == ("A", "minor")
    assert parse_key("Bb maj") == ("Bb", "major")
    assert parse_key("F#m") == ("F#", "minor")
    assert parse_key("C") == ("C", "major")
    assert parse_key(("E", "Minor")) == ("E", "minor")
    with pytest.raises(ValueError, match="key label"):
        parse_key("A minor please")
    assert labels_of({"bpm": "120", "key": "A minor"}) == (120.0, "A minor")
    assert labels_of({"bpm": None}) == (None, None)


def test_tempo_counts_exact_octave_wrong(piece):
    wav, spec = piece
    bpm, _ = labels_of(spec)
    metric = TempoAdherence()
    batch = wav.expand(4, 1, -1)
    metric.update(batch, [bpm, bpm * 2, bpm * 1.3, None], SR)
    metric.update(torch.zeros(1, 1, SR * 3), [100.0], SR)  # silence cannot be measured
    out = metric.compute()
    assert out["tempo_count"] == 4 and out["tempo_unlabelled"] == 1
    assert out["tempo_unmeasured"] == 1
    assert out["tempo_exact"] == 0.25 and out["tempo_octave"] == 0.25
    assert out["tempo_wrong"] == 0.5
    # The tolerance is configurable: 30% off counts as exact with a 35% tolerance.
    loose = TempoAdherence(tolerance=0.35)
    loose.update(wav, [bpm * 1.3], SR)
    assert loose.compute()["tempo_exact"] == 1.0


def test_key_counts_key_and_mode(piece):
    wav, spec = piece
    _, key = labels_of(spec.to_sidecar())
    assert key == "D# minor"
    metric = KeyAdherence(profiles="synthetic")
    metric.update(wav.expand(4, 1, -1), ["Eb minor", "A minor", "D# major", None], SR)
    out = metric.compute()
    assert out["key_count"] == 3 and out["key_unlabelled"] == 1
    assert out["key_accuracy"] == pytest.approx(1 / 3)
    assert out["mode_accuracy"] == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="no labelled clip"):
        KeyAdherence().compute()
