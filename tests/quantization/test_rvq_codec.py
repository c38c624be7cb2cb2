"""Residual VQ: round trip, training behaviour (STE, commitment, EMA, k-means init,
dead-code expiry, dropout) and codebooks kept identical across DDP ranks."""

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from audiocraft.quantization import QuantizedResult, ResidualVectorQuantizer
from audiocraft.quantization.core_vq import EuclideanCodebook


def _hierarchical_rvq(n_q: int = 3, bins: int = 16, dim: int = 4) -> ResidualVectorQuantizer:
    """Codebooks at scales 100, 1, 0.01: the sum of one vector per layer decodes uniquely."""
    rvq = ResidualVectorQuantizer(dimension=dim, n_q=n_q, bins=bins, kmeans_init=False)
    for k, layer in enumerate(rvq.vq.vq_layers):
        layer._codebook.embed.copy_(torch.randn(bins, dim) * 100.0 ** (1 - k))
    return rvq.eval()


def test_round_trip_codes_latent_codes():
    rvq = _hierarchical_rvq()
    codes = torch.randint(0, 16, (2, 3, 7))  # [B, K, T]
    latent = rvq.decode(codes)
    assert latent.shape == (2, 4, 7)
    assert torch.equal(rvq.encode(latent), codes)
    result = rvq(latent, frame_rate=50)
    assert isinstance(result, QuantizedResult)
    assert torch.equal(result.codes, codes) and torch.allclose(result.x, latent)
    assert result.bandwidth.item() == pytest.approx(3 * 4 * 50 / 1000)  # n_q * log2(bins) * fps


def test_ties_pick_the_lowest_index():
    codebook = EuclideanCodebook(2, 4)
    codebook.embed.copy_(torch.tensor([[1.0, 0.0], [0.0, 0.0], [1.0, 0.0], [0.0, 0.0]]))
    assert codebook.encode(torch.tensor([[0.9, 0.0], [0.1, 0.0]])).tolist() == [0, 1]


def test_training_step_penalty_straight_through_and_ema():
    torch.manual_seed(0)
    rvq = ResidualVectorQuantizer(
        dimension=4, n_q=2, bins=8, kmeans_init=True, kmeans_iters=3, decay=0.5
    )
    rvq.train()
    x = torch.randn(3, 4, 20, requires_grad=True)
    result = rvq(x, frame_rate=10)
    codebook = rvq.vq.vq_layers[0]._codebook
    assert codebook.inited.item() == 1  # k-means on the first batch
    assert result.penalty is not None and result.penalty.item() > 0
    assert "expired_codes" in result.metrics
    (grad,) = torch.autograd.grad(result.x.sum(), x, retain_graph=True)
    assert torch.allclose(grad, torch.ones_like(x))  # straight-through estimator
    (grad,) = torch.autograd.grad(result.penalty, x)
    assert grad.abs().sum() > 0  # the commitment loss pulls the encoder output
    before = codebook.embed.clone()
    rvq(torch.randn(3, 4, 20) + 3.0, frame_rate=10)
    assert not torch.equal(before, codebook.embed)  # EMA update
    rvq.eval()
    frozen = codebook.embed.clone()
    rvq(torch.randn(3, 4, 20), frame_rate=10)
    assert torch.equal(frozen, codebook.embed)  # no update in eval


def test_dead_code_expiry_replaces_only_dead_codes():
    codebook = EuclideanCodebook(3, 6, threshold_ema_dead_code=2)
    old = codebook.embed.clone()
    codebook.cluster_size.copy_(torch.tensor([5.0, 0.0, 3.0, 1.0, 2.0, 0.5]))
    samples = torch.randn(50, 3) + 10.0
    assert codebook.expire_codes_(samples) == 3
    for i in (0, 2, 4):
        assert torch.equal(codebook.embed[i], old[i])
    for i in (1, 3, 5):
        assert (codebook.embed[i] == samples).all(dim=1).any()  # replaced by a batch vector


def test_quantizer_dropout_varies_codebooks():
    torch.manual_seed(0)
    rvq = ResidualVectorQuantizer(
        dimension=4, n_q=4, bins=8, q_dropout=True, kmeans_iters=1
    ).train()
    counts = {rvq(torch.randn(2, 4, 10), frame_rate=10).codes.shape[1] for _ in range(12)}
    assert len(counts) > 1 and counts <= {1, 2, 3, 4}
    rvq.eval()
    assert rvq(torch.randn(2, 4, 10), frame_rate=10).codes.shape[1] == 4


def _ddp_worker(rank: int, world: int, port: int, out: dict) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    torch.manual_seed(rank)  # different data and random draws on each rank
    rvq = ResidualVectorQuantizer(
        dimension=4, n_q=2, bins=16, kmeans_iters=2, threshold_ema_dead_code=1
    ).train()
    for _ in range(3):
        rvq(torch.randn(2, 4, 12) * (rank + 1), frame_rate=10)
    out[rank] = {k: v.clone() for k, v in rvq.state_dict().items()}
    dist.destroy_process_group()


@pytest.mark.slow
def test_codebooks_identical_across_ddp_ranks():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with mp.Manager() as manager:
        out = manager.dict()
        mp.spawn(_ddp_worker, args=(2, port, out), nprocs=2, join=True)
        states = dict(out)
    assert states[0].keys() == states[1].keys()
    for key in states[0]:
        assert torch.equal(states[0][key], states[1][key]), key
    assert states[0]["vq.layers.0._codebook.embed"].abs().sum() > 0
