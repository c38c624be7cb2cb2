"""Configs from files we do not control (checkpoints, model folders), made inert.

An OmegaConf string may call a resolver when it is read: ``${oc.env:HOME}`` returns an
environment variable, and other resolvers (Hydra's, a plugin's) can do more. A config
stored in a checkpoint is data, so :func:`inert_config` turns every resolver call into
literal text (``${oc.env:X}`` stays the string ``"${oc.env:X}"``, escaped as
``\\${oc.env:X}``). Plain references to other keys of the same config (``${sample_rate}``,
``${..channels}``), which the reference configs use, keep working: they read nothing
outside the config. The walk is bounded (:data:`MAX_CONFIG_NODES`, :data:`MAX_CONFIG_CHARS`)
so a small YAML file of nested aliases cannot expand into gigabytes.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from omegaconf import DictConfig, OmegaConf
from omegaconf._utils import get_yaml_loader  # OmegaConf's own YAML rules (1e-4 is a float)

MAX_CONFIG_CHARS = 1_000_000  # a model's xp.cfg is a few KB
MAX_CONFIG_NODES = 100_000

# ``${a.b}``, ``${..c}``, ``${a[0]}``: a reference to another key, no resolver call.
_NODE_REFERENCE = re.compile(r"\$\{[\w.\[\]\- ]*\}")


class UntrustedConfigError(ValueError):
    """A config from a file is too large, too deep, or not a mapping."""


def _inert_string(text: str) -> str:
    if "${" not in text:
        return text
    if "\\${" not in text and "${" not in _NODE_REFERENCE.sub("", text):
        return text  # only references to other keys
    # Escape every interpolation: the string is read as the literal text it shows.
    return text.replace("\\${", "${").replace("${", "\\${")


def _walk(node: Any, budget: list[int]) -> Any:
    budget[0] -= 1
    if budget[0] < 0:
        raise UntrustedConfigError(
            f"The config has more than {MAX_CONFIG_NODES} entries: it is not a model config "
            "(a config of nested YAML aliases?).")
    if isinstance(node, dict):
        return {(_inert_string(k) if isinstance(k, str) else k): _walk(v, budget)
                for k, v in node.items()}
    if isinstance(node, list):
        return [_walk(v, budget) for v in node]
    if isinstance(node, str):
        return _inert_string(node)
    return node


def inert_config(data: str | dict[str, Any] | DictConfig) -> DictConfig:
    """A ``DictConfig`` of ``data`` (YAML text, a dict, or a config) in which no resolver
    can run: interpolations other than references to the config's own keys are literal.

    Raises:
        UntrustedConfigError: the text is over ``MAX_CONFIG_CHARS``, the config has more
            than ``MAX_CONFIG_NODES`` entries, or it is not a mapping.
    """
    if isinstance(data, str):
        if len(data) > MAX_CONFIG_CHARS:
            raise UntrustedConfigError(
                f"The config is {len(data)} characters long, over the limit of "
                f"{MAX_CONFIG_CHARS}: it is not a model config.")
        try:
            # Parsed without OmegaConf.create: YAML aliases stay shared until the bounded
            # walk below expands them.
            data = yaml.load(data, Loader=get_yaml_loader())  # noqa: S506 (a safe loader)
        except yaml.YAMLError as err:
            raise UntrustedConfigError(
                f"The config is not valid YAML ({type(err).__name__}).") from None
    if isinstance(data, DictConfig):
        container = OmegaConf.to_container(data, resolve=False)
    else:
        container = data
    if not isinstance(container, dict):
        raise UntrustedConfigError(
            f"The config must be a mapping of keys to values, got {type(container).__name__}.")
    cleaned = _walk(container, [MAX_CONFIG_NODES])
    return OmegaConf.create(cleaned)
