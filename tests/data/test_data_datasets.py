import json
import logging
import math

import numpy as np
import pytest
import torch

from audiocraft.data.audio import audio_write
from audiocraft.data.audio_dataset import AudioDataset
from audiocraft.data.datamodule import AudioDataModule
from audiocraft.data.loader import ResumableSampler, StatefulDataLoader
from audiocraft.data.manifest import AudioMeta, build_manifest, save_audio_meta
from audiocraft.data.music_dataset import (
    MusicDataset,
    MusicInfo,
    augment_music_info_description,
    drop_description_tempo,
)

SR = 8000


def _write(root, name, seconds, freq, meta=None):
    t = torch.arange(int(seconds * SR)) / SR
    wav = 0.5 * torch.sin(2 * math.pi * freq * t)[None]  # [1, T]
    return audio_write(root / name, wav, SR, strategy="none", metadata=meta)


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "audio"
    for i, (seconds, freq) in enumerate([(2.0, 200), (3.0, 300), (1.0, 400)]):
        _write(root, f"f{i}", seconds, freq, {
            "title": f"song {i}", "artist": "tests", "key": "C major", "bpm": 100 + i,
            "genre": "pop", "moods": ["happy", "calm"], "keywords": "a, b",
            "description": f"tone number {i}", "instrument": "sine",
        })
    manifest = tmp_path / "data.jsonl"
    save_audio_meta(manifest, build_manifest(root).good)
    return manifest


def _items(ds, n=6):
    return torch.stack([ds[i] for i in range(n)])


