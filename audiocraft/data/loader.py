"""The training loader: seeded, sharded across ranks, and resumable inside an epoch.

Lightning saves `state_dict()` of any training loader that has one (and restores it
before the first batch of the resumed run), so a run killed mid-epoch resumes on the
exact next batch, with the same order, instead of re-reading the epoch from the start.

The sampler shards indices across ranks itself (rank, world size from the trainer), so
Lightning's own distributed-sampler injection is turned off (`use_distributed_sampler
=False` in train.py): the loader is not rebuilt, and its state stays ours.

Items are a function of (seed, epoch, index): the sampler's order comes from (seed,
epoch), and the loader tells the data set the epoch (`set_epoch`), whose item `i` is
drawn from (seed, epoch, i) (see :mod:`audiocraft.data.audio_dataset`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, Sampler


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


class ResumableSampler(Sampler[int]):
    """Seeded, epoch-dependent order over `num_samples` indices, split across ranks.

    Every rank gets `num_samples // world_size` indices (the tail is dropped so ranks
    see equal counts). `skip` indices at the head of the next iteration are left out:
    that is how a resumed run jumps to its position inside the epoch.
    """

    def __init__(self, num_samples: int, shuffle: bool = True, seed: int = 0,
                 rank: int = 0, world_size: int = 1):
        if num_samples < world_size:
            raise ValueError(
                f"the data set has {num_samples} samples, fewer than the {world_size} ranks: "
                "add data or lower the number of devices."
            )
        self.num_samples = num_samples
        self.shuffle = shuffle
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.epoch = 0
        self.skip = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.num_samples // self.world_size

    def __iter__(self) -> Iterator[int]:
        if self.shuffle:
            gen = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
            order = torch.randperm(self.num_samples, generator=gen).tolist()
        else:
            order = list(range(self.num_samples))
        mine = order[: len(self) * self.world_size][self.rank :: self.world_size]
        start, self.skip = self.skip, 0
        return iter(mine[start:])


class StatefulDataLoader(DataLoader):
    """DataLoader over a `ResumableSampler` that records how many batches it handed out.

    It also seeds worker processes from (seed, epoch) rather than from the global torch
    RNG, so creating an iterator does not consume global randomness (which would make a
    resumed run draw different dropout masks from an uninterrupted one), and tells the
    data set the epoch (`dataset.set_epoch`) when it has that method.
    """

    def __init__(self, dataset: Dataset, sampler: ResumableSampler, batch_size: int,
                 **kwargs: Any):
        if kwargs.get("drop_last") is False:
            raise ValueError("StatefulDataLoader always drops the last incomplete batch.")
        kwargs["drop_last"] = True
        super().__init__(dataset, batch_size=batch_size, sampler=sampler, **kwargs)
        self._resumable = sampler
        self._yielded = 0
        self._epoch_of_position = 0

    def __iter__(self) -> Iterator[Any]:  # type: ignore[override]
        sampler = self._resumable
        if sampler.skip == 0 or self._epoch_of_position != sampler.epoch:
            self._yielded = 0
            sampler.skip = 0
        self._epoch_of_position = sampler.epoch
        set_epoch = getattr(self.dataset, "set_epoch", None)
        if callable(set_epoch):
            set_epoch(sampler.epoch)
        self.generator = torch.Generator().manual_seed(sampler.seed * 7919 + sampler.epoch)
        for batch in super().__iter__():
            self._yielded += 1
            yield batch

    def __len__(self) -> int:
        return len(self._resumable) // self.batch_size  # type: ignore[operator]

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self._epoch_of_position, "batches": self._yielded}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self._resumable.set_epoch(int(state["epoch"]))
        self._resumable.skip = int(state["batches"]) * int(self.batch_size or 1)
        self._epoch_of_position = int(state["epoch"])
        self._yielded = int(state["batches"])


def resumable_train_loader(dataset: Dataset, batch_size: int, seed: int, rank: int = 0,
                           world_size: int = 1, num_workers: int = 0,
                           collate_fn: Any = None) -> StatefulDataLoader:
    """The training loader: every rank reads its share of a seeded permutation, batch
    after batch; together the ranks read the same global batches as one process with
    `world_size` times the batch size. The last incomplete batch is dropped."""
    sampler = ResumableSampler(len(dataset), shuffle=True, seed=seed, rank=rank,  # type: ignore[arg-type]
                               world_size=world_size)
    if len(sampler) < batch_size:
        raise ValueError(
            f"each of the {world_size} rank(s) gets {len(sampler)} training items, fewer than "
            f"one batch of {batch_size}: raise the data set's num_samples or lower the batch size."
        )
    return StatefulDataLoader(dataset, sampler, batch_size, num_workers=num_workers,
                              collate_fn=collate_fn, persistent_workers=False)
