"""Scale-invariant signal-to-noise ratio, as a loss (negative SI-SNR) and as a metric."""

from __future__ import annotations

import torch
from torch import nn


def si_snr(estimate: torch.Tensor, reference: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """SI-SNR in dB of [..., T] signals (means removed), shape [...]."""
    estimate = estimate - estimate.mean(dim=-1, keepdim=True)
    reference = reference - reference.mean(dim=-1, keepdim=True)
    dot = (estimate * reference).sum(dim=-1, keepdim=True)
    target = dot * reference / (reference.pow(2).sum(dim=-1, keepdim=True) + eps)
    noise = estimate - target
    ratio = target.pow(2).sum(dim=-1) / (noise.pow(2).sum(dim=-1) + eps)
    return 10 * torch.log10(ratio + eps)


class SISNRLoss(nn.Module):
    """Negative SI-SNR averaged over segments of `segment` seconds (overlap 50%).

    Segments make the loss care about quiet passages as much as loud ones. With
    `segment=None` the whole signal is one segment. Inputs [B, C, T]; scalar output.
    """

    def __init__(self, sample_rate: int = 16000, segment: float | None = 20.0,
                 overlap: float = 0.5, epsilon: float = 1e-8):
        super().__init__()
        self.sample_rate = sample_rate
        self.segment = segment
        self.overlap = overlap
        self.epsilon = epsilon

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        T = x.shape[-1]
        size = T if self.segment is None else min(T, int(self.segment * self.sample_rate))
        stride = max(1, int(size * (1 - self.overlap)))
        xs = x.float().unfold(-1, size, stride)  # [B, C, n_segments, size]
        ys = y.float().unfold(-1, size, stride)
        return -si_snr(xs, ys, self.epsilon).mean()