def test_segments_reproducible_from_seed_and_new_each_epoch(folder):
    kwargs = dict(segment_duration=0.5, num_samples=6, sample_rate=SR, channels=1)
    a = AudioDataset.from_meta(folder, shuffle_seed=1, **kwargs)
    b = AudioDataset.from_meta(folder, shuffle_seed=1, **kwargs)
    c = AudioDataset.from_meta(folder, shuffle_seed=2, **kwargs)
    first = _items(a)
    assert first.shape == (6, 1, SR // 2)
    assert torch.equal(first, _items(b))  # same seed, same items
    assert not torch.equal(first, _items(c))  # other seed, other items
    a.set_epoch(1)
    assert not torch.equal(first, _items(a))  # a new epoch draws new segments
    a.set_epoch(0)
    assert torch.equal(first, _items(a))
    fixed = AudioDataset.from_meta(folder, shuffle=False, **kwargs)
    before = _items(fixed)
    fixed.set_epoch(3)
    assert torch.equal(before, _items(fixed))  # validation sets do not change


def test_padding_min_ratio_duration_filters_and_info(folder):
    ds = AudioDataset.from_meta(folder, segment_duration=2.0, num_samples=20, sample_rate=SR,
                                channels=2, min_segment_ratio=0.5, return_info=True)
    # A file must hold 2 s * 0.5 = 1 s: all three are long enough.
    assert len(ds.meta) == 3
    for i in range(20):
        wav, info = ds[i]
        assert wav.shape == (2, 2 * SR)  # converted to stereo, padded
        assert info.n_frames >= SR - 1  # at least min_segment_ratio of real audio
        if info.n_frames < 2 * SR:  # padded with zeros past the real audio
            assert wav[:, info.n_frames:].abs().max() == 0
        assert info.total_frames == 2 * SR and info.sample_rate == SR
    strict = AudioDataset.from_meta(folder, segment_duration=2.0, min_segment_ratio=0.9,
                                    sample_rate=SR)
    assert sorted(m.duration for m in strict.meta) == [2.0, 3.0]
    window = AudioDataset.from_meta(folder, min_audio_duration=1.5, max_audio_duration=2.5)
    assert [m.duration for m in window.meta] == [2.0]
    with pytest.raises(ValueError, match="No audio file left.*Lower segment_duration"):
        AudioDataset.from_meta(folder, segment_duration=10.0, min_segment_ratio=1.0)
    # Resampled on the fly: 8 kHz files read at 16 kHz.
    up = AudioDataset.from_meta(folder, segment_duration=0.5, sample_rate=2 * SR, channels=1)
    assert up[0].shape == (1, SR)


def test_whole_files_and_collate(folder):
    ds = AudioDataset.from_meta(folder, sample_rate=SR, channels=1, return_info=True)
    assert len(ds) == 3
    batch, infos = ds.collater([ds[i] for i in range(3)])
    assert batch.shape == (3, 1, 3 * SR)
    assert [i.n_frames for i in infos] == [int(m.duration * SR) for m in ds.meta]


def test_weights_steer_sampling(folder, tmp_path):
    metas = [AudioMeta(m.path, m.duration, m.sample_rate, weight=w)
             for m, w in zip(AudioDataset.from_meta(folder).meta, [1.0, 0.0, 0.0])]
    ds = AudioDataset(metas, segment_duration=0.5, num_samples=10, sample_rate=SR,
                      return_info=True, sample_on_duration=False)
    assert {ds[i][1].meta.path for i in range(10)} == {metas[0].path}


def test_corrupt_file_is_skipped_counted_and_logged(folder, tmp_path, caplog):
    metas = AudioDataset.from_meta(folder).meta
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF....garbage")
    metas = metas + [AudioMeta(str(broken), 100.0, SR)]  # most likely draw by duration
    ds = AudioDataset(metas, segment_duration=0.5, num_samples=8, sample_rate=SR,
                      return_info=True)
    with caplog.at_level(logging.WARNING):
        paths = [ds[i][1].meta.path for i in range(8)]
    assert str(broken) not in paths
    assert ds.read_failures >= 1 and ds.failed_paths == {str(broken)}
    assert "broken.wav" in caplog.text and "Skipping unreadable file" in caplog.text


def test_wrong_channel_count_is_an_error_not_a_skipped_file(folder, tmp_path):
    stereo = audio_write(tmp_path / "stereo", torch.zeros(2, SR), SR, strategy="none")
    ds = AudioDataset([AudioMeta(str(stereo), 1.0, SR)], segment_duration=0.5,
                      sample_rate=SR, channels=3)
    with pytest.raises(ValueError, match=r"stereo.wav.*2 channels to 3.*Downmix"):
        ds[0]
    assert ds.read_failures == 0


def test_music_dataset_info_and_condition_attributes(folder):
    ds = MusicDataset.from_meta(folder, segment_duration=0.5, num_samples=4, sample_rate=SR)
    wav, info = ds[0]
    assert isinstance(info, MusicInfo) and wav.shape == (1, SR // 2)
    assert info.artist == "tests" and info.moods == ["happy", "calm"]
    assert info.keywords == ["a", "b"] and info.bpm in (100.0, 101.0, 102.0)
    attrs = info.to_condition_attributes()
    assert attrs.text["description"].startswith("tone number")
    assert attrs.text["moods"] == "happy, calm" and attrs.text["bpm"] in ("100", "101", "102")
    self_wav = attrs.wav["self_wav"]
    assert self_wav.wav.shape == (1, 1, SR // 2) and int(self_wav.length[0]) == SR // 2


def test_description_augmentation_probabilities_mean_what_they_say(folder):
    ds = MusicDataset.from_meta(folder, segment_duration=0.5, num_samples=4, sample_rate=SR)
    _, base = ds[0]
    rng = np.random.default_rng(0)
    n = 4000
    merged = desc_kept = genre_kept = 0
    for _ in range(n):
        info = MusicInfo(**{**base.__dict__, "joint_embed": {}})
        augment_music_info_description(info, merge_text_p=0.3, drop_desc_p=0.25,
                                       drop_other_p=0.6, rng=rng)
        if info.description != base.description:
            merged += 1
            desc_kept += bool(info.description and info.description.startswith("tone"))
            genre_kept += bool(info.description and "genre: pop" in info.description)
    # Merging happens 30% of the time; when it does the description stays 75% of the
    # time and each other field 40% of the time (3 sigma bounds).
    assert merged / n == pytest.approx(0.3, abs=0.03)
    assert desc_kept / merged == pytest.approx(0.75, abs=0.05)
    assert genre_kept / merged == pytest.approx(0.4, abs=0.05)
    never = MusicInfo(**{**base.__dict__, "joint_embed": {}})
    augment_music_info_description(never, merge_text_p=0.0, rng=rng)
    assert never.description == base.description
    with pytest.raises(ValueError, match="merge_text_p must be a probability"):
        augment_music_info_description(never, merge_text_p=1.5)


def test_drop_tempo_takes_the_number_out_of_the_caption_and_keeps_the_bpm(folder):
    ds = MusicDataset.from_meta(folder, segment_duration=0.5, num_samples=4, sample_rate=SR)
    _, base = ds[0]
    base.description = "A calm pop song at 101 bpm, in C major."
    rng = np.random.default_rng(0)
    n, dropped = 2000, 0
    for _ in range(n):
        info = MusicInfo(**{**base.__dict__, "joint_embed": {}})
        drop_description_tempo(info, 0.5, rng)
        if info.description != base.description:
            assert info.description == "A calm pop song, in C major."
            dropped += 1
        assert info.to_condition_attributes().text["bpm"] == base.text_value("bpm")
    assert dropped / n == pytest.approx(0.5, abs=0.04)
    # The dataset applies it to the sidecar's description.
    sidecar = folder.parent / "audio" / "f0.wav.json"
    sidecar.write_text(json.dumps({**json.loads(sidecar.read_text()),
                                   "description": "tone at 100 bpm"}))
    for p, expected in ((1.0, "tone"), (0.0, "tone at 100 bpm")):
        ds = MusicDataset.from_meta(folder, segment_duration=0.5, num_samples=8,
                                    sample_rate=SR, drop_tempo_p=p)
        infos = [ds[i][1] for i in range(8)]
        assert {i.description for i in infos if i.title == "song 0"} == {expected}
    with pytest.raises(ValueError, match="drop_tempo_p must be a probability"):
        drop_description_tempo(info, -0.1)


def test_sidecar_errors_name_the_file(folder, tmp_path):
    meta = json.loads(folder.read_text().splitlines()[0])
    (tmp_path / "audio" / "f0.wav.json").write_text("{not json")
    ds = MusicDataset([AudioMeta.from_dict(meta)], segment_duration=0.5, sample_rate=SR)
    with pytest.raises(ValueError, match=r"f0.wav.json is not valid JSON.*fix or delete"):
        ds[0]


def test_datamodule_splits_batches_and_epochs(folder):
    dm = AudioDataModule(
        train=folder, valid=folder, evaluate=folder, generate=folder, batch_size=2, seed=3,
        dataset_kwargs={"segment_duration": 0.5, "sample_rate": SR, "channels": 1},
        split_kwargs={"train": {"num_samples": 4}, "valid": {"num_samples": 2},
                      "generate": {"segment_duration": None}},
    )
    dm.setup("fit")
    loader = dm.train_dataloader()
    epoch0 = [b for b in loader]
    wav, infos = epoch0[0]
    assert wav.shape == (2, 1, SR // 2) and len(infos) == 2
    assert isinstance(infos[0], MusicInfo)
    # Training reads through the resumable loader (rank 0 of 1 without a trainer).
    assert isinstance(loader, StatefulDataLoader) and isinstance(loader.sampler, ResumableSampler)
    assert loader.state_dict() == {"epoch": 0, "batches": 2}
    again = torch.cat([b[0] for b in dm.train_dataloader()])
    assert torch.equal(torch.cat([b[0] for b in epoch0]), again)  # reproducible
    loader.sampler.set_epoch(1)
    assert not torch.equal(torch.cat([b[0] for b in loader]), again)  # new epoch, new data
    val = [b[0] for b in dm.val_dataloader()]
    assert torch.equal(torch.cat(val), torch.cat([b[0] for b in dm.val_dataloader()]))
    gen_wav, gen_infos = next(iter(dm.generate_dataloader()))
    assert gen_wav.shape[-1] == 3 * SR  # whole files, padded to the longest
    whole = AudioDataModule(train=folder, batch_size=3, music=False,
                            dataset_kwargs={"sample_rate": SR, "channels": 1})
    loader = whole.train_dataloader()  # whole files: same items, new order per epoch
    orders = []
    for epoch in range(4):
        loader.sampler.set_epoch(epoch)
        orders.append([i.meta.path for i in next(iter(loader))[1]])
    assert all(sorted(o) == sorted(orders[0]) for o in orders)
    assert len({tuple(o) for o in orders}) > 1
    with pytest.raises(ValueError, match="No manifest given for the 'valid' split"):
        AudioDataModule(train=folder).val_dataloader()
