"""Exponential moving average of a model's weights, used for validation and export."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn


class ModelEMA:
    """Keeps `shadow = decay * shadow + (1 - decay) * weight` for every floating-point
    parameter and buffer of `module`, updated every `every` calls to `update()`.

    The shadow lives on the module's device, in float32. `swapped()` temporarily loads
    the averaged weights into the module (validation, export) and restores the live ones.
    """

    def __init__(self, module: nn.Module, decay: float = 0.99, every: int = 1):
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"optim.ema.decay must be in [0, 1), got {decay}.")
        if every < 1:
            raise ValueError(f"optim.ema.every must be >= 1, got {every}.")
        self.module = module
        self.decay = decay
        self.every = every
        self.calls = 0
        self.shadow: dict[str, torch.Tensor] = {
            k: v.detach().float().clone() for k, v in self._tracked().items()
        }

    def _tracked(self) -> dict[str, torch.Tensor]:
        return {k: v for k, v in self.module.state_dict().items() if v.is_floating_point()}

    @torch.no_grad()
    def update(self) -> None:
        self.calls += 1
        if self.calls % self.every:
            return
        for k, v in self._tracked().items():
            shadow = self.shadow[k]
            if shadow.device != v.device:
                shadow = self.shadow[k] = shadow.to(v.device)
            shadow.mul_(self.decay).add_(v.detach().float(), alpha=1 - self.decay)

    @contextlib.contextmanager
    def swapped(self) -> Iterator[None]:
        """Run the block with the averaged weights loaded into the module."""
        live = {k: v.detach().clone() for k, v in self._tracked().items()}
        self._load(self.shadow)
        try:
            yield
        finally:
            self._load(live)

    @torch.no_grad()
    def _load(self, tensors: dict[str, torch.Tensor]) -> None:
        state = self.module.state_dict()
        for k, v in tensors.items():
            state[k].copy_(v.to(state[k].dtype))

    def averaged_state(self) -> dict[str, torch.Tensor]:
        """The module's state dict with the averaged tensors in place (a copy)."""
        state = {k: v.detach().clone() for k, v in self.module.state_dict().items()}
        for k, v in self.shadow.items():
            state[k] = v.to(state[k].dtype).clone()
        return state

    def state_dict(self) -> dict:
        return {"shadow": self.shadow, "calls": self.calls}

    def load_state_dict(self, state: dict) -> None:
        missing = set(self.shadow) - set(state["shadow"])
        if missing:
            raise KeyError(
                f"EMA state lacks {sorted(missing)[:5]}...: checkpoint of another model?")
        self.shadow = {k: v.detach().float().clone() for k, v in state["shadow"].items()}
        self.calls = int(state["calls"])
