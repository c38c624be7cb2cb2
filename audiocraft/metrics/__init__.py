"""Evaluation metrics. `music.py` holds the tempo and key estimators of generated music.

`METRICS` is the registry of named evaluation metrics (the names an evaluation lists):
each entry is a factory ``(EvalContext) -> EvalMetric``, registered in
:mod:`audiocraft.metrics.evaluation` (see there for the context, the batch an evaluation
feeds and :func:`~audiocraft.metrics.evaluation.build_metrics`), imported here so that
the registry is filled whenever the package is imported.
"""

from collections.abc import Callable
from typing import Any

from ..utils.registry import Registry

# Metric name -> factory (EvalContext) -> EvalMetric (audiocraft.metrics.evaluation).
METRICS: Registry[Callable[..., Any]] = Registry("metric")

from . import evaluation  # noqa: E402,F401  (registers every metric in METRICS)

__all__ = ["METRICS"]
