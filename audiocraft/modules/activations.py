"""Feed-forward activations of the transformer, chosen by name.

Plain activations (`relu`, `gelu`, `silu`, ...) map features [..., H] -> [..., H]. Gated
linear units (`swiglu`, `geglu`, `reglu`) take [..., 2H] -> [..., H]: the layer feeding
them must produce twice the hidden size, which `is_glu` tells it.
"""

from __future__ import annotations

import typing as tp

import torch
from torch import nn


class GatedLinearUnit(nn.Module):
    """Gated linear unit: splits the last dim in halves (a, b) and returns a * act(b).

    Args:
        activation: the gate's non-linearity (SiLU for SwiGLU, GELU for GeGLU, ...).
    """

    def __init__(self, activation: nn.Module):
        super().__init__()
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [..., 2H] -> [..., H]."""
        if x.shape[-1] % 2 != 0:
            raise ValueError(f"A gated linear unit needs an even last dim, got {x.shape[-1]}.")
        a, b = x.chunk(2, dim=-1)
        return a * self.activation(b)


_PLAIN: dict[str, tp.Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "gelu_tanh": lambda: nn.GELU(approximate="tanh"),
    "silu": nn.SiLU,
    "swish": nn.SiLU,
    "elu": nn.ELU,
    "leaky_relu": nn.LeakyReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "identity": nn.Identity,
}

_GATED: dict[str, tp.Callable[[], nn.Module]] = {
    "swiglu": nn.SiLU,
    "geglu": nn.GELU,
    "reglu": nn.ReLU,
    "glu": nn.Sigmoid,
}

ACTIVATIONS: tuple[str, ...] = tuple(sorted([*_PLAIN, *_GATED]))


def is_glu(name: str) -> bool:
    """Whether the named activation halves its input (a gated linear unit)."""
    return name in _GATED


def get_activation_fn(name: str) -> nn.Module:
    """Build the activation module called `name` (see `ACTIVATIONS`).

    Raises:
        ValueError: the name is unknown; the message lists the valid ones.
    """
    if name in _PLAIN:
        return _PLAIN[name]()
    if name in _GATED:
        return GatedLinearUnit(_GATED[name]())
    raise ValueError(f"Unknown activation {name!r}; choose one of {list(ACTIVATIONS)}.")
