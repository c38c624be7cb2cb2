"""SEANet encoder and decoder (the convolutional halves of EnCodec).

Module indices inside `model` follow the reference layout, so checkpoints load by name:
encoder = conv, [resblocks, act, strided conv] per ratio, (LSTM), act, conv;
decoder = conv, (LSTM), [act, transposed conv, resblocks] per ratio, act, conv, (final act).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .conv import StreamableConv1d, StreamableConvTranspose1d
from .lstm import StreamableLSTM
from .streaming import AddStream, PointwiseStream, Stream, module_stream


class Snake(nn.Module):
    """``x + sin(alpha * x)^2 / alpha``, with a learnt ``alpha`` per channel (Ziyin et al.,
    2020; the activation of BigVGAN and DAC). Periodic in its input, it lets a small
    decoder keep sustained partials in tune where ELUs smear them.
    ``x [B, C, T]``; ``alpha`` is the initial value of every channel's alpha (so the
    ``activation_params: {alpha: 1.0}`` of the ELU configs apply unchanged)."""

    def __init__(self, channels: int, alpha: float = 1.0):
        super().__init__()
        if alpha <= 0:
            raise ValueError(f"Snake alpha must be > 0, got {alpha}.")
        self.alpha = nn.Parameter(torch.full((1, channels, 1), float(alpha)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + torch.sin(self.alpha * x).pow(2) / (self.alpha + 1e-9)

    def stream(self) -> Stream:
        """Chunk by chunk: each time step on its own."""
        return PointwiseStream(self)


def _activation(name: str, params: dict[str, Any] | None, channels: int) -> nn.Module:
    """The activation `name` for `channels` channels: ``Snake``, or a torch.nn module."""
    if name == "Snake":
        return Snake(channels, **(params or {}))
    if not hasattr(nn, name):
        raise ValueError(
            f"Unknown activation '{name}': give 'Snake' or the name of a torch.nn module "
            f"(e.g. 'ELU')."
        )
    return getattr(nn, name)(**(params or {}))


def run_layers(layers: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """`layers(x)`, with ELUs after the first layer applied in place when no gradient is
    recorded: their inputs are fresh intermediate tensors, and large activations cost
    more to allocate than to compute."""
    in_place = not torch.is_grad_enabled()
    for i, layer in enumerate(layers):
        if in_place and i > 0 and type(layer) is nn.ELU:
            x = F.elu(x, layer.alpha, inplace=True)
        else:
            x = layer(x)
    return x


class SEANetResnetBlock(nn.Module):
    """`shortcut(x) + block(x)`, block = [act, conv(k_i, dilation_i)] per kernel size; the
    hidden width is `dim // compress`; shortcut is identity (`true_skip`) or a 1x1 conv."""

    def __init__(
        self,
        dim: int,
        kernel_sizes: Sequence[int] = (3, 1),
        dilations: Sequence[int] = (1, 1),
        activation: str = "ELU",
        activation_params: dict[str, Any] | None = None,
        norm: str = "none",
        norm_params: dict[str, Any] | None = None,
        causal: bool = False,
        pad_mode: str = "reflect",
        compress: int = 2,
        true_skip: bool = True,
    ):
        super().__init__()
        if len(kernel_sizes) != len(dilations):
            raise ValueError("Residual block: need one dilation per kernel size.")
        hidden = dim // compress
        block: list[nn.Module] = []
        for i, (kernel_size, dilation) in enumerate(zip(kernel_sizes, dilations)):
            in_chs = dim if i == 0 else hidden
            out_chs = dim if i == len(kernel_sizes) - 1 else hidden
            block += [
                _activation(activation, activation_params, in_chs),
                StreamableConv1d(
                    in_chs,
                    out_chs,
                    kernel_size,
                    dilation=dilation,
                    norm=norm,
                    causal=causal,
                    pad_mode=pad_mode,
                ),
            ]
        self.block = nn.Sequential(*block)
        self.shortcut: nn.Module = (
            nn.Identity()
            if true_skip
            else StreamableConv1d(dim, dim, 1, norm=norm, causal=causal, pad_mode=pad_mode)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # in place on the block's fresh output (conv backward does not need its output)
        return run_layers(self.block, x).add_(self.shortcut(x))

    def stream(self) -> Stream:
        return AddStream(module_stream(self.shortcut), module_stream(self.block))


class SEANetEncoder(nn.Module):
    """Audio `[B, channels, T]` -> latent `[B, dimension, ceil(T / hop_length)]`.

    Args:
        ratios: the decoder's upsampling ratios; the encoder downsamples in reverse order.
        n_filters: width of the first layer, doubled after each downsampling.
        lstm: number of LSTM layers before the last conv (0 for none).
        disable_norm_outer_blocks: how many outer blocks (counted from the audio side)
            use no normalisation.
    """

    def __init__(
        self,
        channels: int = 1,
        dimension: int = 128,
        n_filters: int = 32,
        n_residual_layers: int = 3,
        ratios: Sequence[int] = (8, 5, 4, 2),
        activation: str = "ELU",
        activation_params: dict[str, Any] | None = None,
        norm: str = "none",
        norm_params: dict[str, Any] | None = None,
        kernel_size: int = 7,
        last_kernel_size: int = 7,
        residual_kernel_size: int = 3,
        dilation_base: int = 2,
        causal: bool = False,
        pad_mode: str = "reflect",
        true_skip: bool = True,
        compress: int = 2,
        lstm: int = 0,
        disable_norm_outer_blocks: int = 0,
    ):
        super().__init__()
        self.channels = channels
        self.dimension = dimension
        self.n_filters = n_filters
        self.ratios = list(reversed(ratios))
        self.n_residual_layers = n_residual_layers
        self.hop_length = int(np.prod(self.ratios))
        self.n_blocks = len(self.ratios) + 2
        self.disable_norm_outer_blocks = disable_norm_outer_blocks
        if not 0 <= disable_norm_outer_blocks <= self.n_blocks:
            raise ValueError(f"disable_norm_outer_blocks must be in [0, {self.n_blocks}].")
        act = activation_params
        mult = 1
        model: list[nn.Module] = [
            StreamableConv1d(
                channels,
                mult * n_filters,
                kernel_size,
                causal=causal,
                pad_mode=pad_mode,
                norm="none" if disable_norm_outer_blocks >= 1 else norm,
            )
        ]
        for i, ratio in enumerate(self.ratios):
            block_norm = "none" if disable_norm_outer_blocks >= i + 2 else norm
            for j in range(n_residual_layers):
                model.append(
                    SEANetResnetBlock(
                        mult * n_filters,
                        kernel_sizes=[residual_kernel_size, 1],
                        dilations=[dilation_base**j, 1],
                        activation=activation,
                        activation_params=act,
                        norm=block_norm,
                        causal=causal,
                        pad_mode=pad_mode,
                        compress=compress,
                        true_skip=true_skip,
                    )
                )
            model += [
                _activation(activation, act, mult * n_filters),
                StreamableConv1d(
                    mult * n_filters,
                    mult * n_filters * 2,
                    kernel_size=ratio * 2,
                    stride=ratio,
                    norm=block_norm,
                    causal=causal,
                    pad_mode=pad_mode,
                ),
            ]
            mult *= 2
        if lstm:
            model.append(StreamableLSTM(mult * n_filters, num_layers=lstm))
        model += [
            _activation(activation, act, mult * n_filters),
            StreamableConv1d(
                mult * n_filters,
                dimension,
                last_kernel_size,
                causal=causal,
                pad_mode=pad_mode,
                norm="none" if disable_norm_outer_blocks == self.n_blocks else norm,
            ),
        ]
        self.model = nn.Sequential(*model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return run_layers(self.model, x)

    def stream(self) -> Stream:
        return module_stream(self.model)


class SEANetDecoder(nn.Module):
    """Latent `[B, dimension, T_f]` -> audio `[B, channels, T_f * hop_length]`.

    Same arguments as `SEANetEncoder`, plus `trim_right_ratio` (causal transposed convs)
    and an optional `final_activation` (torch.nn name) applied to the output.
    """

    def __init__(
        self,
        channels: int = 1,
        dimension: int = 128,
        n_filters: int = 32,
        n_residual_layers: int = 3,
        ratios: Sequence[int] = (8, 5, 4, 2),
        activation: str = "ELU",
        activation_params: dict[str, Any] | None = None,
        final_activation: str | None = None,
        final_activation_params: dict[str, Any] | None = None,
        norm: str = "none",
        norm_params: dict[str, Any] | None = None,
        kernel_size: int = 7,
        last_kernel_size: int = 7,
        residual_kernel_size: int = 3,
        dilation_base: int = 2,
        causal: bool = False,
        pad_mode: str = "reflect",
        true_skip: bool = True,
        compress: int = 2,
        lstm: int = 0,
        disable_norm_outer_blocks: int = 0,
        trim_right_ratio: float = 1.0,
    ):
        super().__init__()
        self.dimension = dimension
        self.channels = channels
        self.n_filters = n_filters
        self.ratios = list(ratios)
        self.n_residual_layers = n_residual_layers
        self.hop_length = int(np.prod(self.ratios))
        self.n_blocks = len(self.ratios) + 2
        self.disable_norm_outer_blocks = disable_norm_outer_blocks
        if not 0 <= disable_norm_outer_blocks <= self.n_blocks:
            raise ValueError(f"disable_norm_outer_blocks must be in [0, {self.n_blocks}].")
        act = activation_params
        mult = int(2 ** len(self.ratios))
        model: list[nn.Module] = [
            StreamableConv1d(
                dimension,
                mult * n_filters,
                kernel_size,
                causal=causal,
                pad_mode=pad_mode,
                norm="none" if disable_norm_outer_blocks == self.n_blocks else norm,
            )
        ]
        if lstm:
            model.append(StreamableLSTM(mult * n_filters, num_layers=lstm))
        for i, ratio in enumerate(self.ratios):
            block_norm = "none" if disable_norm_outer_blocks >= self.n_blocks - (i + 1) else norm
            model += [
                _activation(activation, act, mult * n_filters),
                StreamableConvTranspose1d(
                    mult * n_filters,
                    mult * n_filters // 2,
                    kernel_size=ratio * 2,
                    stride=ratio,
                    norm=block_norm,
                    causal=causal,
                    trim_right_ratio=trim_right_ratio,
                ),
            ]
            for j in range(n_residual_layers):
                model.append(
                    SEANetResnetBlock(
                        mult * n_filters // 2,
                        kernel_sizes=[residual_kernel_size, 1],
                        dilations=[dilation_base**j, 1],
                        activation=activation,
                        activation_params=act,
                        norm=block_norm,
                        causal=causal,
                        pad_mode=pad_mode,
                        compress=compress,
                        true_skip=true_skip,
                    )
                )
            mult //= 2
        model += [
            _activation(activation, act, n_filters),
            StreamableConv1d(
                n_filters,
                channels,
                last_kernel_size,
                causal=causal,
                pad_mode=pad_mode,
                norm="none" if disable_norm_outer_blocks >= 1 else norm,
            ),
        ]
        if final_activation is not None:
            model.append(_activation(final_activation, final_activation_params, channels))
        self.model = nn.Sequential(*model)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return run_layers(self.model, z)

    def stream(self) -> Stream:
        return module_stream(self.model)
