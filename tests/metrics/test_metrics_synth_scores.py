"""audiocraft.metrics.synth_scores: scoring clips against the synthetic music's labels counts
what it says; the labels of a written set are checked."""

import math

import pytest
import torch

from audiocraft.data.synth import generate_piece, write_dataset
from audiocraft.metrics import synth_scores
from audiocraft.metrics.synth_scores import ClipEstimate


def _labels(n):
    return [generate_piece(i, 1000, 1.0, 8000)[1] for i in range(n)]


def test_adherence_counts_exact_octave_mode_and_key():
    specs = _labels(4)
    est = [
        ClipEstimate(specs[0].bpm * 1.03, specs[0].tonic, specs[0].mode),  # all right
        ClipEstimate(specs[1].bpm * 2.0, "none", "none"),  # double tempo, no key
        ClipEstimate(specs[2].bpm * 1.06, specs[2].tonic,  # tempo 6% off, other mode
                     "major" if specs[2].mode == "minor" else "minor"),
        ClipEstimate(0.0, specs[3].tonic, specs[3].mode),  # no rhythm found
    ]
    a = synth_scores.adherence(est, specs)
    assert (a.tempo, a.tempo_octave, a.mode, a.key, a.n) == (0.25, 0.25, 0.5, 0.5, 4)
    assert a.tempo_median_error == pytest.approx((0.06 + 1.0) / 2)  # of 3%, 100%, 6%, none
    assert a.key_parallel == 0.25  # the third clip: right tonic, other mode
    assert math.isnan(a.mode_alt) and math.isnan(a.key_alt)  # no key read with the others
    # Keys read with the other profiles are counted apart.
    for e, spec, alt_mode in zip(est, specs, ("major", "minor", "major", "minor")):
        e.alt_tonic, e.alt_mode = spec.tonic, alt_mode
    a = synth_scores.adherence(est, specs)
    right = sum(m == s.mode for m, s in zip(("major", "minor", "major", "minor"), specs))
    assert a.mode_alt == a.key_alt == right / 4
    assert (a.mode, a.key) == (0.5, 0.5)


def test_clips_are_scored_with_the_chosen_key_profiles():
    # Piece 5 of seed 5000 (A minor): the probe-tone profiles hear A major, the synthetic
    # music's profiles A minor.
    audio, spec = generate_piece(5, 5000, 6.0, 8000)
    wav = torch.from_numpy(audio).float()[None]
    assert spec.key == "A minor"
    synth = synth_scores.estimate(wav, 8000, "synthetic", "krumhansl")
    assert (synth.tonic, synth.mode, synth.alt_tonic, synth.alt_mode) == ("A", "minor", "A",
                                                                          "major")
    kk = synth_scores.estimate(wav, 8000, "krumhansl")
    assert (kk.tonic, kk.mode, kk.alt_mode) == ("A", "major", "")
    minutes, _, _ = synth_scores.score_minutes(wav, 8000, "krumhansl")
    assert minutes == []  # under 10 s: too short to judge a minute
    long = torch.cat([wav] * 2, dim=-1)
    assert synth_scores.score_minutes(long, 8000, "synthetic")[0][0].key == "A minor"


def test_held_out_set_is_seeded_and_apart_from_training():
    wavs, specs = synth_scores.held_out_set(3, 1000, 1.0, 8000)
    again, _ = synth_scores.held_out_set(3, 1000, 1.0, 8000)
    train, _ = synth_scores.held_out_set(3, 0, 1.0, 8000)
    assert wavs.shape == (3, 1, 8000) and len(specs) == 3
    assert torch.equal(wavs, again)
    assert not torch.equal(wavs, train)


def test_check_labels_of_a_written_set(tmp_path, capsys):
    write_dataset(tmp_path / "set", num=2, duration=4.0, seed=0, sample_rate=16000)
    assert synth_scores.main([str(tmp_path / "set")]) == 0
    out = capsys.readouterr().out
    assert "tempo within 2%: " in out and out.strip().endswith("/2")
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "data.jsonl").write_text(
        '{"path": "a.wav", "duration": 1.0, "sample_rate": 16000}\n')
    with pytest.raises(ValueError, match="no label sidecar"):
        synth_scores.check_labels(tmp_path / "plain")
