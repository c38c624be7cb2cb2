"""Convolutions that pad themselves so that output length is a whole number of frames.

`StreamableConv1d` pads its input (causal: all on the left; otherwise split, one more on
the left for odd totals) with `pad_mode` ('constant' or 'reflect'), plus the extra right
padding that makes the last window complete. `StreamableConvTranspose1d` trims the same
amount from its output. Both offer `stream()` for chunk-by-chunk evaluation whose pieces
concatenate to the one-shot output.

Weight normalisation keeps the checkpoint layout of the reference (`weight_g`,
`weight_v`): weight = g * v / ||v||, the norm taken over every dim but the first.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .streaming import Stream, cat_time

CONV_NORMS = ("none", "weight_norm", "time_group_norm")


def get_extra_padding_for_conv1d(
    length: int, kernel_size: int, stride: int, padding_total: int
) -> int:
    """Right padding that makes the last window of a strided conv complete, for an input
    of `length` samples already planned to receive `padding_total` padding."""
    n_frames = (length - kernel_size + padding_total) / stride + 1
    ideal_length = (math.ceil(n_frames) - 1) * stride + (kernel_size - padding_total)
    return ideal_length - length


def pad1d(
    x: torch.Tensor, paddings: tuple[int, int], mode: str = "constant", value: float = 0.0
) -> torch.Tensor:
    """`F.pad` along time that also accepts reflect padding wider than the input (the
    input is then first extended with zeros, as the reference does)."""
    left, right = paddings
    if mode != "reflect":
        return F.pad(x, (left, right), mode, value)
    length = x.shape[-1]
    max_pad = max(left, right)
    extra = 0
    if length <= max_pad:
        extra = max_pad - length + 1
        x = F.pad(x, (0, extra))
    padded = F.pad(x, (left, right), mode)
    return padded[..., : padded.shape[-1] - extra]


def unpad1d(x: torch.Tensor, paddings: tuple[int, int]) -> torch.Tensor:
    """Remove `paddings = (left, right)` samples from the time axis."""
    left, right = paddings
    assert left >= 0 and right >= 0 and left + right <= x.shape[-1], (paddings, x.shape)
    return x[..., left : x.shape[-1] - right]


def _norm_weight(v: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    return v * (g / torch.linalg.vector_norm(v, dim=tuple(range(1, v.dim())), keepdim=True))


def _weight_norm_hook(module: nn.Module, _inputs: Any) -> None:
    module.weight = current_weight(module)


def apply_weight_norm(module: nn.Conv1d | nn.ConvTranspose1d) -> nn.Module:
    """Replace `module.weight` by the parameters `weight_g` [out, 1, 1] and `weight_v`,
    recomputing the weight before every forward."""
    weight = module.weight.detach()
    del module._parameters["weight"]
    g = torch.linalg.vector_norm(weight, dim=tuple(range(1, weight.dim())), keepdim=True)
    module.weight_g = nn.Parameter(g)
    module.weight_v = nn.Parameter(weight.clone())
    module.weight = _norm_weight(module.weight_v, module.weight_g)
    module.register_forward_pre_hook(_weight_norm_hook)
    return module


def current_weight(module: nn.Module) -> torch.Tensor:
    """The effective weight of a (possibly weight-normalised) conv."""
    v, g = getattr(module, "weight_v", None), getattr(module, "weight_g", None)
    if isinstance(v, torch.Tensor) and isinstance(g, torch.Tensor):
        return _norm_weight(v, g)
    weight = module.weight
    assert isinstance(weight, torch.Tensor)
    return weight


@dataclass
class PhaseKernel:
    """A transposed-conv weight `[C_in, C_out, K]` (K a multiple of the stride) rearranged
    as a regular conv kernel `[C_out * stride, C_in, K / stride]` (see `conv_transpose1d`)."""

    taps: torch.Tensor
    bias: torch.Tensor | None
    c_out: int
    stride: int

    @classmethod
    def make(cls, weight: torch.Tensor, bias: torch.Tensor | None, stride: int) -> PhaseKernel:
        c_in, c_out, kernel = weight.shape
        m = kernel // stride
        # out[c, t * s + r] = sum_{i, j} x[i, t - j] * w[i, c, j * s + r]: a conv with m
        # taps (flipped) whose output channel (c, r) is phase r of output channel c.
        taps = weight.view(c_in, c_out, m, stride).permute(1, 3, 0, 2).flip(-1)
        phase_bias = None if bias is None else bias.repeat_interleave(stride)
        return cls(taps.reshape(c_out * stride, c_in, m), phase_bias, c_out, stride)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """`x [B, C_in, T]` -> `[B, C_out, (T - 1) * stride + K]`."""
        m = self.taps.shape[-1]
        phases = F.conv1d(x, self.taps, self.bias, padding=m - 1)  # [B, C_out * s, T + m - 1]
        B, _, frames = phases.shape
        out = phases.view(B, self.c_out, self.stride, frames).transpose(2, 3)
        return out.reshape(B, self.c_out, frames * self.stride)


def conv_transpose1d(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, stride: int
) -> torch.Tensor:
    """`F.conv_transpose1d` (no padding), computed when the kernel is a multiple of the
    stride (as in every SEANet decoder) as a regular convolution with `C_out * stride`
    output channels followed by a pixel shuffle: faster on CPU than the generic
    transposed convolution.

    Args:
        x: `[B, C_in, T]`; weight: `[C_in, C_out, K]`.
    Returns:
        `[B, C_out, (T - 1) * stride + K]`.
    """
    if weight.shape[-1] % stride or x.dim() != 3:
        return F.conv_transpose1d(x, weight, bias, stride=stride)
    return PhaseKernel.make(weight, bias, stride)(x)


def _check_norm(norm: str) -> None:
    if norm not in CONV_NORMS:
        raise ValueError(f"Unknown conv norm '{norm}': use one of {CONV_NORMS}.")


class NormConv1d(nn.Module):
    """`nn.Conv1d` (attribute `conv`) with its normalisation (attribute `norm`)."""

    def __init__(self, *args: Any, norm: str = "none", **kwargs: Any):
        super().__init__()
        _check_norm(norm)
        self.conv: nn.Conv1d = nn.Conv1d(*args, **kwargs)
        if norm == "weight_norm":
            apply_weight_norm(self.conv)
        self.norm: nn.Module = (
            nn.GroupNorm(1, self.conv.out_channels) if norm == "time_group_norm" else nn.Identity()
        )
        self.norm_type = norm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.conv(x))


class NormConvTranspose1d(nn.Module):
    """`nn.ConvTranspose1d` (attribute `convtr`) with its normalisation (attribute `norm`)."""

    def __init__(self, *args: Any, norm: str = "none", **kwargs: Any):
        super().__init__()
        _check_norm(norm)
        self.convtr: nn.ConvTranspose1d = nn.ConvTranspose1d(*args, **kwargs)
        if norm == "weight_norm":
            apply_weight_norm(self.convtr)
        self.norm: nn.Module = (
            nn.GroupNorm(1, self.convtr.out_channels)
            if norm == "time_group_norm"
            else nn.Identity()
        )
        self.norm_type = norm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        convtr = self.convtr
        if (
            convtr.padding[0]
            or convtr.output_padding[0]
            or convtr.dilation[0] != 1
            or convtr.groups != 1
        ):
            return self.norm(convtr(x))
        return self.norm(conv_transpose1d(x, current_weight(convtr), convtr.bias, convtr.stride[0]))


class StreamableConv1d(nn.Module):
    """Conv1d `[B, C_in, T] -> [B, C_out, ceil(T / stride)]` padding its own input.

    Args:
        causal: pad only on the left (output t sees inputs <= t * stride).
        norm: 'none', 'weight_norm' or 'time_group_norm'.
        pad_mode: 'constant' (zeros) or 'reflect'.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        dilation: int = 1,
        groups: int = 1,
        bias: bool = True,
        causal: bool = False,
        norm: str = "none",
        norm_kwargs: dict[str, Any] | None = None,
        pad_mode: str = "reflect",
    ):
        super().__init__()
        if pad_mode not in ("constant", "reflect", "replicate", "circular"):
            raise ValueError(f"Unknown pad_mode '{pad_mode}': use 'constant' or 'reflect'.")
        self.conv = NormConv1d(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            dilation=dilation,
            groups=groups,
            bias=bias,
            norm=norm,
        )
        self.causal = causal
        self.pad_mode = pad_mode

    @property
    def effective_kernel_size(self) -> int:
        conv = self.conv.conv
        return (conv.kernel_size[0] - 1) * conv.dilation[0] + 1

    @property
    def stride(self) -> int:
        return self.conv.conv.stride[0]

    def paddings(self) -> tuple[int, int]:
        """Fixed (left, right) padding, before the length-dependent extra right padding."""
        padding_total = self.effective_kernel_size - self.stride
        if self.causal:
            return padding_total, 0
        right = padding_total // 2
        return padding_total - right, right

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        left, right = self.paddings()
        extra = get_extra_padding_for_conv1d(
            x.shape[-1], self.effective_kernel_size, self.stride, left + right
        )
        conv = self.conv.conv
        if (
            self.pad_mode == "constant"
            and left == right + extra
            and self.conv.norm_type != "time_group_norm"
        ):  # zeros on both sides: the convolution pads itself, saving a copy of the input
            weight = current_weight(conv)
            return F.conv1d(x, weight, conv.bias, conv.stride, left, conv.dilation, conv.groups)
        return self.conv(pad1d(x, (left, right + extra), mode=self.pad_mode))

    def stream(self) -> Stream:
        return _Conv1dStream(self)


