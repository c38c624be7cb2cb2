"""Chunk-by-chunk (streaming) evaluation of convolutional/recurrent stacks.

A `Stream` is the state of one module while it processes a long signal in pieces:
`step(x)` takes the next chunk `[B, C, t]` and returns whatever output is already final
(possibly nothing: `None`), `flush()` marks the end of the input and returns the rest.
Concatenating every returned piece gives the module's one-shot output on the whole
signal, while the state stays bounded by the receptive field (not by the length).

The state lives in the `Stream` object, not in the module: a module can serve several
streams at once and is never left in a half-streamed state.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

import torch
from torch import nn


def cat_time(a: torch.Tensor | None, b: torch.Tensor | None) -> torch.Tensor | None:
    """Concatenate two optional chunks `[B, C, t]` along time."""
    if a is None or a.shape[-1] == 0:
        return b
    if b is None or b.shape[-1] == 0:
        return a
    return torch.cat([a, b], dim=-1)


class Stream(ABC):
    """Streaming state of one module. See the module docstring for the contract."""

    @abstractmethod
    def step(self, x: torch.Tensor) -> torch.Tensor | None:
        """Feed the next input chunk `[B, C, t]`; return the output that became final."""

    @abstractmethod
    def flush(self) -> torch.Tensor | None:
        """End of input: return every remaining output. The stream must not be used after."""

    def state_tensors(self) -> list[torch.Tensor]:
        """Tensors held between calls (to show memory does not grow with the length)."""
        return []

    def state_numel(self) -> int:
        """Number of elements held between calls."""
        return sum(t.numel() for t in self.state_tensors())


class PointwiseStream(Stream):
    """A module with no memory along time (activations, identity)."""

    def __init__(self, fn: Callable[[torch.Tensor], torch.Tensor]):
        self.fn = fn

    def step(self, x: torch.Tensor) -> torch.Tensor | None:
        return self.fn(x)

    def flush(self) -> torch.Tensor | None:
        return None


class SequentialStream(Stream):
    """Streams chained one after another; `flush` drains them in order."""

    def __init__(self, streams: Sequence[Stream]):
        self.streams = list(streams)

    def step(self, x: torch.Tensor) -> torch.Tensor | None:
        y: torch.Tensor | None = x
        for stream in self.streams:
            if y is None or y.shape[-1] == 0:
                return None
            y = stream.step(y)
        return y

    def flush(self) -> torch.Tensor | None:
        y: torch.Tensor | None = None
        for stream in self.streams:
            out = stream.step(y) if y is not None and y.shape[-1] > 0 else None
            y = cat_time(out, stream.flush())
        return y

    def state_tensors(self) -> list[torch.Tensor]:
        return [t for s in self.streams for t in s.state_tensors()]


class AddStream(Stream):
    """`a(x) + b(x)` for two branches that may emit at different delays (a residual
    block: the convolution branch lags the skip branch by its look-ahead)."""

    def __init__(self, a: Stream, b: Stream):
        self.a, self.b = a, b
        self.pending_a: torch.Tensor | None = None
        self.pending_b: torch.Tensor | None = None

    def _emit(self) -> torch.Tensor | None:
        if self.pending_a is None or self.pending_b is None:
            return None
        n = min(self.pending_a.shape[-1], self.pending_b.shape[-1])
        if n == 0:
            return None
        y = self.pending_a[..., :n] + self.pending_b[..., :n]
        self.pending_a = self.pending_a[..., n:]
        self.pending_b = self.pending_b[..., n:]
        return y

    def step(self, x: torch.Tensor) -> torch.Tensor | None:
        self.pending_a = cat_time(self.pending_a, self.a.step(x))
        self.pending_b = cat_time(self.pending_b, self.b.step(x))
        return self._emit()

    def flush(self) -> torch.Tensor | None:
        self.pending_a = cat_time(self.pending_a, self.a.flush())
        self.pending_b = cat_time(self.pending_b, self.b.flush())
        return self._emit()

    def state_tensors(self) -> list[torch.Tensor]:
        own = [t for t in (self.pending_a, self.pending_b) if t is not None]
        return own + self.a.state_tensors() + self.b.state_tensors()


# Modules that act on each time step independently.
_POINTWISE = (nn.Identity, nn.ELU, nn.ReLU, nn.LeakyReLU, nn.GELU, nn.Tanh, nn.Sigmoid, nn.SiLU)


def module_stream(module: nn.Module) -> Stream:
    """The `Stream` of any module of a SEANet stack: modules with their own `stream()`
    method, `nn.Sequential` containers and pointwise activations."""
    make = getattr(module, "stream", None)
    if callable(make):
        stream = make()
        assert isinstance(stream, Stream)
        return stream
    if isinstance(module, nn.Sequential | nn.ModuleList):
        return SequentialStream([module_stream(m) for m in module])
    if isinstance(module, _POINTWISE):
        return PointwiseStream(module)
    raise TypeError(f"{type(module).__name__} cannot be evaluated chunk by chunk.")
