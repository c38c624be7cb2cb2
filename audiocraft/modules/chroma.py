"""Chroma features: energy per pitch class over time, the melody representation of MusicGen.

A power spectrogram (periodic Hann window, centred frames with reflect padding, scaled by
the window's L2 norm) is projected on a chroma filter bank, then each frame is normalised
(max norm by default). With `argmax=True` each frame becomes one-hot on its strongest
pitch class, which is what MusicGen-Melody conditions on.

The filter bank follows the usual chroma construction (librosa's `filters.chroma` with
tuning 0, centre octave 5, octave width 2, L2-normalised columns, rows starting at C),
computed here from its formula so that librosa is not needed.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def chroma_filter_bank(sample_rate: int, n_fft: int, n_chroma: int = 12, tuning: float = 0.0,
                       ctroct: float = 5.0, octwidth: float | None = 2.0,
                       base_c: bool = True) -> np.ndarray:
    """Chroma filter bank [n_chroma, n_fft // 2 + 1] (float32).

    Each FFT bin spreads its energy over pitch classes with a Gaussian bump around its
    fractional pitch class (width: the bin's spacing in chroma bins, at least 1), each
    column normalised to unit L2 norm, then weighted by a Gaussian over octaves centred on
    octave `ctroct` (counted from A440/16 = 27.5 Hz, so 5 is 880 Hz) with a standard
    deviation of `octwidth` octaves.

    Args:
        sample_rate: audio rate; n_fft: FFT size; n_chroma: pitch classes per octave;
        tuning: deviation from A440 in fractions of a chroma bin;
        ctroct, octwidth: centre and width (octaves) of the octave weighting, None for flat;
        base_c: rows start at C (otherwise at A).
    """
    # Fractional chroma-bin position of every FFT bin but DC: octaves above A440/16 (A0 is
    # 27.5 Hz), times bins per octave.
    freqs = np.linspace(0, sample_rate, n_fft, endpoint=False)[1:]
    a440 = 440.0 * 2.0 ** (tuning / n_chroma)
    frqbins = n_chroma * np.log2(freqs / (a440 / 16.0))
    # The DC bin gets a made-up position 1.5 octaves below bin 1 (a broad, rotated bump).
    frqbins = np.concatenate(([frqbins[0] - 1.5 * n_chroma], frqbins))
    binwidth = np.concatenate((np.maximum(frqbins[1:] - frqbins[:-1], 1.0), [1.0]))
    # Distance of each bin to each pitch class, wrapped to [-n_chroma/2, n_chroma/2).
    dist = frqbins[None, :] - np.arange(n_chroma, dtype=np.float64)[:, None]  # [n_chroma, n_fft]
    half = np.round(n_chroma / 2.0)
    dist = np.remainder(dist + half + 10 * n_chroma, n_chroma) - half
    wts = np.exp(-0.5 * (2.0 * dist / binwidth[None, :]) ** 2)
    norms = np.sqrt((wts ** 2).sum(axis=0, keepdims=True))
    wts = wts / np.where(norms > np.finfo(wts.dtype).tiny, norms, 1.0)
    if octwidth is not None:
        wts = wts * np.exp(-0.5 * ((frqbins / n_chroma - ctroct) / octwidth) ** 2)[None, :]
    if base_c:
        wts = np.roll(wts, -3 * (n_chroma // 12), axis=0)
    return np.ascontiguousarray(wts[:, : 1 + n_fft // 2], dtype=np.float32)


class ChromaExtractor(nn.Module):
    """Chroma of a waveform.

    Args:
        sample_rate: audio rate.
        n_chroma: pitch classes.
        radix2_exp: window length 2 ** radix2_exp when `winlen` is not given (MusicGen-
            Melody uses 14: 16384 samples, hop 4096 at 32 kHz).
        nfft: FFT size (default: the window length).
        winlen: window length; winhop: hop (default: winlen // 4).
        argmax: one-hot the strongest pitch class of every frame.
        norm: p of the per-frame normalisation (inf: divide by the max).
    """

    def __init__(self, sample_rate: int, n_chroma: int = 12, radix2_exp: int = 12,
                 nfft: int | None = None, winlen: int | None = None, winhop: int | None = None,
                 argmax: bool = False, norm: float = math.inf):
        super().__init__()
        self.winlen = winlen or 2 ** radix2_exp
        self.nfft = nfft or self.winlen
        self.winhop = winhop or (self.winlen // 4)
        if self.winlen > self.nfft:
            raise ValueError(f"winlen ({self.winlen}) cannot exceed nfft ({self.nfft}).")
        self.sample_rate = sample_rate
        self.n_chroma = n_chroma
        self.norm = norm
        self.argmax = argmax
        fbanks = torch.from_numpy(chroma_filter_bank(sample_rate, self.nfft, n_chroma))
        self.register_buffer("fbanks", fbanks, persistent=False)  # [n_chroma, nfft // 2 + 1]
        self.register_buffer("window", torch.hann_window(self.winlen), persistent=False)

    def num_frames(self, num_samples: int) -> int:
        """Frames for an input of `num_samples` samples (centred frames)."""
        return 1 + max(num_samples, self.nfft) // self.winhop

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """Chroma of wav [B, T] or [B, 1, T] (mono) -> [B, frames, n_chroma]."""
        if wav.dim() == 3:
            if wav.shape[1] != 1:
                raise ValueError(
                    f"Chroma needs mono audio [B, 1, T], got {wav.shape[1]} channels: average "
                    "them first (wav.mean(1, keepdim=True))."
                )
            wav = wav[:, 0]
        elif wav.dim() != 2:
            raise ValueError(f"Expected wav [B, T] or [B, 1, T], got shape {tuple(wav.shape)}.")
        T = wav.shape[-1]
        if T < self.nfft:
            # Null (length-1) and short inputs: zero-pad symmetrically to one window so the
            # reflect padding of the STFT is defined.
            pad = self.nfft - T
            wav = F.pad(wav, (pad // 2, pad - pad // 2))  # [B, nfft]
        window: torch.Tensor = self.window  # type: ignore[assignment]
        spec = torch.stft(
            wav.float(), n_fft=self.nfft, hop_length=self.winhop, win_length=self.winlen,
            window=window, center=True, pad_mode="reflect", normalized=False,
            onesided=True, return_complex=True,
        )  # [B, F, frames]
        power = (spec.abs() / window.pow(2).sum().sqrt()).pow(2)
        fbanks: torch.Tensor = self.fbanks  # type: ignore[assignment]
        raw = torch.einsum("cf,bft->bct", fbanks, power)  # [B, n_chroma, frames]
        chroma = F.normalize(raw, p=self.norm, dim=-2, eps=1e-6).transpose(1, 2)
        if self.argmax:
            idx = chroma.argmax(dim=-1, keepdim=True)
            chroma = torch.zeros_like(chroma).scatter_(-1, idx, 1.0)
        return chroma  # [B, frames, n_chroma]
