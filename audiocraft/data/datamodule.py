"""AudioDataModule: the train/valid/evaluate/generate splits as a LightningDataModule.

Each split is a manifest (``.jsonl[.gz]`` or a folder with ``data.jsonl``) turned into an
:class:`AudioDataset` or :class:`MusicDataset`. Batches are ``(wav [B, C, T], infos)``
where ``infos`` is a list of :class:`SegmentInfo` / :class:`MusicInfo` (one per item).

The train split is read by the resumable loader of :mod:`audiocraft.data.loader`: a
seeded order per epoch, each rank its own share (rank and world size from the trainer),
new segments every epoch (the loader passes the epoch to the data set), and a position
inside the epoch that a resumed run continues from. The other splits are the same in
every epoch, in manifest order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
from torch.utils.data import DataLoader

from .audio_dataset import AudioDataset
from .loader import StatefulDataLoader, collate, resumable_train_loader
from .music_dataset import MusicDataset

SPLITS = ("train", "valid", "evaluate", "generate")


class AudioDataModule(L.LightningDataModule):
    """Datasets and loaders for the four splits.

    Args:
        train, valid, evaluate, generate: manifest paths (None leaves the split out).
        dataset_kwargs: AudioDataset/MusicDataset arguments shared by all splits
            (sample_rate, channels, segment_duration, ...).
        split_kwargs: per-split overrides, e.g. ``{"train": {"num_samples": 1000}}``.
        batch_size: items per batch; num_workers: DataLoader worker processes.
        seed: seed of the train split's order and segments (valid/evaluate/generate are
            fixed).
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
        """A fixed loader of an evaluation split: every item once, in order."""
        return DataLoader(
            self.build_dataset(split), batch_size=self.batch_size, shuffle=False,
            num_workers=self.num_workers, collate_fn=collate,
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> StatefulDataLoader:
        """The resumable training loader (:func:`~audiocraft.data.loader.resumable_train_loader`)
        of this process's rank: the attached trainer's, or rank 0 of 1 without one."""
        trainer = self.trainer
        rank = trainer.global_rank if trainer is not None else 0
        world = trainer.world_size if trainer is not None else 1
        return resumable_train_loader(self.build_dataset("train"), self.batch_size, self.seed,
                                      rank, world, self.num_workers, collate)

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
