"""The training command line's front door: ``--help``, and overrides checked before the
run starts, so a mistyped key, group option or solver name gets one short message with
the valid choices instead of a Hydra traceback.

    config_options("solver")  # ['compression/default', ..., 'musicgen/toy', ...]
    config_problem(["optim.lrr=3"])  # "unknown key 'optim.lrr' ... did you mean 'optim.lr'?"
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.errors import HydraException, MissingConfigException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"
# Bases other files build on, not choices of their own.
_BASES = {"solver": {"default", "compression/default", "musicgen/default"}}
_GROUPS = ("solver", "dset", "trainer", "logger", "optim", "schedule")


def config_options(group: str, config_dir: Path = CONFIG_DIR) -> list[str]:
    """The options of a config group, nested ones as ``family/name`` (``solver``'s
    recipes live in ``solver/compression/`` and ``solver/musicgen/``)."""
    root = config_dir / group
    names = sorted(p.relative_to(root).with_suffix("").as_posix() for p in root.rglob("*.yaml"))
    return [n for n in names if n not in _BASES.get(group, set())]


def help_text(config_dir: Path = CONFIG_DIR) -> str:
    groups = "\n".join(f"  {g:<9} {', '.join(config_options(g, config_dir))}" for g in _GROUPS)
    return f"""usage: python -m audiocraft.train [GROUP=OPTION ...] [KEY=VALUE ...] [+KEY=VALUE ...]

Train a compression model (EnCodec) or a MusicGen language model with Hydra overrides.
The same command again resumes the same run from its last checkpoint; each run lives in
<dora.dir>/xps/<signature> (dora.dir: $AUDIOCRAFT_DORA_DIR, else outputs/).

config groups (GROUP=OPTION; the config tree is {config_dir}):
{groups}

examples:
  python -m audiocraft.train solver=compression/toy      # a tiny codec, seconds on a CPU
  python -m audiocraft.train solver=musicgen/toy optim.epochs=2 optim.lr=3e-4
  python -m audiocraft.train solver=musicgen/toy trainer=ddp_cpu   # 2 processes
  python -m audiocraft.train solver=musicgen/toy execute_only=evaluate

common keys: optim.epochs, optim.updates_per_epoch, optim.lr, dataset.batch_size,
  checkpoint.save_every, continue_from=MODEL (fine-tune), execute_only=valid|evaluate|generate,
  logging.progress_bar=false. The README's "Training" section lists the rest.
"""


def config_problem(overrides: Sequence[str], config_dir: Path = CONFIG_DIR) -> str | None:
    """What is wrong with ``overrides`` (one short message naming the valid choices), or
    None when the config composes."""
    try:
        _compose(overrides, config_dir)
        return None
    except MissingConfigException as err:
        found = re.search(r"Could not find '([^']+)'", str(err))
        if found is None:
            return _first_line(err)
        group, _, name = found.group(1).partition("/")
        if not (config_dir / group).is_dir():
            return _first_line(err)
        options = config_options(group, config_dir)
        return (f"unknown {group} {name!r}: the options are {', '.join(options)}."
                + _did_you_mean(name, options))
    except HydraException as err:
        found = re.search(r"Could not override '([^']+)'", str(err))
        if found is None:
            return _first_line(err) + " (overrides are KEY=VALUE or GROUP=OPTION: see --help)"
        return _unknown_key(found.group(1), overrides, config_dir)
    except (OmegaConfBaseException, ValueError) as err:
        return _first_line(err)


def _compose(overrides: Sequence[str], config_dir: Path) -> DictConfig:
    with initialize_config_dir(str(config_dir), version_base="1.3"):
        return compose("config", overrides=list(overrides))


def _unknown_key(key: str, overrides: Sequence[str], config_dir: Path) -> str:
    # The keys the run's config does have: compose it with the group choices only.
    groups = [o for o in overrides if o.split("=", 1)[0].lstrip("+~") in _GROUPS]
    try:
        cfg = _compose(groups, config_dir)
    except (HydraException, OmegaConfBaseException, ValueError):
        cfg = _compose([], config_dir)
    parent, _, leaf = key.rpartition(".")
    node = OmegaConf.select(cfg, parent) if parent else cfg
    value = next((o.split("=", 1)[1] for o in overrides
                  if o.split("=", 1)[0] == key and "=" in o), "VALUE")
    new_key = f" (to add a new key, prefix it with +: +{key}={value})"
    if not isinstance(node, DictConfig):
        top = sorted(str(k) for k in cfg.keys())
        return (f"unknown key {key!r}: {parent!r} is not a section of the config; its "
                f"sections and keys are {', '.join(top)}." + _did_you_mean(key, top) + new_key)
    keys = sorted(str(k) for k in node.keys())
    where = f"under {parent!r}" if parent else "at the top level"
    choices = [f"{parent}.{k}" if parent else k for k in keys]
    return (f"unknown key {key!r}: the keys {where} are {', '.join(keys)}."
            + _did_you_mean(key, choices) + new_key)


def _did_you_mean(name: str, options: Sequence[str]) -> str:
    # `solver=toy` means one of the nested recipes named toy.
    close = [o for o in options if o.rsplit("/", 1)[-1] == name]
    close = close or difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    return f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


def _first_line(err: BaseException) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
