"""Beat conditioner: a tempo given as a beat grid, one step per token frame.

The ``bpm`` attribute ("128"; "128 +3.25s" when the sequence starts 3.25 s into the piece)
becomes ``[B, steps, D]``: at step t, the time ``start + t / frame_rate``, the sines and
cosines of where that time falls in the beat (periods of ``periods`` beats: a 4/4 bar,
half a bar, a beat, half a beat), beside the tempo's own number encoding (as the
``number`` conditioner), through an MLP and ``output_proj``. Fused with the fuser's
``aligned`` method, every step is told its place in the beat, so playing at a tempo is a
local matter (put the onsets where the grid's phase says), not a number to turn into
spacing between onsets: a tempo the LM has not heard with a genre is as easy as any.

The grid counts beats from the start of the piece (the synthetic music's first beat is at
0 s): in training the start is the segment's seek time (``MusicInfo``), at inference 0,
and the long-form engine gives each later window its start time in the piece
(``with_start``) so that the grid goes on under the prompt's beats.
"""

from __future__ import annotations

import math
import re
import typing as tp

import torch
from torch import nn

from .attributes import ConditionType
from .base import CONDITIONERS, ConditionerContext, TextConditioner
from .lut import number_encoding
from .number import parse_value

_START = re.compile(r"\+\s*(\d+(?:\.\d+)?)\s*s\b")


def with_start(text: str | None, seconds: float) -> str | None:
    """A ``bpm`` text whose sequence starts ``seconds`` into the piece ("128 +3.25s").
    None (a null tempo) stays None; a start already given is replaced."""
    if text is None:
        return None
    base = _START.sub("", str(text)).strip()
    return base if seconds <= 0 else f"{base} +{seconds:.4f}s"


def parse_start(text: str | None) -> float:
    """The start time of a ``bpm`` text (seconds; 0 when it names none)."""
    match = _START.search(str(text)) if text is not None else None
    return float(match.group(1)) if match else 0.0


@CONDITIONERS.register("beat")
class BeatConditioner(TextConditioner):
    """A tempo as text ("128", "128 +3.25s"; None or no number: null) -> ``[B, steps, D]``.

    Args:
        output_dim: model dimension D.
        frame_rate: the LM's frames per second (one step per frame).
        duration: seconds the grid covers (the longest sequence the LM is given: its
            window); steps past it get no condition from the fuser.
        dim: size of the hidden features before ``output_proj``.
        periods: grid periods in beats (sine and cosine of each).
        n_features: sine/cosine pairs of log2(bpm) (``lut.number_encoding``).
    """

    @classmethod
    def from_config(cls, output_dim: int, args: dict[str, tp.Any],
                    context: ConditionerContext) -> BeatConditioner:
        """The grid spans the training segment (`context.duration`) unless `args` says."""
        return cls(output_dim=output_dim, **{"duration": context.duration, **args})

    def __init__(self, output_dim: int, frame_rate: float, duration: float = 30.0,
                 dim: int = 64, periods: tp.Sequence[float] = (4.0, 2.0, 1.0, 0.5),
                 n_features: int = 8):
        super().__init__(dim, output_dim)
        if frame_rate <= 0 or duration <= 0:
            raise ValueError(f"frame_rate and duration must be positive, got {frame_rate} "
                             f"and {duration}.")
        if not periods or min(periods) <= 0 or n_features < 1:
            raise ValueError(f"Need positive periods and n_features >= 1, got {list(periods)} "
                             f"and {n_features}.")
        self.frame_rate = float(frame_rate)
        self.steps = math.ceil(duration * frame_rate)
        self.n_features = n_features
        self.register_buffer("periods", torch.tensor([float(p) for p in periods]),
                             persistent=False)
        self.hidden = nn.Sequential(nn.Linear(2 * len(periods) + 2 * n_features, dim),
                                    nn.GELU(), nn.Linear(dim, dim))

    def tokenize(self, x: list[str | None]) -> torch.Tensor:
        """B texts -> ``[B, 2]``: (bpm, start seconds); bpm 0 is null. Double precision,
        so that the phase stays exact hours into a piece."""
        rows = [[parse_value(t), parse_start(t)] for t in x]
        return torch.tensor(rows, dtype=torch.float64,
                            device=self.output_proj.weight.device).reshape(len(x), 2)

    def grid(self, inputs: torch.Tensor) -> torch.Tensor:
        """(bpm, start) ``[B, 2]`` -> the grid's features ``[B, steps, 2P]``."""
        bpm, start = inputs[:, :1], inputs[:, 1:]  # [B, 1] each
        times = start + torch.arange(self.steps, device=inputs.device) / self.frame_rate
        beats = times * bpm / 60.0  # [B, steps]: beats since the piece's start
        periods = tp.cast(torch.Tensor, self.periods).to(inputs)
        phase = 2 * math.pi * beats[..., None] / periods  # [B, steps, P]
        return torch.cat([torch.sin(phase), torch.cos(phase)], dim=-1).float()

    def forward(self, inputs: torch.Tensor) -> ConditionType:
        bpm = inputs[:, :1].float()  # [B, 1]
        number = number_encoding(bpm, self.n_features).expand(-1, self.steps, -1)
        feats = torch.cat([self.grid(inputs), number], dim=-1)  # [B, steps, 2P + 2F]
        embeds = self.output_proj(self.hidden(feats.to(self.output_proj.weight)))
        mask = (bpm > 0).long().expand(-1, self.steps)  # [B, steps]
        return embeds * mask.unsqueeze(-1), mask
