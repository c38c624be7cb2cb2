"""The synthetic music's melody stem and its free-tempo option (varied captions)."""

import json

import numpy as np
import pytest
import torch

from audiocraft.data.audio import audio_read
from audiocraft.data.music_dataset import MusicDataset
from audiocraft.data.synth import (
    GENRES,
    generate_piece,
    generate_piece_stems,
    make_spec,
    write_dataset,
)
from audiocraft.data.synth_captions import FREE_BPM

SR = 8000


def test_default_pieces_are_unchanged_by_the_options():
    # The first held-out piece of the toy model's evaluation, as MODEL_CARD.md names it.
    audio, spec = generate_piece(0, 1000, 1.0, SR)
    assert spec.description == ("A melancholic pop track in G minor at 109 BPM, with soft "
                                "triangle lead, electric piano, sub bass and drums.")
    stems, spec2 = generate_piece_stems(0, 1000, 1.0, SR)
    assert spec2 == spec and np.array_equal(stems["mix"], audio)


def test_melody_stem_is_the_lead_alone_at_its_level():
    stems, _ = generate_piece_stems(2, 0, 3.0, SR)
    melody, mix = stems["melody"], stems["mix"]
    assert melody.shape == mix.shape and np.abs(melody).max() > 0.05
    # The mix holds more than the melody (drums, bass, chords), and the melody is in it.
    assert np.abs(mix - melody).max() > 0.1
    assert np.abs(melody).max() <= np.abs(mix).max() + 1e-9


def test_free_tempo_spreads_every_genre_and_varies_the_wording():
    specs = [make_spec(np.random.default_rng([0, i]), i, 1.0, SR, free_tempo=True)
             for i in range(120)]
    for genre in GENRES:
        bpms = [s.bpm for s in specs if s.genre == genre]
        assert bpms and all(FREE_BPM[0] <= b <= FREE_BPM[1] for b in bpms)
    outside = [s for s in specs if not GENRES[s.genre].bpm[0] <= s.bpm <= GENRES[s.genre].bpm[1]]
    assert len(outside) > len(specs) // 3
    texts = [s.description for s in specs]
    assert any(t == t.lower() for t in texts) and any("bpm" in t for t in texts)
    assert len({t.split(str(s.bpm))[0][:12] for t, s in zip(texts, specs)}) > 10
    for s in specs:
        assert str(s.bpm) in s.description


def test_written_melody_stem_feeds_the_melody_condition(tmp_path):
    write_dataset(tmp_path, num=2, duration=2.0, seed=0, sample_rate=SR, melody_stem=True)
    sidecar = json.loads((tmp_path / "piece_0000.wav.json").read_text())
    assert sidecar["melody_path"] == "piece_0000.melody.wav"
    stem, sr = audio_read(tmp_path / "piece_0000.melody.wav")
    ds = MusicDataset.from_meta(tmp_path, segment_duration=1.0, num_samples=2, sample_rate=SR,
                                min_segment_ratio=1.0)
    wav, info = ds[0]
    cond = info.self_wav.wav[0]  # [C, T]
    assert cond.shape == wav.shape and not torch.allclose(cond, wav)
    # The condition is the stem's segment at the segment's own time.
    start = int(round(info.seek_time * SR))
    index = 0 if info.meta.path.endswith("piece_0000.wav") else 1
    stem, _ = audio_read(tmp_path / f"piece_{index:04d}.melody.wav")
    torch.testing.assert_close(cond, stem[:, start:start + wav.shape[-1]], atol=1e-4, rtol=0)
    # Without the stem the condition is the mix, as before.
    (tmp_path / "piece_0000.melody.wav").unlink()
    (tmp_path / "piece_0001.melody.wav").unlink()
    try:
        ds[0]
    except FileNotFoundError as err:
        assert "melody-stem" in str(err)
    else:
        raise AssertionError("a missing melody stem must be reported")


def test_parts_sum_to_the_mix_and_stereo_pans_them(tmp_path):
    from audiocraft.data.synth import stereo_mix

    stems, spec = generate_piece_stems(3, 0, 2.0, SR)
    parts = stems["drums"] + stems["bass"] + stems["chords"] + stems["lead"]
    np.testing.assert_allclose(parts, stems["mix"], atol=1e-12)
    np.testing.assert_array_equal(stems["lead"], stems["melody"])
    stereo = stereo_mix(stems, spec.seed)
    assert stereo.shape == (2, len(stems["mix"])) and np.abs(stereo).max() <= 0.9 + 1e-9
    left, right = stereo
    assert np.abs(left - right).max() > 0.05  # the channels differ...
    assert np.corrcoef(left, right)[0, 1] > 0.5  # ...around a shared middle (drums, bass)
    # The lead and the chords sit on opposite sides.
    lead_side = np.sign(np.abs(stereo @ stems["lead"])[1] - np.abs(stereo @ stems["lead"])[0])
    chords_side = np.sign(np.abs(stereo @ stems["chords"])[1]
                          - np.abs(stereo @ stems["chords"])[0])
    assert lead_side == -chords_side != 0
    np.testing.assert_array_equal(stereo, stereo_mix(stems, spec.seed))  # reproducible
    write_dataset(tmp_path, num=1, duration=2.0, seed=0, sample_rate=SR, channels=2)
    wav, _ = audio_read(tmp_path / "piece_0000.wav")
    assert wav.shape[0] == 2 and (wav[0] - wav[1]).abs().max() > 0.05


def test_a_piece_can_be_asked_for_a_genre_and_tempo():
    rng = np.random.default_rng([5, 1])
    drawn = make_spec(np.random.default_rng([5, 1]), 1, 1.0, SR, free_tempo=True)
    other = next(g for g in GENRES if g != drawn.genre)
    spec = make_spec(rng, 1, 1.0, SR, free_tempo=True, genre_name=other, bpm=77)
    assert spec.genre == other and spec.bpm == 77 and "77" in spec.description
    assert spec.key == drawn.key  # the other labels are drawn as before
    with pytest.raises(ValueError, match="polka.*plays house"):
        make_spec(np.random.default_rng(0), 0, 1.0, SR, genre_name="polka")
