"""Spectral reconstruction losses: mel, multi-scale mel, multi-resolution STFT.

All take (estimate [B, C, T], reference [B, C, T]) and return a scalar.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from .specs import MelSpectrogram, stft_magnitude


class MelSpectrogramL1Loss(nn.Module):
    """L1 distance between log-mel spectrograms."""

    def __init__(
        self,
        sample_rate: int,
        n_fft: int = 1024,
        hop_length: int = 256,
        win_length: int = 1024,
        n_mels: int = 80,
        f_min: float = 0.0,
        f_max: float | None = None,
        log: bool = True,
        normalized: bool = False,
        floor_level: float = 1e-5,
    ):
        super().__init__()
        self.mel = MelSpectrogram(
            sample_rate, n_fft, hop_length, win_length, n_mels, f_min, f_max,
            normalized=normalized, log=log, floor_level=floor_level,
        )

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.l1_loss(self.mel(x), self.mel(y))


class MultiScaleMelSpectrogramLoss(nn.Module):
    """Mel distances at FFT sizes 2**range_start ... 2**(range_end - 1), hop = n_fft / 4.

    Each scale adds an L1 on the linear mel and an L2 on the log mel; with `alphas` the
    log term of scale 2**i is weighted by sqrt(2**i - 1) (the EnCodec paper), else 1.
    The sum is divided by the total weight so the value does not grow with the scales.
    """

    def __init__(
        self,
        sample_rate: int,
        range_start: int = 6,
        range_end: int = 11,
        n_mels: int = 64,
        f_min: float = 0.0,
        f_max: float | None = None,
        normalized: bool = False,
        alphas: bool = True,
        floor_level: float = 1e-5,
    ):
        super().__init__()
        if range_end <= range_start:
            raise ValueError(
                f"msspec range_end ({range_end}) must exceed range_start ({range_start}).")
        self.floor_level = floor_level
        self.linear = nn.ModuleList()
        self.alphas: list[float] = []
        for i in range(range_start, range_end):
            n_fft = 2**i
            self.linear.append(MelSpectrogram(
                sample_rate, n_fft, n_fft // 4, n_fft, n_mels, f_min, f_max,
                normalized=normalized, log=False,
            ))
            self.alphas.append(float((2**i - 1) ** 0.5) if alphas else 1.0)
        self.total = sum(1.0 + a for a in self.alphas)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        loss = x.new_zeros(())
        for mel, alpha in zip(self.linear, self.alphas):
            mx, my = mel(x), mel(y)
            loss = loss + F.l1_loss(mx, my)
            log_x = torch.log(mx + self.floor_level)
            log_y = torch.log(my + self.floor_level)
            loss = loss + alpha * F.mse_loss(log_x, log_y)
        return loss / self.total


class MRSTFTLoss(nn.Module):
    """Multi-resolution STFT loss: spectral convergence plus log-magnitude L1, averaged
    over resolutions, weighted by `factor_sc` and `factor_mag`.

    `mag_floor` is added to both magnitudes before the log (the magnitudes themselves are
    floored at 1e-7, the reference behaviour, which `mag_floor=0` keeps). On sparse, clean
    spectra (synthetic tones, silence between notes) a floor well above 1e-7 stops the
    near-silent bins between partials from dominating the log term, so the loss weighs
    the partials themselves.

    `sc_octaves` > 0 computes the spectral convergence per octave band (the top
    `sc_octaves - 1` octaves below Nyquist, then everything lower as one band) and
    averages the bands, each relative to its own target norm (plus `sc_band_floor` times
    the whole spectrum's, so near-empty bands do not explode). The plain term is ruled by
    the loudest bins (the bass, for most music); per band, the quieter upper octaves that
    carry chord tones and melody count as much. 0 keeps the whole-spectrum term.
    """

    def __init__(
        self,
        n_ffts: Sequence[int] = (1024, 2048, 512),
        hop_lengths: Sequence[int] = (120, 240, 50),
        win_lengths: Sequence[int] = (600, 1200, 240),
        factor_sc: float = 0.1,
        factor_mag: float = 0.1,
        normalized: bool = False,
        mag_floor: float = 0.0,
        sc_octaves: int = 0,
        sc_band_floor: float = 0.01,
    ):
        super().__init__()
        if mag_floor < 0:
            raise ValueError(f"mrstft mag_floor must be >= 0, got {mag_floor}.")
        if sc_octaves < 0 or sc_band_floor <= 0:
            raise ValueError(
                f"mrstft sc_octaves must be >= 0 (got {sc_octaves}) and sc_band_floor > 0 "
                f"(got {sc_band_floor}).")
        if any(n_fft // 2 >> (sc_octaves - 1) < 2 for n_fft in n_ffts if sc_octaves):
            raise ValueError(
                f"mrstft sc_octaves={sc_octaves} leaves less than 2 bins in the lowest band "
                f"of the {min(n_ffts)}-point FFT: use fewer octaves or longer FFTs.")
        if not len(n_ffts) == len(hop_lengths) == len(win_lengths):
            raise ValueError(
                "mrstft n_ffts, hop_lengths and win_lengths must have the same length.")
        self.resolutions = list(zip(n_ffts, hop_lengths, win_lengths))
        self.factor_sc = factor_sc
        self.factor_mag = factor_mag
        self.normalized = normalized
        self.mag_floor = mag_floor
        self.sc_octaves = sc_octaves
        self.sc_band_floor = sc_band_floor
        for i, (_, _, win) in enumerate(self.resolutions):
            self.register_buffer(f"window_{i}", torch.hann_window(win), persistent=False)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        sc_loss = x.new_zeros(())
        mag_loss = x.new_zeros(())
        for i, (n_fft, hop, win) in enumerate(self.resolutions):
            window = getattr(self, f"window_{i}")
            mx = stft_magnitude(x, n_fft, hop, win, window)  # [B*C, frames, F]
            my = stft_magnitude(y, n_fft, hop, win, window)
            if self.normalized:
                mx, my = mx / win**0.5, my / win**0.5
            sc_loss = sc_loss + self._spectral_convergence(mx, my, n_fft)
            mag_loss = mag_loss + F.l1_loss(torch.log(mx + self.mag_floor),
                                            torch.log(my + self.mag_floor))
        n = len(self.resolutions)
        return (self.factor_sc * sc_loss + self.factor_mag * mag_loss) / n

    def _spectral_convergence(self, mx: torch.Tensor, my: torch.Tensor,
                              n_fft: int) -> torch.Tensor:
        """||my - mx|| / ||my|| over magnitudes ``[B*C, frames, F]``, whole or per octave."""
        if not self.sc_octaves:
            return torch.linalg.norm(my - mx) / torch.linalg.norm(my)
        floor = self.sc_band_floor * torch.linalg.norm(my)
        top = n_fft // 2 + 1
        edges = [top] + [n_fft // 2 >> k for k in range(1, self.sc_octaves)] + [0]
        terms = [torch.linalg.norm(my[..., lo:hi] - mx[..., lo:hi])
                 / (torch.linalg.norm(my[..., lo:hi]) + floor)
                 for hi, lo in zip(edges[:-1], edges[1:])]
        return torch.stack(terms).mean()


class STFTLoss(MRSTFTLoss):
    """Single-resolution STFT loss (the reference's `STFTLoss`): spectral convergence plus
    log-magnitude L1 at one FFT size; `MRSTFTLoss` with one resolution."""

    def __init__(self, n_fft: int = 1024, hop_length: int = 120, win_length: int = 600,
                 factor_sc: float = 0.1, factor_mag: float = 0.1, normalized: bool = False,
                 mag_floor: float = 0.0):
        super().__init__((n_fft,), (hop_length,), (win_length,), factor_sc, factor_mag,
                         normalized, mag_floor)
