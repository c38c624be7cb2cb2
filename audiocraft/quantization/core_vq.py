"""Vector quantization with EMA codebooks (k-means init, dead-code expiry) and its
residual stack.

Buffers (`inited`, `cluster_size`, `embed`, `embed_avg`) keep the reference names so
checkpoints load by key. Under DDP the batch statistics behind each EMA update are
summed over ranks, and the random draws (k-means init, dead-code replacement) are
broadcast from rank 0, so every rank holds the same codebooks after every step.
"""

from __future__ import annotations

from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from .distrib import all_reduce_sum_, broadcast_tensors


def sample_vectors(samples: torch.Tensor, num: int) -> torch.Tensor:
    """`num` rows of `samples [N, D]`, without replacement when there are enough."""
    n = samples.shape[0]
    if n >= num:
        indices = torch.randperm(n, device=samples.device)[:num]
    else:
        indices = torch.randint(0, n, (num,), device=samples.device)
    return samples[indices]


def kmeans(
    samples: torch.Tensor, num_clusters: int, num_iters: int = 10
) -> tuple[torch.Tensor, torch.Tensor]:
    """Lloyd's k-means on `samples [N, D]` -> (means [num_clusters, D], bin counts [num_clusters]).
    Empty clusters keep their previous mean."""
    means = sample_vectors(samples, num_clusters)  # [K, D]
    bins = torch.zeros(num_clusters, dtype=torch.long, device=samples.device)
    for _ in range(num_iters):
        # Squared distances by matmul (cdist and scatter_add are slow on CPU).
        dists = (
            2 * samples @ means.t() - means.pow(2).sum(1)[None]
        )  # [N, K], up to a per-row constant
        buckets = dists.max(dim=-1).indices
        onehot = F.one_hot(buckets, num_clusters).type(samples.dtype)  # [N, K]
        counts = onehot.sum(0)
        bins = counts.long()
        zero_mask = bins == 0
        new_means = (onehot.t() @ samples) / counts.clamp(min=1)[:, None]  # [K, D]
        means = torch.where(zero_mask[:, None], means, new_means)
    return means, bins


def ema_inplace(moving_avg: torch.Tensor, new: torch.Tensor, decay: float) -> None:
    moving_avg.data.mul_(decay).add_(new, alpha=1 - decay)


def laplace_smoothing(x: torch.Tensor, n_categories: int, epsilon: float = 1e-5) -> torch.Tensor:
    return (x + epsilon) / (x.sum() + n_categories * epsilon)


class EuclideanCodebook(nn.Module):
    """Codebook `embed [bins, D]` with nearest-neighbour (Euclidean) lookup.

    In training, each forward updates the codebook by EMA of the assigned vectors
    (`decay`), initialises it by k-means on the first batch (`kmeans_init`), and replaces
    codes used less than `threshold_ema_dead_code` times (EMA count) by random vectors of
    the batch.
    """

    inited: torch.Tensor
    cluster_size: torch.Tensor
    embed: torch.Tensor
    embed_avg: torch.Tensor

    def __init__(
        self,
        dim: int,
        codebook_size: int,
        kmeans_init: bool = False,
        kmeans_iters: int = 10,
        decay: float = 0.8,
        epsilon: float = 1e-5,
        threshold_ema_dead_code: float = 2,
    ):
        super().__init__()
        self.decay = decay
        if kmeans_init:
            embed = torch.zeros(codebook_size, dim)
        else:
            embed = nn.init.kaiming_uniform_(torch.empty(codebook_size, dim))
        self.codebook_size = codebook_size
        self.kmeans_iters = kmeans_iters
        self.epsilon = epsilon
        self.threshold_ema_dead_code = threshold_ema_dead_code
        self.register_buffer("inited", torch.Tensor([not kmeans_init]))
        self.register_buffer("cluster_size", torch.zeros(codebook_size))
        self.register_buffer("embed", embed)
        self.register_buffer("embed_avg", embed.clone())

    def init_embed_(self, data: torch.Tensor) -> None:
        """k-means initialisation from `data [N, D]`, once."""
        if self.inited:
            return
        embed, cluster_size = kmeans(data, self.codebook_size, self.kmeans_iters)
        self.embed.data.copy_(embed)
        self.embed_avg.data.copy_(embed.clone())
        self.cluster_size.data.copy_(cluster_size)
        self.inited.data.copy_(torch.Tensor([True]))
        broadcast_tensors(self.buffers())

    def expire_codes_(self, batch_samples: torch.Tensor) -> int:
        """Replace dead codes by random rows of `batch_samples [N, D]`; return how many."""
        if self.threshold_ema_dead_code == 0:
            return 0
        expired = torch.lt(self.cluster_size, self.threshold_ema_dead_code)
        n_expired = int(expired.sum())
        if n_expired == 0:
            return 0
        replaced = torch.where(
            expired[:, None], sample_vectors(batch_samples, self.codebook_size), self.embed
        )
        self.embed.data.copy_(replaced)
        broadcast_tensors(self.buffers())
        return n_expired

    def quantize(self, x: torch.Tensor) -> torch.Tensor:
        """`x [N, D]` -> nearest code `[N]` (ties: the lowest index, as in the reference)."""
        embed = self.embed.t()  # [D, bins]
        dist = -(
            x.pow(2).sum(1, keepdim=True) - 2 * x @ embed + embed.pow(2).sum(0, keepdim=True)
        )  # [N, bins]
        return dist.max(dim=-1).indices

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """`x [..., D]` -> codes `[...]`."""
        return self.quantize(x.reshape(-1, x.shape[-1])).view(*x.shape[:-1])

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """codes `[...]` -> vectors `[..., D]`."""
        return F.embedding(codes, self.embed)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, int]:
        """`x [..., D]` -> (quantized `[..., D]`, codes `[...]`, number of expired codes)."""
        flat = x.reshape(-1, x.shape[-1])  # [N, D]
        if self.training:
            self.init_embed_(flat)
        codes = self.quantize(flat)
        quantized = F.embedding(codes, self.embed)
        n_expired = 0
        if self.training:
            n_expired = self.expire_codes_(flat)
            onehot = F.one_hot(codes, self.codebook_size).type(flat.dtype)  # [N, bins]
            counts = all_reduce_sum_(onehot.sum(0))
            embed_sum = all_reduce_sum_((flat.t() @ onehot).t().contiguous())  # [bins, D]
            ema_inplace(self.cluster_size, counts, self.decay)
            ema_inplace(self.embed_avg, embed_sum, self.decay)
            cluster_size = laplace_smoothing(self.cluster_size, self.codebook_size, self.epsilon)
            cluster_size = cluster_size * self.cluster_size.sum()
            self.embed.data.copy_(self.embed_avg / cluster_size[:, None])
        return quantized.view(*x.shape), codes.view(*x.shape[:-1]), n_expired


