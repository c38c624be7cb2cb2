"""Metrics accumulated over 2 DDP processes (gloo, CPU) equal a single-process run."""

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from audiocraft.metrics.codec import SISNR
from audiocraft.metrics.fad import FrechetAudioDistance
from audiocraft.metrics.kld import KLDivergence


def _data():
    """Generated/reference embeddings of different sizes, label distributions and audio."""
    rng = np.random.default_rng(0)
    return {
        "gen": torch.from_numpy(rng.standard_normal((60, 4))),
        "ref": torch.from_numpy(rng.standard_normal((44, 4)) + 0.5),
        "p_gen": torch.from_numpy(rng.dirichlet(np.ones(5), size=10)),
        "p_ref": torch.from_numpy(rng.dirichlet(np.ones(5), size=10)),
        "wav_ref": torch.from_numpy(rng.standard_normal((6, 1, 200))).float(),
        "wav_est": torch.from_numpy(rng.standard_normal((6, 1, 200))).float(),
    }


def _run(parts):
    """Update fresh metrics with each part (dict of slices of _data()) and compute them."""
    fad = FrechetAudioDistance(dim=4, inf_correction=True, num_points=4, min_n=20)
    kl, sisnr = KLDivergence(), SISNR()
    for part in parts:
        fad.update_embeddings(part["gen"], part["ref"])
        kl.add_probabilities(part["p_gen"], part["p_ref"])
        sisnr.update(part["wav_ref"] + 0.5 * part["wav_est"], part["wav_ref"])
    return {**fad.compute(), **kl.compute(), **sisnr.compute()}


def _half(data, rank):
    """Rank 0 takes the first part of every tensor, rank 1 the rest (uneven splits)."""
    out = {}
    for key, value in data.items():
        cut = {"gen": 25, "ref": 30}.get(key, len(value) // 2)
        out[key] = value[:cut] if rank == 0 else value[cut:]
    return out


def _worker(rank, init_file, out_file):
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    try:
        torch.set_num_threads(1)
        result = _run([_half(_data(), rank)])
        if rank == 0:
            torch.save(result, out_file)
    finally:
        dist.destroy_process_group()


def test_two_processes_equal_one(tmp_path):
    out_file = tmp_path / "result.pt"
    mp.spawn(_worker, args=(str(tmp_path / "init"), str(out_file)), nprocs=2, join=True)
    ddp = torch.load(out_file)
    data = _data()
    single = _run([_half(data, 0), _half(data, 1)])  # same data, same order, one process
    assert set(ddp) == set(single)
    for key in single:
        assert ddp[key] == pytest.approx(single[key], rel=1e-9, abs=1e-12), key
    # And the split run is not trivially equal to a run on one half only.
    assert _run([_half(data, 0)])["fad"] != pytest.approx(single["fad"])
