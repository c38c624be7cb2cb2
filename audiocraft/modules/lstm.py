"""LSTM over the time axis of a conv layout `[B, C, T]`, with a skip connection."""

from __future__ import annotations

import torch
from torch import nn

from .streaming import Stream


class StreamableLSTM(nn.Module):
    """`y = LSTM(x) + x` (skip optional) on `[B, C, T]`; the recurrent state carries over
    between chunks in `stream()`."""

    def __init__(self, dimension: int, num_layers: int = 2, skip: bool = True):
        super().__init__()
        self.skip = skip
        self.lstm = nn.LSTM(dimension, dimension, num_layers)

    def run(
        self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """`x [B, C, T]` from recurrent `state` -> (`y [B, C, T]`, new state)."""
        seq = x.permute(2, 0, 1)  # [T, B, C]
        y, state = self.lstm(seq, state)
        if self.skip:
            y = y + seq
        return y.permute(1, 2, 0), state

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.run(x)[0]

    def stream(self) -> Stream:
        return _LSTMStream(self)


class _LSTMStream(Stream):
    def __init__(self, module: StreamableLSTM):
        self.m = module
        self.state: tuple[torch.Tensor, torch.Tensor] | None = None

    def step(self, x: torch.Tensor) -> torch.Tensor | None:
        y, self.state = self.m.run(x, self.state)
        return y

    def flush(self) -> torch.Tensor | None:
        return None

    def state_tensors(self) -> list[torch.Tensor]:
        return [] if self.state is None else list(self.state)