class _Conv1dStream(Stream):
    """Chunked evaluation of `StreamableConv1d`: pads the start once enough input has
    arrived, keeps the unconsumed tail of the input, pads the end at `flush`."""

    def __init__(self, module: StreamableConv1d):
        if module.conv.norm_type == "time_group_norm":
            raise NotImplementedError(
                "time_group_norm normalises over the whole signal: not streamable."
            )
        self.m = module
        # Weights are read once, when the stream starts (weight norm is not recomputed per chunk).
        self.weight = current_weight(module.conv.conv).detach()
        self.kernel = module.effective_kernel_size
        self.stride = module.stride
        self.left, self.right = module.paddings()
        # Start only when the input is longer than any padding: shorter signals take the
        # one-shot path at flush, which reproduces the reference's small-input rules.
        self.start_after = max(self.left, self.right + self.stride)
        self.head: torch.Tensor | None = None  # input before start
        self.pending: torch.Tensor | None = None  # padded input not consumed yet
        self.tail: torch.Tensor | None = None  # last real samples, for reflect at the end
        self.total = 0

    def _conv(self, x: torch.Tensor) -> torch.Tensor:
        conv = self.m.conv.conv
        return F.conv1d(x, self.weight, conv.bias, conv.stride, 0, conv.dilation, conv.groups)

    def _emit(self) -> torch.Tensor | None:
        assert self.pending is not None
        avail = self.pending.shape[-1]
        if avail < self.kernel:
            return None
        n = (avail - self.kernel) // self.stride + 1
        y = self._conv(self.pending[..., : (n - 1) * self.stride + self.kernel])
        self.pending = self.pending[..., n * self.stride :]
        return y

    def step(self, x: torch.Tensor) -> torch.Tensor | None:
        self.total += x.shape[-1]
        if self.m.pad_mode != "constant":
            keep = self.right + self.stride
            self.tail = cat_time(self.tail, x)
            assert self.tail is not None
            self.tail = self.tail[..., -keep:]
        if self.pending is None:
            self.head = cat_time(self.head, x)
            assert self.head is not None
            if self.head.shape[-1] <= self.start_after:
                return None
            self.pending = pad1d(self.head, (self.left, 0), mode=self.m.pad_mode)
            self.head = None
        else:
            self.pending = torch.cat([self.pending, x], dim=-1)
        return self._emit()

    def flush(self) -> torch.Tensor | None:
        if self.pending is None:
            return None if self.head is None else self.m(self.head)
        extra = get_extra_padding_for_conv1d(
            self.total, self.kernel, self.stride, self.left + self.right
        )
        right = self.right + extra
        if right > 0:
            if self.m.pad_mode == "constant":
                pad = self.pending.new_zeros(*self.pending.shape[:-1], right)
            else:
                assert self.tail is not None
                pad = pad1d(self.tail, (0, right), mode=self.m.pad_mode)[..., -right:]
            self.pending = torch.cat([self.pending, pad], dim=-1)
        y = self._emit()
        self.pending = None
        return y

    def state_tensors(self) -> list[torch.Tensor]:
        return [t for t in (self.head, self.pending, self.tail) if t is not None]


