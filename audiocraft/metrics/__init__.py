"""Evaluation metrics. `music.py` holds the tempo and key estimators of generated music.

`METRICS` is the registry of named evaluation metrics (the names an evaluation config
lists); it starts empty and metrics register themselves with
``@METRICS.register("name")`` where they are defined.
"""

from collections.abc import Callable
from typing import Any

from ..utils.registry import Registry

# Metric name -> builder of the metric (its signature is the evaluation's to define).
METRICS: Registry[Callable[..., Any]] = Registry("metric")

__all__ = ["METRICS"]
