"""Solver kinds: what `cfg.solver` names. `SOLVERS` maps each name to a `SolverKind`, the
hooks the training entry point calls: `check` (the kind's own config checks), `build`
(config -> solver), `strategy` (the Lightning distribution strategy for that solver) and
`export` (the trained weights -> hub-format files).

A new kind is a `SolverKind` registered under its name, e.g.
``SOLVERS.add("my_kind", SolverKind(build=..., export=..., check=...))``, plus a recipe in
`config/solver/my_kind/` setting ``solver: my_kind``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from ..utils.registry import Registry
from .base import BaseSolver
from .builders import (
    build_compression_solver,
    build_musicgen_solver,
    export_compression_solver,
    export_musicgen_solver,
)
from .config_check import ConfigError, check_common, check_compression, check_musicgen, lookup


def default_strategy(cfg: DictConfig, solver: BaseSolver) -> Any:
    """`trainer.strategy` as given, except `fsdp`: an FSDP strategy with one unit per
    transformer layer of the trained model (`trained_module().transformer.layers`)."""
    strategy = cfg.trainer.strategy
    if strategy != "fsdp":
        return strategy
    from lightning.pytorch.strategies import FSDPStrategy

    layers = getattr(getattr(solver.trained_module(), "transformer", None), "layers", [])
    policy = {type(layer) for layer in layers} or None
    fsdp = cfg.trainer.fsdp
    return FSDPStrategy(auto_wrap_policy=policy, sharding_strategy=fsdp.sharding_strategy,
                        activation_checkpointing_policy=policy if fsdp.activation_checkpointing
                        else None, cpu_offload=fsdp.cpu_offload)


def compression_strategy(cfg: DictConfig, solver: BaseSolver) -> Any:
    """As `default_strategy`, but DDP looks for unused parameters: the codec and the
    discriminator each back-propagate once per step, every parameter unused by one of the
    two passes."""
    if cfg.trainer.strategy == "ddp":
        return "ddp_find_unused_parameters_true"
    return default_strategy(cfg, solver)


@dataclass(frozen=True)
class SolverKind:
    """The hooks of one solver kind.

    Attributes:
        build: (cfg, run_dir) -> the solver (a LightningModule).
        export: (cfg, solver, export_dir) -> None; writes the hub-format files.
        check: (cfg) -> None; raises ConfigError for what this kind cannot train with.
        strategy: (cfg, solver) -> the `strategy` argument of `lightning.Trainer`.
    """

    build: Callable[[DictConfig, Path], BaseSolver]
    export: Callable[[DictConfig, Any, Path], None]
    check: Callable[[DictConfig], None]
    strategy: Callable[[DictConfig, BaseSolver], Any] = default_strategy


SOLVERS: Registry[SolverKind] = Registry("solver")
SOLVERS.add("compression", SolverKind(build=build_compression_solver,
                                      export=export_compression_solver,
                                      check=check_compression, strategy=compression_strategy))
SOLVERS.add("musicgen", SolverKind(build=build_musicgen_solver, export=export_musicgen_solver,
                                   check=check_musicgen))


def solver_kind(cfg: DictConfig) -> SolverKind:
    """The kind `cfg.solver` names; ConfigError listing the known ones otherwise."""
    if OmegaConf.is_missing(cfg, "solver") or cfg.get("solver") is None:
        raise ConfigError(f"`solver` is not set: it must be one of {SOLVERS.names()}; pick a "
                          "recipe, e.g. solver=musicgen/toy.")
    try:
        return lookup(SOLVERS, cfg, "solver")
    except ConfigError as err:
        raise ConfigError(f"{err} Pick a recipe, e.g. solver=musicgen/toy.") from None


def validate_config(cfg: DictConfig) -> None:
    """Raise ConfigError for the first problem found in `cfg`: the solver kind, the checks
    every kind shares, then the kind's own."""
    kind = solver_kind(cfg)
    check_common(cfg)
    kind.check(cfg)
