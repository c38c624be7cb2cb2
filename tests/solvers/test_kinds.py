"""Solver kinds, optimizers, schedules and losses come from registries: a name nobody
registered fails config validation with the known names, before anything is built."""

import pytest
from omegaconf import OmegaConf

from audiocraft.losses import LOSSES
from audiocraft.metrics import METRICS
from audiocraft.solvers.builders import build_compression_solver, build_musicgen_solver
from audiocraft.solvers.config_check import ConfigError
from audiocraft.solvers.kinds import (
    SOLVERS,
    compression_strategy,
    default_strategy,
    validate_config,
)
from audiocraft.utils.registry import UnknownNameError


def _open(cfg):
    cfg = cfg.copy()
    OmegaConf.set_struct(cfg, False)
    return cfg


def test_solver_kinds_are_registered_with_their_hooks():
    assert SOLVERS.names() == ["compression", "musicgen"]
    assert SOLVERS["musicgen"].build is build_musicgen_solver
    assert SOLVERS["compression"].build is build_compression_solver
    assert SOLVERS["musicgen"].strategy is default_strategy
    assert SOLVERS["compression"].strategy is compression_strategy


def test_compression_ddp_looks_for_unused_parameters(make_cfg):
    cfg = make_cfg("compression/toy", "trainer=ddp_cpu")
    assert SOLVERS["compression"].strategy(cfg, None) == "ddp_find_unused_parameters_true"
    assert SOLVERS["musicgen"].strategy(cfg, None) == "ddp"


def test_unknown_solver_kind(make_cfg):
    cfg = _open(make_cfg("musicgen/toy"))
    cfg.solver = "musicgne"
    with pytest.raises(ConfigError, match=r"Unknown solver 'musicgne' \(at `solver`\): known "
                                          r"solvers are \['compression', 'musicgen'\]\. "
                                          r"Did you mean 'musicgen'\?"):
        validate_config(cfg)
    cfg.solver = None
    with pytest.raises(ConfigError, match=r"`solver` is not set.*\['compression', 'musicgen'\]"):
        validate_config(cfg)


def test_unknown_optimizer(make_cfg):
    with pytest.raises(ConfigError, match=r"Unknown optimizer 'sgd' \(at `optim.optimizer`\): "
                                          r"known optimizers are \['adam', 'adamw'\]"):
        validate_config(make_cfg("musicgen/toy", "optim.optimizer=sgd"))


def test_unknown_schedule(make_cfg):
    with pytest.raises(ConfigError, match=r"Unknown learning-rate schedule 'cosin'.*"
                                          r"\['cosine', 'linear_warmup', 'none'\]\. "
                                          r"Did you mean 'cosine'\?"):
        validate_config(make_cfg("musicgen/toy", "schedule.lr_scheduler=cosin"))


def test_unknown_loss(make_cfg):
    with pytest.raises(ConfigError, match=r"`losses.msspek`: unknown loss; known: "
                                          r"\['chroma', 'l1', 'l2', 'mel', 'mrstft', 'msspec', "
                                          r"'sisnr', 'adv', 'feat'\]"):
        validate_config(make_cfg("compression/toy", "+losses.msspek=1.0"))
    with pytest.raises(UnknownNameError, match=r"Unknown loss 'msspek'.*Did you mean 'msspec'"):
        LOSSES.get("msspek")


def test_metrics_registry_names_unknown_metrics():
    with pytest.raises(UnknownNameError, match=r"Unknown metric 'fad'"):
        METRICS.get("fad")
