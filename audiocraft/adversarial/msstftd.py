"""Multi-scale STFT discriminator (the EnCodec paper, section 3.3).

Each scale looks at the complex STFT (real and imaginary parts as channels) of the audio
at one resolution, through 2-d convolutions strided along frequency and dilated along
time. It returns logits and the feature maps used by the feature-matching loss.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm, weight_norm

_NORMS = {"weight_norm": weight_norm, "spectral_norm": spectral_norm, "none": lambda m: m}


@dataclass
class DiscriminatorOutput:
    """logits: one tensor per scale, [B, out_channels, frames, freq];
    fmaps: per scale, the list of intermediate activations."""

    logits: list[torch.Tensor]
    fmaps: list[list[torch.Tensor]]


def _norm(module: nn.Module, norm: str) -> nn.Module:
    if norm not in _NORMS:
        raise ValueError(f"unknown discriminator norm {norm!r}; choose one of {sorted(_NORMS)}.")
    return _NORMS[norm](module)  # type: ignore[operator]


class DiscriminatorSTFT(nn.Module):
    """One STFT scale of the discriminator. Input [B, C, T]."""

    def __init__(self, filters: int, in_channels: int = 1, out_channels: int = 1,
                 n_fft: int = 1024, hop_length: int = 256, win_length: int = 1024,
                 max_filters: int = 1024, filters_scale: int = 1,
                 kernel_size: tuple[int, int] = (3, 9), dilations: Sequence[int] = (1, 2, 4),
                 stride: tuple[int, int] = (1, 2), normalized: bool = True,
                 norm: str = "weight_norm", activation_slope: float = 0.2):
        super().__init__()
        self.n_fft, self.hop_length, self.win_length = n_fft, hop_length, win_length
        self.normalized = normalized
        self.window: torch.Tensor
        self.register_buffer("window", torch.hann_window(win_length), persistent=False)
        self.activation = nn.LeakyReLU(activation_slope)
        pad = (kernel_size[0] // 2, kernel_size[1] // 2)
        convs = [_norm(nn.Conv2d(2 * in_channels, filters, kernel_size, padding=pad), norm)]
        ch = filters
        for i, d in enumerate(dilations):
            out_ch = min(filters_scale ** (i + 1) * filters, max_filters)
            convs.append(_norm(nn.Conv2d(
                ch, out_ch, kernel_size, stride=stride, dilation=(d, 1),
                padding=(d * (kernel_size[0] - 1) // 2, pad[1])), norm))
            ch = out_ch
        out_ch = min(filters_scale ** (len(dilations) + 1) * filters, max_filters)
        convs.append(_norm(nn.Conv2d(ch, out_ch, (kernel_size[0], kernel_size[0]),
                                     padding=(pad[0], pad[0])), norm))
        self.convs = nn.ModuleList(convs)
        self.conv_post = _norm(nn.Conv2d(out_ch, out_channels, (kernel_size[0], kernel_size[0]),
                                         padding=(pad[0], pad[0])), norm)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        B, C, T = x.shape
        spec = torch.stft(x.reshape(B * C, T).float(), self.n_fft, self.hop_length,
                          self.win_length, self.window, normalized=self.normalized,
                          return_complex=True)  # [B*C, F, frames]
        spec = torch.view_as_real(spec).reshape(B, C, *spec.shape[1:], 2)  # [B, C, F, frames, 2]
        z = spec.permute(0, 1, 4, 3, 2).reshape(B, 2 * C, spec.shape[3], spec.shape[2])
        fmaps = []
        for conv in self.convs:  # z: [B, ch, frames, F]
            z = self.activation(conv(z))
            fmaps.append(z)
        return self.conv_post(z), fmaps


class MultiScaleSTFTDiscriminator(nn.Module):
    """The discriminators of several STFT resolutions side by side. Input [B, C, T]."""

    def __init__(self, filters: int = 32, in_channels: int = 1, out_channels: int = 1,
                 n_ffts: Sequence[int] = (1024, 2048, 512, 256, 128),
                 hop_lengths: Sequence[int] = (256, 512, 128, 64, 32),
                 win_lengths: Sequence[int] = (1024, 2048, 512, 256, 128),
                 norm: str = "weight_norm", activation_slope: float = 0.3, **kwargs):
        super().__init__()
        if not len(n_ffts) == len(hop_lengths) == len(win_lengths):
            raise ValueError(
                "msstftd n_ffts, hop_lengths and win_lengths must have the same length.")
        self.discriminators = nn.ModuleList([
            DiscriminatorSTFT(filters, in_channels, out_channels, n_fft=n, hop_length=h,
                              win_length=w, norm=norm, activation_slope=activation_slope, **kwargs)
            for n, h, w in zip(n_ffts, hop_lengths, win_lengths)
        ])

    def forward(self, x: torch.Tensor) -> DiscriminatorOutput:
        logits, fmaps = [], []
        for disc in self.discriminators:
            logit, fmap = disc(x)
            logits.append(logit)
            fmaps.append(fmap)
        return DiscriminatorOutput(logits, fmaps)
