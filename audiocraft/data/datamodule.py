"""AudioDataModule: the train/valid/evaluate/generate splits as a LightningDataModule.

Each split is a manifest (``.jsonl[.gz]`` or a folder with ``data.jsonl``) turned into an
:class:`AudioDataset` or :class:`MusicDataset`. Batches are ``(wav [B, C, T], infos)``
where ``infos`` is a list of :class:`SegmentInfo` / :class:`MusicInfo` (one per item).

The train split draws new segments every epoch: its :class:`EpochSampler` folds the
epoch into the item index, and Lightning calls ``set_epoch`` on it (also through its
distributed sampler wrapper), so this works with persistent workers too. The other
splits are the same in every epoch.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Sampler

from .audio_dataset import AudioDataset
from .music_dataset import MusicDataset

SPLITS = ("train", "valid", "evaluate", "generate")


class EpochSampler(Sampler[int]):
    """Indices of one epoch of a virtual-length dataset, offset by ``epoch * length``.

    The dataset seeds item ``i`` from ``i``, so offsetting by the epoch yields fresh,
    reproducible segments each epoch. ``shuffle`` also permutes the order (seeded).
    With ``offset=False`` (whole-file datasets, whose items are fixed) only the order
    changes per epoch.
    """

    def __init__(self, length: int, shuffle: bool = True, seed: int = 0, offset: bool = True):
        self.length = length
        self.shuffle = shuffle
        self.seed = seed
        self.offset = offset
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.length

    def __iter__(self) -> Iterator[int]:
        order = np.arange(self.length)
        if self.shuffle:
            order = np.random.default_rng([self.seed, self.epoch]).permutation(self.length)
        offset = self.epoch * self.length if self.offset else 0
        return iter((order + offset).tolist())


def collate(samples: list[Any]) -> tuple[torch.Tensor, list[Any]]:
    """``[(wav [C, T_i], info), ...]`` -> ``(wav [B, C, max T_i], [info, ...])``, zero-padded."""
    wavs = [s[0] for s in samples]
    infos = [s[1] for s in samples]
    channels = {w.shape[0] for w in wavs}
    if len(channels) > 1:
        raise ValueError(
            f"Cannot batch items with different channel counts {sorted(channels)}: give the "
            "datasets one `channels` value."
        )
    longest = max(w.shape[-1] for w in wavs)
    batch = torch.stack([torch.nn.functional.pad(w, (0, longest - w.shape[-1])) for w in wavs])
    return batch, infos  # [B, C, T]


class AudioDataModule(L.LightningDataModule):
    """Datasets and loaders for the four splits.

    Args:
        train, valid, evaluate, generate: manifest paths (None leaves the split out).
        dataset_kwargs: AudioDataset/MusicDataset arguments shared by all splits
            (sample_rate, channels, segment_duration, ...).
        split_kwargs: per-split overrides, e.g. ``{"train": {"num_samples": 1000}}``.
        batch_size: items per batch; num_workers: DataLoader worker processes.
        seed: shuffle seed of the train split (valid/evaluate/generate are fixed).
        music: build MusicDataset (items carry MusicInfo) instead of AudioDataset.
    """

    def __init__(
        self,
        train: str | Path | None = None,
        valid: str | Path | None = None,
        evaluate: str | Path | None = None,
        generate: str | Path | None = None,
        dataset_kwargs: dict[str, Any] | None = None,
        split_kwargs: dict[str, dict[str, Any]] | None = None,
        batch_size: int = 16,
        num_workers: int = 0,
        seed: int = 0,
        music: bool = True,
    ):
        super().__init__()
        if batch_size <= 0:
            raise ValueError(f"batch_size must be > 0, got {batch_size}.")
        self.manifests = {"train": train, "valid": valid, "evaluate": evaluate,
                          "generate": generate}
        self.dataset_kwargs = dict(dataset_kwargs or {})
        self.split_kwargs = {k: dict(v) for k, v in (split_kwargs or {}).items()}
        unknown = set(self.split_kwargs) - set(SPLITS)
        if unknown:
            raise ValueError(f"Unknown splits {sorted(unknown)} in split_kwargs: use {SPLITS}.")
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.seed = seed
        self.music = music
        self.datasets: dict[str, AudioDataset] = {}

    def build_dataset(self, split: str) -> AudioDataset:
        """The dataset of ``split`` (built once, cached)."""
        if split not in SPLITS:
            raise ValueError(f"Unknown split {split!r}: use one of {SPLITS}.")
        if split in self.datasets:
            return self.datasets[split]
        manifest = self.manifests[split]
        if manifest is None:
            raise ValueError(f"No manifest given for the {split!r} split.")
        kwargs: dict[str, Any] = {"return_info": True, **self.dataset_kwargs}
        # Only training draws new segments each epoch; the others must stay comparable.
        kwargs.setdefault("shuffle", split == "train")
        kwargs["shuffle_seed"] = self.seed
        kwargs.update(self.split_kwargs.get(split, {}))
        cls = MusicDataset if self.music else AudioDataset
        dataset = cls.from_meta(manifest, **kwargs)
        self.datasets[split] = dataset
        return dataset

    def setup(self, stage: str | None = None) -> None:
        for split in SPLITS:
            if self.manifests[split] is not None:
                self.build_dataset(split)

    def _loader(self, split: str) -> DataLoader:
        dataset = self.build_dataset(split)
        sampler: Sampler[int] | None = None
        if split == "train":
            sampler = EpochSampler(len(dataset), shuffle=True, seed=self.seed,
                                   offset=dataset.segment_duration is not None)
        return DataLoader(
            dataset, batch_size=self.batch_size, sampler=sampler, shuffle=False,
            num_workers=self.num_workers, collate_fn=collate, drop_last=split == "train",
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train")

    def val_dataloader(self) -> DataLoader:
        return self._loader("valid")

    def test_dataloader(self) -> DataLoader:
        return self._loader("evaluate")

    def predict_dataloader(self) -> DataLoader:
        return self._loader("generate")

    def evaluate_dataloader(self) -> DataLoader:
        return self._loader("evaluate")

    def generate_dataloader(self) -> DataLoader:
        return self._loader("generate")
