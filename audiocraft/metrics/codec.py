"""Codec reconstruction metrics: SI-SNR and mel distance, as torchmetrics Metrics.

Written from their formulas (metrics do not import the training losses):

- SI-SNR (dB) of each channel of each item, means removed:
  ``s = <x, y> y / |y|^2``, ``SI-SNR = 10 log10(|s|^2 / |x - s|^2)``, averaged over
  items and channels.
- Mel distance: the mean absolute difference of log10 mel spectrograms (HTK mel scale,
  magnitude, periodic Hann window, ``log10(mel + 1e-5)``), averaged over items.
"""

from __future__ import annotations

import math

import torch
from torchmetrics import Metric

__all__ = ["si_snr", "log_mel_spectrogram", "SISNR", "MelDistance"]


def si_snr(estimate: torch.Tensor, reference: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """SI-SNR in dB of ``estimate`` against ``reference`` (``[..., T]``), shape ``[...]``."""
    x = estimate.double() - estimate.double().mean(-1, keepdim=True)
    y = reference.double() - reference.double().mean(-1, keepdim=True)
    scale = (x * y).sum(-1, keepdim=True) / (y.pow(2).sum(-1, keepdim=True) + eps)
    target = scale * y
    noise = x - target
    return 10 * torch.log10((target.pow(2).sum(-1) + eps) / (noise.pow(2).sum(-1) + eps))


def _mel_filters(sample_rate: int, n_fft: int, n_mels: int) -> torch.Tensor:
    """Triangular HTK mel filters ``[n_fft // 2 + 1, n_mels]`` from 0 Hz to Nyquist."""
    def to_mel(f: float) -> float:
        return 2595.0 * math.log10(1.0 + f / 700.0)

    freqs = torch.linspace(0, sample_rate / 2, n_fft // 2 + 1, dtype=torch.float64)
    mels = torch.linspace(0.0, to_mel(sample_rate / 2), n_mels + 2, dtype=torch.float64)
    edges = 700.0 * (10.0 ** (mels / 2595.0) - 1.0)  # [n_mels + 2]
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (freqs[:, None] - lower) / (centre - lower)
    falling = (upper - freqs[:, None]) / (upper - centre)
    return torch.clamp(torch.minimum(rising, falling), min=0.0).float()


def log_mel_spectrogram(wav: torch.Tensor, sample_rate: int, n_fft: int = 1024,
                        hop_length: int = 256, n_mels: int = 64,
                        floor: float = 1e-5) -> torch.Tensor:
    """``log10(mel + floor)`` of ``wav [..., T]`` -> ``[..., n_mels, frames]`` (centred
    frames; signals shorter than ``n_fft`` are zero-padded to it)."""
    shape = wav.shape[:-1]
    flat = wav.reshape(-1, wav.shape[-1]).float()
    if flat.shape[-1] < n_fft:
        flat = torch.nn.functional.pad(flat, (0, n_fft - flat.shape[-1]))
    spec = torch.stft(flat, n_fft, hop_length, window=torch.hann_window(n_fft).to(flat),
                      center=True, return_complex=True).abs()  # [N, F, frames]
    mel = torch.einsum("nft,fm->nmt", spec, _mel_filters(sample_rate, n_fft, n_mels).to(flat))
    return torch.log10(mel + floor).reshape(*shape, n_mels, -1)


def _check_pair(preds: torch.Tensor, targets: torch.Tensor) -> None:
    if preds.dim() != 3 or preds.shape != targets.shape:
        raise ValueError(f"Expected preds and targets [B, C, T] of one shape, got "
                         f"{tuple(preds.shape)} and {tuple(targets.shape)}.")


class SISNR(Metric):
    """Mean SI-SNR (dB) of reconstructions ``preds`` against ``targets`` (``[B, C, T]``),
    over items and channels; items cut to ``sizes [B]`` samples when given.

    ``compute()`` returns ``{"sisnr": value}``.
    """

    full_state_update = False
    higher_is_better = True
    is_differentiable = False
    total: torch.Tensor
    count: torch.Tensor

    def __init__(self, eps: float = 1e-8):
        super().__init__()
        self.eps = eps
        self.add_state("total", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, preds: torch.Tensor, targets: torch.Tensor,
               sizes: torch.Tensor | None = None) -> None:
        _check_pair(preds, targets)
        if sizes is None:
            values = si_snr(preds, targets, self.eps).flatten()
        else:
            values = torch.cat([si_snr(p[:, : int(n)], t[:, : int(n)], self.eps)
                                for p, t, n in zip(preds, targets, sizes)])
        self.total += values.sum().to(self.device)
        self.count += values.numel()

    def compute(self) -> dict[str, float]:
        if float(self.count) == 0:
            raise ValueError("SI-SNR has no items: call update first.")
        return {"sisnr": float(self.total / self.count)}


class MelDistance(Metric):
    """Mean L1 distance between log10 mel spectrograms of ``preds`` and ``targets``
    (``[B, C, T]`` at ``sample_rate``); one distance per item, averaged over items.

    ``compute()`` returns ``{"mel": value}``.
    """

    full_state_update = False
    higher_is_better = False
    is_differentiable = False
    total: torch.Tensor
    count: torch.Tensor

    def __init__(self, sample_rate: int, n_fft: int = 1024, hop_length: int = 256,
                 n_mels: int = 64, floor: float = 1e-5):
        super().__init__()
        self.sample_rate, self.n_fft, self.hop_length = sample_rate, n_fft, hop_length
        self.n_mels, self.floor = n_mels, floor
        self.add_state("total", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, preds: torch.Tensor, targets: torch.Tensor,
               sizes: torch.Tensor | None = None) -> None:
        _check_pair(preds, targets)
        lengths = [preds.shape[-1]] * len(preds) if sizes is None else [int(n) for n in sizes]
        for p, t, n in zip(preds, targets, lengths):
            mels = log_mel_spectrogram(torch.stack([p[:, :n], t[:, :n]]), self.sample_rate,
                                       self.n_fft, self.hop_length, self.n_mels, self.floor)
            self.total += (mels[0] - mels[1]).abs().mean().double().to(self.device)
            self.count += 1

    def compute(self) -> dict[str, float]:
        if float(self.count) == 0:
            raise ValueError("Mel distance has no items: call update first.")
        return {"mel": float(self.total / self.count)}
