"""Number conditioner: a quantity given as an attribute (a tempo in bpm) -> one step.

In training the value comes from the sample's metadata (the sidecar's ``bpm``, which
``MusicInfo`` turns into the text attribute ``bpm``: "128"); at inference from explicit
arguments or from the user's words (``captions.caption_attributes``: "a slow rock ballad
at 128 bpm"). The value is encoded as sines and cosines of its log2 at ``n_features``
frequencies (``lut.number_encoding``: values a few percent apart differ, values an
octave apart are told apart by the slowest frequency), then an MLP to ``dim`` and the
``output_proj`` every conditioner ends with. A caption's wording then no longer matters
for the tempo: the LM reads the number itself.
"""

from __future__ import annotations

import re

import torch
from torch import nn

from .attributes import ConditionType
from .base import CONDITIONERS, TextConditioner
from .lut import number_encoding

_VALUE = re.compile(r"\s*(\d+(?:\.\d+)?)")


def parse_value(text: str | None) -> float:
    """The number an attribute's text starts with ("128", "128.5", "128 bpm"), 0 when
    there is none (a null value)."""
    if text is None:
        return 0.0
    match = _VALUE.match(str(text))
    return float(match.group(1)) if match else 0.0


@CONDITIONERS.register("number")
class NumberConditioner(TextConditioner):
    """A number as text (``"128"``; None or no number: null) -> ``[B, 1, D]``.

    Args:
        output_dim: model dimension D.
        dim: size of the hidden features before ``output_proj``.
        n_features: sine/cosine pairs of log2(value) (see ``lut.number_encoding``).
    """

    def __init__(self, output_dim: int, dim: int = 64, n_features: int = 8):
        super().__init__(dim, output_dim)
        if n_features < 1:
            raise ValueError(f"n_features must be >= 1, got {n_features}.")
        self.n_features = n_features
        self.hidden = nn.Sequential(nn.Linear(2 * n_features, dim), nn.GELU(),
                                    nn.Linear(dim, dim))

    def tokenize(self, x: list[str | None]) -> torch.Tensor:
        """B texts -> values ``[B]`` (0: null)."""
        values = [parse_value(t) for t in x]
        return torch.tensor(values, dtype=torch.float32, device=self.output_proj.weight.device)

    def forward(self, inputs: torch.Tensor) -> ConditionType:
        values = inputs[:, None]  # [B, 1]
        feats = number_encoding(values, self.n_features)  # [B, 1, 2F]
        embeds = self.output_proj(self.hidden(feats.to(self.output_proj.weight)))  # [B, 1, D]
        mask = (values > 0).long()  # [B, 1]
        return embeds * mask.unsqueeze(-1), mask
