"""Spectrogram front-ends shared by the spectral losses and the discriminator.

torchaudio is not a dependency, so the mel filterbank (HTK mel scale, no area
normalisation, the torchaudio defaults) is built here from its formula.
"""

from __future__ import annotations

import torch
from torch import nn


def hz_to_mel(freq: float | torch.Tensor) -> torch.Tensor:
    """HTK mel scale."""
    return 2595.0 * torch.log10(1.0 + torch.as_tensor(freq, dtype=torch.float64) / 700.0)


def mel_to_hz(mel: torch.Tensor) -> torch.Tensor:
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


def mel_filterbank(
    sample_rate: int, n_fft: int, n_mels: int, f_min: float = 0.0, f_max: float | None = None
) -> torch.Tensor:
    """Triangular mel filters, shape [n_fft // 2 + 1, n_mels] (linear bins to mel bands)."""
    f_max = sample_rate / 2 if f_max is None else f_max
    if not 0 <= f_min < f_max <= sample_rate / 2:
        raise ValueError(
            f"mel range [{f_min}, {f_max}] Hz must lie inside [0, {sample_rate / 2}] (Nyquist)."
        )
    bins = torch.linspace(0, sample_rate / 2, n_fft // 2 + 1, dtype=torch.float64)
    mels = torch.linspace(hz_to_mel(f_min).item(), hz_to_mel(f_max).item(), n_mels + 2)
    edges = mel_to_hz(mels.double())  # [n_mels + 2]
    lower, center, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (bins[:, None] - lower[None]) / (center - lower)[None]
    falling = (upper[None] - bins[:, None]) / (upper - center)[None]
    return torch.clamp(torch.minimum(rising, falling), min=0.0).float()  # [F, n_mels]


class MelSpectrogram(nn.Module):
    """Magnitude mel spectrogram of a waveform.

    Args:
        sample_rate, n_fft, hop_length, win_length, n_mels, f_min, f_max: usual meanings.
        normalized: scale the STFT by 1 / sqrt(window energy) (as `torch.stft(normalized=True)`).
        log: return log10(mel + floor_level) instead of the linear mel magnitude.
        floor_level: floor added before the log (avoids log(0)).
    Input [B, C, T] (or [B, T]); output [B, C, n_mels, frames].
    """

    def __init__(
        self,
        sample_rate: int,
        n_fft: int = 1024,
        hop_length: int = 256,
        win_length: int | None = None,
        n_mels: int = 80,
        f_min: float = 0.0,
        f_max: float | None = None,
        normalized: bool = False,
        log: bool = True,
        floor_level: float = 1e-5,
    ):
        super().__init__()
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.win_length = win_length or n_fft
        self.normalized = normalized
        self.log = log
        self.floor_level = floor_level
        self.window: torch.Tensor
        self.fbank: torch.Tensor
        self.register_buffer("window", torch.hann_window(self.win_length), persistent=False)
        fbank = mel_filterbank(sample_rate, n_fft, n_mels, f_min, f_max)
        self.register_buffer("fbank", fbank, persistent=False)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        if wav.dim() == 2:
            wav = wav[:, None]
        B, C, T = wav.shape
        flat = wav.reshape(B * C, T).float()
        # Pad so short signals still yield at least one frame and frames cover the ends.
        pad = max(0, self.n_fft - T) + (self.n_fft - self.hop_length) // 2
        flat = nn.functional.pad(flat, (pad, pad), mode="constant" if T <= pad else "reflect")
        spec = torch.stft(
            flat, self.n_fft, self.hop_length, self.win_length, self.window,
            center=False, normalized=self.normalized, return_complex=True,
        ).abs()  # [B*C, F, frames]
        mel = torch.einsum("bft,fm->bmt", spec, self.fbank)  # [B*C, n_mels, frames]
        if self.log:
            mel = torch.log10(mel + self.floor_level)
        return mel.reshape(B, C, mel.shape[-2], mel.shape[-1])


def stft_magnitude(
    wav: torch.Tensor, n_fft: int, hop_length: int, win_length: int, window: torch.Tensor
) -> torch.Tensor:
    """|STFT| of [B, C, T] audio, shape [B*C, frames, n_fft // 2 + 1], floored at 1e-7."""
    flat = wav.reshape(-1, wav.shape[-1]).float()
    spec = torch.stft(flat, n_fft, hop_length, win_length, window, return_complex=True)
    return torch.clamp(spec.abs(), min=1e-7).transpose(1, 2)

