"""Residual vector quantizer: the quantizer of EnCodec."""

from __future__ import annotations

import math

import torch

from .base import BaseQuantizer, QuantizedResult
from .core_vq import ResidualVectorQuantization
from .distrib import broadcast_tensors


class ResidualVectorQuantizer(BaseQuantizer):
    """Residual VQ with `n_q` codebooks of `bins` entries on latents of size `dimension`.

    Args:
        q_dropout: in training, use a random number of codebooks in [1, n_q] per batch.
        decay: EMA decay of the codebooks.
        kmeans_init / kmeans_iters: initialise each codebook by k-means on its first batch.
        threshold_ema_dead_code: codes whose EMA count falls below it are replaced.
        orthogonal_reg_*: accepted for config compatibility; only 0 weight is supported.
    """

    def __init__(
        self,
        dimension: int = 256,
        n_q: int = 8,
        q_dropout: bool = False,
        bins: int = 1024,
        decay: float = 0.99,
        kmeans_init: bool = True,
        kmeans_iters: int = 10,
        threshold_ema_dead_code: float = 2,
        orthogonal_reg_weight: float = 0.0,
        orthogonal_reg_active_codes_only: bool = False,
        orthogonal_reg_max_codes: int | None = None,
    ):
        super().__init__()
        if orthogonal_reg_weight:
            raise ValueError(
                "orthogonal_reg_weight > 0 is not supported: set rvq.orthogonal_reg_weight=0."
            )
        if n_q < 1 or bins < 1:
            raise ValueError(f"Need n_q >= 1 and bins >= 1, got n_q={n_q}, bins={bins}.")
        self.max_n_q = n_q
        self.n_q = n_q
        self.q_dropout = q_dropout
        self.dimension = dimension
        self.bins = bins
        self.vq = ResidualVectorQuantization(
            num_quantizers=n_q,
            dim=dimension,
            codebook_size=bins,
            decay=decay,
            kmeans_init=kmeans_init,
            kmeans_iters=kmeans_iters,
            threshold_ema_dead_code=threshold_ema_dead_code,
        )

    def forward(self, x: torch.Tensor, frame_rate: int | float) -> QuantizedResult:
        """`x [B, D, T]` -> QuantizedResult(x quantized, codes [B, K, T], bandwidth, penalty,
        metrics={'expired_codes'})."""
        n_q = self.n_q
        if self.training and self.q_dropout:
            draw = torch.randint(1, self.n_q + 1, (1,))
            broadcast_tensors([draw])  # every DDP rank must run the same layers
            n_q = int(draw.item())
        bw_per_q = math.log2(self.bins) * frame_rate / 1000
        quantized, codes, losses, n_expired = self.vq(x, n_q=n_q)
        codes = codes.transpose(0, 1)  # [B, K, T]
        bandwidth = torch.tensor(n_q * bw_per_q, device=x.device)
        metrics = {"expired_codes": torch.tensor(float(n_expired))}
        return QuantizedResult(quantized, codes, bandwidth, penalty=losses.mean(), metrics=metrics)

    @torch.no_grad()
    def init_codebooks_(self, x: torch.Tensor, generator: torch.Generator | None = None) -> None:
        """(Re)initialise every codebook from latents `x [B, D, T]`, layer k from what layers
        < k leave, without any EMA step: k-means when there are at least twice as many
        vectors as bins, else Gaussian vectors with the residual's mean and std per dim.
        For models whose codes should be diverse before training (debug presets, tests)."""
        residual = x
        for layer in self.vq.vq_layers:
            codebook = layer._codebook
            flat = residual.transpose(1, 2).reshape(-1, x.shape[1])  # [N, D]
            if flat.shape[0] >= 2 * self.bins:
                codebook.inited.fill_(0)
                codebook.init_embed_(flat)
            else:
                noise = torch.randn(self.bins, flat.shape[1], generator=generator, dtype=flat.dtype)
                embed = flat.mean(0) + noise.to(flat.device) * flat.std(0)
                codebook.embed.copy_(embed)
                codebook.embed_avg.copy_(embed)
                codebook.cluster_size.fill_(1.0)
                codebook.inited.fill_(1)
            residual = residual - layer.decode(layer.encode(residual))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Latent `[B, D, T]` -> codes `[B, n_q, T]` (long)."""
        return self.vq.encode(x, n_q=self.n_q).transpose(0, 1)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes `[B, K, T]` (K <= total codebooks, values in [0, bins)) -> latent `[B, D, T]`."""
        if codes.dim() != 3 or codes.shape[1] < 1 or codes.shape[1] > self.max_n_q:
            raise ValueError(
                f"Codes must be [B, K, T] with 1 <= K <= {self.max_n_q}, got {tuple(codes.shape)}."
            )
        if codes.is_floating_point():
            raise ValueError(f"Codes must be integers, got {codes.dtype}.")
        if codes.numel() and (int(codes.min()) < 0 or int(codes.max()) >= self.bins):
            raise ValueError(
                f"Codes out of range: values must be in [0, {self.bins}), got [{int(codes.min())}, "
                f"{int(codes.max())}]. Were they made by another model (or do they hold a special "
                "token)?"
            )
        return self.vq.decode(codes.transpose(0, 1))

    @property
    def total_codebooks(self) -> int:
        return self.max_n_q

    @property
    def num_codebooks(self) -> int:
        return self.n_q

    @property
    def cardinality(self) -> int:
        return self.bins

    def set_num_codebooks(self, n: int) -> None:
        if not 0 < n <= self.max_n_q:
            raise ValueError(f"Number of codebooks must be in [1, {self.max_n_q}], got {n}.")
        self.n_q = n
