"""Evaluation metrics. `music.py` holds the tempo and key estimators of generated music.

`METRICS` is the registry of named evaluation metrics (the names an evaluation lists):
each entry is a factory ``(EvalContext) -> EvalMetric``, registered in
:mod:`audiocraft.metrics.evaluation` (see there for the context, the batch an evaluation
feeds and :func:`~audiocraft.metrics.evaluation.build_metrics`). Importing the evaluation
module fills the registry: ``from audiocraft.metrics.evaluation import build_metrics``.
"""

from collections.abc import Callable
from typing import Any

from ..utils.registry import Registry

# Metric name -> factory (EvalContext) -> EvalMetric (audiocraft.metrics.evaluation).
METRICS: Registry[Callable[..., Any]] = Registry("metric")

__all__ = ["METRICS"]
