"""Optimizers and learning-rate schedulers from the `optim` and `schedule` config groups.

`OPTIMIZERS` maps `optim.optimizer` to a builder `(optim_cfg) -> OptimizerFactory` (a
callable taking the parameters to optimise); schedules are in `schedules.SCHEDULES`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import torch
from omegaconf import DictConfig

from ..utils.registry import Registry
from .base import OptimizerFactory, SchedulerFactory
from .schedules import SCHEDULES, Multiplier

OPTIMIZERS: Registry[Callable[[DictConfig], OptimizerFactory]] = Registry("optimizer")


def _adam_args(optim: DictConfig) -> dict[str, Any]:
    return {"lr": optim.lr, "betas": tuple(optim.betas), "weight_decay": optim.weight_decay,
            "eps": optim.eps}


@OPTIMIZERS.register("adam")
def _adam(optim: DictConfig) -> OptimizerFactory:
    return functools.partial(torch.optim.Adam, **_adam_args(optim))


@OPTIMIZERS.register("adamw")
def _adamw(optim: DictConfig) -> OptimizerFactory:
    return functools.partial(torch.optim.AdamW, **_adam_args(optim))


def optimizer_factory(optim: DictConfig) -> OptimizerFactory:
    """The optimizer named by `optim.optimizer`, with the section's settings, as a factory
    of parameters. Raises UnknownNameError (a ValueError) for an unregistered name."""
    return OPTIMIZERS.get(optim.optimizer, where="optim.optimizer")(optim)


def _lambda_scheduler(optimizer: torch.optim.Optimizer,
                      multiplier: Multiplier) -> torch.optim.lr_scheduler.LRScheduler:
    return torch.optim.lr_scheduler.LambdaLR(optimizer, multiplier)


def scheduler_factory(cfg: DictConfig) -> SchedulerFactory | None:
    """The schedule named by `schedule.lr_scheduler` over the run's
    `optim.epochs * optim.updates_per_epoch` steps, as a factory of optimizers (None for a
    constant learning rate). Raises UnknownNameError for an unregistered name."""
    total = cfg.optim.epochs * cfg.optim.updates_per_epoch
    build = SCHEDULES.get(cfg.schedule.lr_scheduler, where="schedule.lr_scheduler")
    multiplier = build(cfg.schedule, total)
    if multiplier is None:
        return None
    return functools.partial(_lambda_scheduler, multiplier=multiplier)