class StreamableConvTranspose1d(nn.Module):
    """ConvTranspose1d `[B, C_in, T] -> [B, C_out, T * stride]`, trimming the overlap.

    Args:
        causal: trim `ceil(trim_right_ratio * (kernel - stride))` on the right, the rest on
            the left; otherwise trim half on each side (one more on the left when odd).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        causal: bool = False,
        norm: str = "none",
        trim_right_ratio: float = 1.0,
        norm_kwargs: dict[str, Any] | None = None,
    ):
        super().__init__()
        self.convtr = NormConvTranspose1d(in_channels, out_channels, kernel_size, stride, norm=norm)
        self.causal = causal
        self.trim_right_ratio = trim_right_ratio
        if not (causal or trim_right_ratio == 1.0):
            raise ValueError("trim_right_ratio != 1.0 only makes sense for causal convolutions.")
        if not 0.0 <= trim_right_ratio <= 1.0:
            raise ValueError(f"trim_right_ratio must be in [0, 1], got {trim_right_ratio}.")

    def trims(self) -> tuple[int, int]:
        """(left, right) samples removed from the raw transposed-conv output."""
        convtr = self.convtr.convtr
        padding_total = convtr.kernel_size[0] - convtr.stride[0]
        right = (
            math.ceil(padding_total * self.trim_right_ratio) if self.causal else padding_total // 2
        )
        return padding_total - right, right

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return unpad1d(self.convtr(x), self.trims())

    def stream(self) -> Stream:
        return _ConvTr1dStream(self)


class _ConvTr1dStream(Stream):
    """Chunked `StreamableConvTranspose1d` by overlap-add: the last `kernel - stride`
    output samples of a chunk wait for the next chunk's contribution."""

    def __init__(self, module: StreamableConvTranspose1d):
        if module.convtr.norm_type == "time_group_norm":
            raise NotImplementedError(
                "time_group_norm normalises over the whole signal: not streamable."
            )
        self.m = module
        convtr = module.convtr.convtr
        self.stride = convtr.stride[0]
        self.overlap = convtr.kernel_size[0] - self.stride
        self.left_to_drop, self.right = module.trims()
        self.partial: torch.Tensor | None = None  # [B, C_out, overlap], without bias
        # Weights are read once, when the stream starts.
        weight, stride = current_weight(convtr).detach(), self.stride
        self.kernel: Callable[[torch.Tensor], torch.Tensor] = (
            PhaseKernel.make(weight, None, stride)
            if weight.shape[-1] % stride == 0
            else lambda x: F.conv_transpose1d(x, weight, None, stride=stride)
        )

    def _bias(self, y: torch.Tensor) -> torch.Tensor:
        bias = self.m.convtr.convtr.bias
        return y if bias is None else y + bias[:, None]

    def _drop_left(self, y: torch.Tensor) -> torch.Tensor | None:
        if self.left_to_drop:
            n = min(self.left_to_drop, y.shape[-1])
            y = y[..., n:]
            self.left_to_drop -= n
        return y if y.shape[-1] else None

    def step(self, x: torch.Tensor) -> torch.Tensor | None:
        y = self.kernel(x)  # [B, C, (t - 1) * s + k], without bias
        if self.partial is not None:
            y[..., : self.overlap] += self.partial
        cut = x.shape[-1] * self.stride
        self.partial = y[..., cut:]
        return self._drop_left(self._bias(y[..., :cut]))

    def flush(self) -> torch.Tensor | None:
        if self.partial is None:
            return None
        y = self._bias(self.partial[..., : self.overlap - self.right])
        self.partial = None
        return self._drop_left(y)

    def state_tensors(self) -> list[torch.Tensor]:
        return [] if self.partial is None else [self.partial]
