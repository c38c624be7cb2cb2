"""What both solvers share: EMA weights, best-state tracking, exact-resume state,
and the non-finite loss guard."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import lightning as L
import torch
from torch import nn

from .checkpoint import NonFiniteLossError, rng_state, set_rng_state
from .ema import ModelEMA

OptimizerFactory = Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer]
SchedulerFactory = Callable[[torch.optim.Optimizer], torch.optim.lr_scheduler.LRScheduler]


class BaseSolver(L.LightningModule):
    """Common LightningModule behaviour.

    Args:
        trained: the module whose weights are averaged (EMA) and exported.
        ema_decay: EMA decay, or None for no EMA (validation then uses the live weights).
        ema_every: update the EMA every this many optimisation steps.
        best_metric: validation metric (lower is better) that selects the best state.
    """

    def __init__(self, trained: nn.Module, ema_decay: float | None = None, ema_every: int = 1,
                 best_metric: str = "valid/loss"):
        super().__init__()
        self.ema = ModelEMA(trained, ema_decay, ema_every) if ema_decay is not None else None
        self.best_metric = best_metric
        self.best_value = float("inf")
        self.best_state: dict[str, torch.Tensor] | None = None
        self._pending_rng: dict[str, Any] | None = None
        self.valid_history: list[float] = []  # the best_metric after each validation
        self.train_history: list[float] = []  # the training loss per step (this rank)

    def trained_module(self) -> nn.Module:
        raise NotImplementedError

    # ---- guard -------------------------------------------------------------------

    def check_finite(self, loss: torch.Tensor, what: str = "loss") -> None:
        """Stop the run (every rank) if `loss` is not finite on any rank."""
        bad = not bool(torch.isfinite(loss.detach()).all())
        if self.trainer.strategy.reduce_boolean_decision(bad, all=False):
            raise NonFiniteLossError(
                f"{what} is not finite at step {self.global_step} (epoch {self.current_epoch}); "
                "training stopped before applying the update. The last checkpoint is intact: "
                "lower optim.lr, raise optim.max_norm clipping or check the data, then resume."
            )

    # ---- EMA / best state ----------------------------------------------------------

    def update_ema(self) -> None:
        if self.ema is not None:
            self.ema.update()

    def eval_context(self):
        """Validation runs on the EMA weights when there are some."""
        import contextlib
        return self.ema.swapped() if self.ema is not None else contextlib.nullcontext()

    def export_state(self) -> dict[str, torch.Tensor]:
        """Weights to export: the best validated state, else the EMA, else the live ones."""
        if self.best_state is not None:
            return self.best_state
        if self.ema is not None:
            return self.ema.averaged_state()
        return {k: v.detach().clone() for k, v in self.trained_module().state_dict().items()}

    def track_best(self, value: float) -> None:
        self.valid_history.append(value)
        if value < self.best_value:
            self.best_value = value
            state = self.ema.averaged_state() if self.ema is not None else {
                k: v.detach().clone() for k, v in self.trained_module().state_dict().items()}
            self.best_state = {k: v.cpu() for k, v in state.items()}

    def _private_generators(self) -> dict[str, torch.Generator]:
        """torch.Generator attributes of submodules (e.g. seeded condition dropouts): their
        state is part of an exact resume but not of any state_dict."""
        found = {}
        for name, module in self.named_modules():
            for attr, value in vars(module).items():
                if isinstance(value, torch.Generator):
                    found[f"{name}.{attr}"] = value
        return found

    # ---- checkpoint hooks -----------------------------------------------------------

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["audiocraft"] = {
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "best_value": self.best_value,
            "best_state": self.best_state,
            "rng": rng_state(),
            "generators": {k: g.get_state() for k, g in self._private_generators().items()},
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        extra = checkpoint.get("audiocraft")
        if extra is None:
            return
        if self.ema is not None and extra["ema"] is not None:
            self.ema.load_state_dict(extra["ema"])
        self.best_value = extra["best_value"]
        self.best_state = extra["best_state"]
        # Applied when training starts, after everything that happens between loading and
        # the first batch, so the resumed run draws exactly what the original would have.
        self._pending_rng = extra["rng"]
        generators = self._private_generators()
        for name, state in extra.get("generators", {}).items():
            if name in generators:
                generators[name].set_state(state)

    def on_train_start(self) -> None:
        if self._pending_rng is not None:
            set_rng_state(self._pending_rng)
            self._pending_rng = None
