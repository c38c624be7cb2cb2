"""Quantizer interface and its typed result."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn


@dataclass
class QuantizedResult:
    """Output of a quantizer's forward (and of `CompressionModel.forward`).

    Attributes:
        x: quantized latent `[B, D, T_f]` (straight-through in training); the model's
            forward replaces it by the decoded audio `[B, C, T]`.
        codes: `[B, K, T_f]` long.
        bandwidth: bits per second for the codebooks in use (kbps), a 0-dim tensor.
        penalty: commitment loss (0-dim tensor; 0 outside training), or None.
        metrics: extra scalars to log.
    """

    x: torch.Tensor
    codes: torch.Tensor
    bandwidth: torch.Tensor
    penalty: torch.Tensor | None = None
    metrics: dict[str, torch.Tensor] = field(default_factory=dict)


class BaseQuantizer(nn.Module):
    """A latent quantizer: `forward(x [B, D, T], frame_rate)`, `encode`, `decode`."""

    def forward(self, x: torch.Tensor, frame_rate: int | float) -> QuantizedResult:
        raise NotImplementedError

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Latent `[B, D, T]` -> codes `[B, K, T]`."""
        raise NotImplementedError

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes `[B, K, T]` -> latent `[B, D, T]`."""
        raise NotImplementedError

    @property
    def total_codebooks(self) -> int:
        raise NotImplementedError

    @property
    def num_codebooks(self) -> int:
        raise NotImplementedError

    @property
    def cardinality(self) -> int:
        raise NotImplementedError

    def set_num_codebooks(self, n: int) -> None:
        raise NotImplementedError


class DummyQuantizer(BaseQuantizer):
    """No quantization: the latent passes through; 'codes' are the latent itself,
    `[B, 1, D, T]` (a continuous autoencoder, for ablations)."""

    def __init__(self, dimension: int = 128):
        super().__init__()
        self.dimension = dimension

    def forward(self, x: torch.Tensor, frame_rate: int | float) -> QuantizedResult:
        bandwidth = torch.tensor(x.shape[1] * 32 * frame_rate / 1000, device=x.device)
        return QuantizedResult(x, x.unsqueeze(1), bandwidth, torch.zeros((), device=x.device))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return x.unsqueeze(1)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        return codes.squeeze(1)

    @property
    def total_codebooks(self) -> int:
        return 1

    @property
    def num_codebooks(self) -> int:
        return 1

    @property
    def cardinality(self) -> int:
        return 0

    def set_num_codebooks(self, n: int) -> None:
        raise AttributeError("DummyQuantizer has no codebooks to set.")
