"""The resumable training loader: ranks share the single-process batches, a resumed loader
continues on the next batch, iteration leaves the global RNG alone."""

import pytest
import torch
from torch.utils.data import Dataset

from audiocraft.data.loader import ResumableSampler, StatefulDataLoader, resumable_train_loader


class _Range(Dataset):
    def __init__(self, n):
        self.n = n
        self.epoch = -1

    def set_epoch(self, epoch):
        self.epoch = epoch

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return torch.tensor([i, self.epoch])


def _loader(n=24, batch=3, rank=0, world=1):
    return StatefulDataLoader(_Range(n), ResumableSampler(n, seed=5, rank=rank, world_size=world),
                              batch)


def test_ranks_together_read_the_single_process_batches():
    single = [b[:, 0].tolist() for b in _loader(batch=4)]
    rank0 = [b[:, 0].tolist() for b in _loader(batch=2, rank=0, world=2)]
    rank1 = [b[:, 0].tolist() for b in _loader(batch=2, rank=1, world=2)]
    assert len(single) == len(rank0) == len(rank1) == 6
    for s, r0, r1 in zip(single, rank0, rank1):
        assert sorted(s) == sorted(r0 + r1)
    assert set(sum(rank0, [])).isdisjoint(sum(rank1, []))


def test_loader_resumes_mid_epoch_on_the_next_batch():
    full = _loader()
    full._resumable.set_epoch(2)
    expected = [b.tolist() for b in full]
    assert {row[1] for b in expected for row in b} == {2}  # the data set saw the epoch

    first = _loader()
    first._resumable.set_epoch(2)
    it = iter(first)
    got = [next(it).tolist() for _ in range(3)]
    state = first.state_dict()
    assert state == {"epoch": 2, "batches": 3}

    resumed = _loader()
    resumed.load_state_dict(state)
    resumed._resumable.set_epoch(2)  # Lightning sets the epoch again before iterating
    got += [b.tolist() for b in resumed]
    assert got == expected
    # The next epoch starts from its beginning, with a different order.
    resumed._resumable.set_epoch(3)
    nxt = [b.tolist() for b in resumed]
    assert len(nxt) == len(expected) and nxt != expected


def test_loader_iteration_leaves_global_rng_alone():
    state = torch.get_rng_state()
    list(_loader())
    assert torch.equal(state, torch.get_rng_state())


def test_sampler_errors():
    with pytest.raises(ValueError, match="fewer than"):
        ResumableSampler(1, world_size=2)


def test_train_loader_needs_one_batch_per_rank():
    loader = resumable_train_loader(_Range(8), batch_size=2, seed=1, rank=1, world_size=2)
    assert len(loader) == 2 and isinstance(loader.sampler, ResumableSampler)
    with pytest.raises(ValueError, match="fewer than one batch of 5"):
        resumable_train_loader(_Range(8), batch_size=5, seed=1, rank=0, world_size=2)
