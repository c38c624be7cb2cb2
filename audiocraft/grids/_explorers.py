"""What the grid files share: the Explorer that `dora grid` runs, with the metrics its
table shows for each experiment."""

from __future__ import annotations

import typing as tp

import treetable as tt
from dora import Explorer


class TrainExplorer(Explorer):
    """Shows train/valid losses of each experiment of a grid (from dora's history)."""

    metric_names: tp.ClassVar[list[str]] = []

    def get_grid_metrics(self) -> list:
        return [tt.group("valid", [tt.leaf(name, ".4f") for name in self.metric_names],
                         align=">")]

    def process_history(self, history: list[dict]) -> dict:
        last = history[-1] if history else {}
        return {"valid": {name: last.get(f"valid/{name}") for name in self.metric_names}}


class MusicGenExplorer(TrainExplorer):
    metric_names: tp.ClassVar[list[str]] = ["ce", "ppl"]


class CompressionExplorer(TrainExplorer):
    metric_names: tp.ClassVar[list[str]] = ["loss", "sisnr"]


class EvalExplorer(Explorer):
    """Shows the evaluate stage's values of each experiment (the last history row holding
    them): ``metric_names`` are ``<metric>/<value>`` keys, logged as ``evaluate/<key>``."""

    metric_names: tp.ClassVar[list[str]] = [
        "fad_codec/fad", "tempo/tempo_exact", "key/key_accuracy", "key/mode_accuracy"]

    def get_grid_metrics(self) -> list:
        return [tt.group("evaluate", [tt.leaf(name, ".4f") for name in self.metric_names],
                         align=">")]

    def process_history(self, history: list[dict]) -> dict:
        rows = [row for row in history if any(k.startswith("evaluate/") for k in row)]
        last = rows[-1] if rows else {}
        return {"evaluate": {name: last.get(f"evaluate/{name}") for name in self.metric_names}}
