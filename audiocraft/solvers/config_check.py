"""Early checks of a composed training config: every problem a user can cause is
reported, with the key at fault and what to do, before any model or data is built.

(Keys that do not exist at all are refused by Hydra itself while composing, with the
key's name: the config tree is in struct mode.)

`check_common` holds the checks every solver kind shares; each kind's own checks
(`check_compression`, `check_musicgen`) are its `check` hook in `solvers/kinds.py`, whose
`validate_config` runs them all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from omegaconf import DictConfig, OmegaConf

from ..adversarial import ADVERSARIES
from ..losses import LOSSES
from ..utils.registry import Registry, UnknownNameError
from .optim import OPTIMIZERS
from .schedules import SCHEDULES

T = TypeVar("T")


class ConfigError(ValueError):
    """A training config that cannot work; the message names the key and the fix."""


EXECUTE_ONLY = (None, "valid", "evaluate", "generate")

STRATEGIES = ("auto", "ddp", "ddp_spawn", "ddp_find_unused_parameters_true", "fsdp",
              "deepspeed", "single_device")
ADVERSARIAL_TERMS = ("adv", "feat")


def _get(cfg: DictConfig, key: str) -> Any:
    value = OmegaConf.select(cfg, key, throw_on_missing=False, default=KeyError)
    if value is KeyError:
        raise ConfigError(f"config key `{key}` is missing: the solver recipe must set it.")
    return value


def _positive(cfg: DictConfig, key: str, allow_zero: bool = False) -> None:
    value = _get(cfg, key)
    if not isinstance(value, (int, float)) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ConfigError(f"`{key}` must be a number {bound}, got {value!r}.")


def lookup(registry: Registry[T], cfg: DictConfig, key: str) -> T:
    """The entry of `registry` named by config key `key`; ConfigError (listing the known
    names) when nobody registered it."""
    try:
        return registry.get(_get(cfg, key), where=key)
    except UnknownNameError as err:
        raise ConfigError(str(err)) from None


def check_manifest(cfg: DictConfig, split: str) -> Path:
    """The manifest of `datasource.<split>`: it must exist and list at least one file."""
    key = f"datasource.{split}"
    manifest = None if OmegaConf.is_missing(cfg.datasource, split) else cfg.datasource[split]
    if manifest is None:
        raise ConfigError(
            f"`{key}` is not set: point it at a manifest (.jsonl[.gz] or a folder with "
            "data.jsonl), e.g. made by `python -m audiocraft.data.manifest ROOT OUT.jsonl`, "
            "or use dset=synthetic."
        )
    path = Path(str(manifest))
    file = path / "data.jsonl" if path.is_dir() else path
    if not file.exists():
        raise ConfigError(
            f"`{key}`: manifest {file} does not exist. Create it with "
            f"`python -m audiocraft.data.manifest AUDIO_ROOT {file}` or fix the path."
        )
    if file.suffix != ".gz" and not any(line.strip() for line in file.open()):
        raise ConfigError(
            f"`{key}`: manifest {file} is empty (no audio files listed); the data set would "
            "have nothing to train on. Rebuild it from a folder that holds audio."
        )
    return path


def check_common(cfg: DictConfig) -> None:
    """The checks every solver kind shares (the kind itself is checked by the registry)."""
    if cfg.get("execute_only") not in EXECUTE_ONLY:
        raise ConfigError(f"`execute_only` must be null or one of {EXECUTE_ONLY[1:]}, got "
                          f"{cfg.execute_only!r}.")
    check_stages(cfg)
    lookup(OPTIMIZERS, cfg, "optim.optimizer")
    _positive(cfg, "optim.lr")
    _positive(cfg, "optim.epochs")
    _positive(cfg, "optim.updates_per_epoch")
    _positive(cfg, "optim.max_norm", allow_zero=True)
    if _get(cfg, "optim.ema.use"):
        decay = _get(cfg, "optim.ema.decay")
        if not 0 <= decay < 1:
            raise ConfigError(f"`optim.ema.decay` must be in [0, 1), got {decay}.")
    lookup(SCHEDULES, cfg, "schedule.lr_scheduler")
    _positive(cfg, "dataset.batch_size")
    _positive(cfg, "dataset.segment_duration")
    _positive(cfg, "checkpoint.save_every")
    _positive(cfg, "checkpoint.keep_last")
    strategy = _get(cfg, "trainer.strategy")
    if isinstance(strategy, str) and strategy not in STRATEGIES:
        raise ConfigError(f"`trainer.strategy` must be one of {STRATEGIES}, got {strategy!r}.")
    if not cfg.get("synthetic"):  # the synthetic set is rendered later, on first use
        check_manifest(cfg, "train")
        check_manifest(cfg, "valid")


def check_stages(cfg: DictConfig) -> None:
    """The evaluate/generate stages: known metric names, a metric for the evaluate stage."""
    from ..metrics.evaluation import METRICS  # the module registers every metric

    metrics = OmegaConf.select(cfg, "evaluate.metrics") or []
    for name in metrics:
        if name not in METRICS:
            raise ConfigError(f"`evaluate.metrics`: unknown metric {name!r}; known: "
                              f"{METRICS.names()}.")
    wants_eval = (cfg.get("execute_only") == "evaluate"
                  or (OmegaConf.select(cfg, "evaluate.metrics_every") or 0) > 0)
    if wants_eval and not metrics:
        raise ConfigError("The evaluate stage has no metric: set `evaluate.metrics`, e.g. "
                          "evaluate.metrics=[fad_codec,tempo,key].")


def check_compression(cfg: DictConfig) -> None:
    """The compression solver's own checks: precision, losses, adversaries."""
    if str(_get(cfg, "trainer.precision")).startswith("16"):
        raise ConfigError(
            "`trainer.precision`: the compression solver steps two optimizers by hand and "
            "does not support float16 loss scaling; use bf16-mixed or 32-true."
        )
    weights = _get(cfg, "losses")
    for name, weight in weights.items():
        if name not in LOSSES and name not in ADVERSARIAL_TERMS:
            raise ConfigError(
                f"`losses.{name}`: unknown loss; known: {LOSSES.names() + list(ADVERSARIAL_TERMS)}."
            )
        if not isinstance(weight, (int, float)) or weight < 0:
            raise ConfigError(f"`losses.{name}` must be a weight >= 0, got {weight!r}.")
    if not any(weights[n] > 0 for n in weights if n in LOSSES):
        raise ConfigError("every reconstruction weight in `losses` is 0: the codec would "
                          "only learn from the discriminator. Set e.g. losses.msspec=2.")
    for adversary in _get(cfg, "adversarial.adversaries"):
        if adversary not in ADVERSARIES:
            raise ConfigError(f"`adversarial.adversaries`: unknown {adversary!r}; "
                              f"known: {ADVERSARIES.names()}.")
    if _get(cfg, "adversarial.adv_loss") != "hinge":
        raise ConfigError("`adversarial.adv_loss`: only 'hinge' is implemented.")
    if _get(cfg, "adversarial.feat_loss") != "l1":
        raise ConfigError("`adversarial.feat_loss`: only 'l1' is implemented.")
    _positive(cfg, "adversarial.every")


def check_musicgen(cfg: DictConfig) -> None:
    """The MusicGen solver's own checks: a frozen codec, the LM vocabulary."""
    if not _get(cfg, "compression_model_checkpoint"):
        raise ConfigError("`compression_model_checkpoint` is empty: name the frozen codec "
                          "(e.g. facebook/encodec_32khz, debug, or an export folder).")
    for key in ("transformer_lm.card", "transformer_lm.n_q"):
        _positive(cfg, key)
