"""Lightning callbacks the training entry point adds to its trainer."""

from __future__ import annotations

from typing import Any

import dora
import lightning as L
from lightning.pytorch.callbacks import Callback


class DoraHistory(Callback):
    """Appends the metrics after each validation to the dora experiment's history, which
    `dora grid` tables and `dora info` read."""

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: Any) -> None:
        if trainer.is_global_zero and not trainer.sanity_checking:
            metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if v.numel() == 1}
            dora.get_xp().link.push_metrics(metrics)