class VectorQuantization(nn.Module):
    """One codebook on a conv layout `[B, D, T]`, with the straight-through estimator and
    the commitment loss `commitment_weight * mse(x, quantized.detach())` in training."""

    _codebook: EuclideanCodebook

    def __init__(
        self,
        dim: int,
        codebook_size: int,
        decay: float = 0.8,
        epsilon: float = 1e-5,
        kmeans_init: bool = False,
        kmeans_iters: int = 10,
        threshold_ema_dead_code: float = 2,
        commitment_weight: float = 1.0,
    ):
        super().__init__()
        self._codebook = EuclideanCodebook(
            dim, codebook_size, kmeans_init, kmeans_iters, decay, epsilon, threshold_ema_dead_code
        )
        self.codebook_size = codebook_size
        self.commitment_weight = commitment_weight

    @property
    def codebook(self) -> torch.Tensor:
        return self._codebook.embed

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """`[B, D, T]` -> codes `[B, T]`."""
        return self._codebook.encode(x.transpose(1, 2))

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """codes `[B, T]` -> `[B, D, T]`."""
        return self._codebook.decode(codes).transpose(1, 2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
        """`x [B, D, T]` -> (quantized `[B, D, T]`, codes `[B, T]`, loss [1], expired count)."""
        xt = x.transpose(1, 2)  # [B, T, D]
        quantized, codes, n_expired = self._codebook(xt)
        loss = torch.zeros(1, device=x.device)
        if self.training:
            quantized = xt + (quantized - xt).detach()
            if self.commitment_weight > 0:
                loss = loss + F.mse_loss(quantized.detach(), xt) * self.commitment_weight
        return quantized.transpose(1, 2), codes, loss, n_expired


class ResidualVectorQuantization(nn.Module):
    """Stack of `num_quantizers` codebooks, each quantizing the residual of the previous."""

    def __init__(self, *, num_quantizers: int, **kwargs: float | int | bool):
        super().__init__()
        self.layers = nn.ModuleList(
            [VectorQuantization(**kwargs) for _ in range(num_quantizers)]  # type: ignore[arg-type]
        )

    @property
    def vq_layers(self) -> list[VectorQuantization]:
        """The codebooks, typed."""
        return [cast(VectorQuantization, layer) for layer in self.layers]

    def forward(
        self, x: torch.Tensor, n_q: int | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
        """`x [B, D, T]` -> (quantized `[B, D, T]`, codes `[K, B, T]`, losses `[K]`,
        number of expired codes)."""
        quantized_out = torch.zeros_like(x)
        residual = x
        losses, codes = [], []
        n_expired = 0
        for layer in self.vq_layers[:n_q]:
            quantized, indices, loss, expired = layer(residual)
            quantized = quantized.detach()
            residual = residual - quantized
            quantized_out = quantized_out + quantized
            codes.append(indices)
            losses.append(loss)
            n_expired += expired
        if self.training:
            # Straight-through on the sum, so the encoder's gradient is the identity.
            quantized_out = x + (quantized_out - x).detach()
        return quantized_out, torch.stack(codes), torch.cat(losses), n_expired

    def encode(self, x: torch.Tensor, n_q: int | None = None) -> torch.Tensor:
        """`x [B, D, T]` -> codes `[K, B, T]`."""
        residual = x
        codes = []
        for layer in self.vq_layers[:n_q]:
            indices = layer.encode(residual)
            residual = residual - layer.decode(indices)
            codes.append(indices)
        return torch.stack(codes)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """codes `[K, B, T]` -> latent `[B, D, T]` (sum of the K codebook vectors)."""
        layers = self.vq_layers
        out = layers[0].decode(codes[0])
        for layer, indices in zip(layers[1:], codes[1:]):
            out = out + layer.decode(indices)
        return out
