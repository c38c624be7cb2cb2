"""Learning-rate schedules as picklable multipliers for `torch.optim.lr_scheduler.LambdaLR`
(objects rather than closures, so their state is saved in checkpoints).

`SCHEDULES` maps `schedule.lr_scheduler` to a builder `(schedule_cfg, total_steps) ->
multiplier`, or None for a constant rate (no scheduler)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..utils.registry import Registry

# A multiplier of the base learning rate, per optimisation step.
Multiplier = Callable[[int], float]
# (the `schedule` config section, total optimisation steps) -> multiplier (None: constant).
ScheduleBuilder = Callable[[Any, int], "Multiplier | None"]
SCHEDULES: Registry[ScheduleBuilder] = Registry("learning-rate schedule")


@dataclass
class CosineWithWarmup:
    """Linear warm-up from 0 over `warmup` steps, then a cosine from 1 down to
    `lr_min_ratio` at `total_steps` (held there afterwards)."""

    warmup: int
    total_steps: int
    lr_min_ratio: float = 0.0

    def __call__(self, step: int) -> float:
        if step < self.warmup:
            return (step + 1) / (self.warmup + 1)
        span = max(1, self.total_steps - self.warmup)
        progress = min(1.0, (step - self.warmup) / span)
        cosine = 0.5 * (1 + math.cos(math.pi * progress))
        return self.lr_min_ratio + (1 - self.lr_min_ratio) * cosine


@dataclass
class LinearWarmup:
    """Linear warm-up over `warmup` steps, then constant."""

    warmup: int

    def __call__(self, step: int) -> float:
        return min(1.0, (step + 1) / (self.warmup + 1))


@dataclass
class Constant:
    def __call__(self, step: int) -> float:
        return 1.0


@SCHEDULES.register("cosine")
def _cosine(schedule: Any, total_steps: int) -> Multiplier:
    return CosineWithWarmup(schedule.warmup, total_steps, schedule.lr_min_ratio)


@SCHEDULES.register("linear_warmup")
def _linear_warmup(schedule: Any, total_steps: int) -> Multiplier:
    return LinearWarmup(schedule.warmup)


@SCHEDULES.register("none")
def _none(schedule: Any, total_steps: int) -> None:
    return None
