import json

import numpy as np
import pytest

from audiocraft.data.audio import audio_read
from audiocraft.data.manifest import load_audio_meta
from audiocraft.data.music_dataset import MusicDataset
from audiocraft.data.synth import generate_piece, main

SR = 32000


def test_synth_cli_writes_pieces_sidecars_and_manifest(tmp_path, capsys):
    out = tmp_path / "synth"
    assert main([str(out), "--num", "2", "--duration", "3", "--seed", "5"]) == 0
    metas = load_audio_meta(out / "data.jsonl")
    assert len(metas) == 2
    for m in metas:
        wav, sr = audio_read(m.path)
        assert sr == SR and wav.shape == (1, 3 * SR)  # 32 kHz mono by default
        labels = json.loads(open(m.info_path).read())
        for key in ("bpm", "key", "tonic", "mode", "instruments", "genre", "moods",
                    "description"):
            assert labels[key], key
        assert str(labels["bpm"]) in labels["description"]
        assert labels["key"] in labels["description"]
        assert labels["key"] == f"{labels['tonic']} {labels['mode']}"
    assert "piece_0000.wav:" in capsys.readouterr().out
    # The set loads as a music data set, labels as conditioning text.
    ds = MusicDataset.from_meta(out, segment_duration=1.0, num_samples=2, sample_rate=SR)
    _, info = ds[0]
    assert info.bpm is not None and info.key is not None and "drums" in info.instrument


def test_synth_is_reproducible_from_seed():
    a, spec_a = generate_piece(3, seed=11, duration=2.0)
    b, spec_b = generate_piece(3, seed=11, duration=2.0)
    c, _ = generate_piece(3, seed=12, duration=2.0)
    assert np.array_equal(a, b) and spec_a == spec_b
    assert a.shape == (2 * SR,) and not np.array_equal(a, c)
    with pytest.raises(ValueError, match="duration must be > 0"):
        generate_piece(0, seed=0, duration=0)
