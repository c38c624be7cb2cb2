"""A CSV metrics logger whose `metrics.csv` survives a resumed run.

Lightning's CSVLogger deletes an existing `metrics.csv` when it starts, so resuming a
killed run lost the learning curve before the cut. `ResumableCSVLogger` keeps the file
when `train.py` tells it the step the run resumes from: the rows logged at that step or
later (the resumed run logs them again) are dropped and the new rows are appended under
the file's header. A fresh run still starts a fresh file.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from lightning.fabric.loggers.logger import rank_zero_experiment
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter


def _step(row: dict[str, str]) -> float:
    try:
        return float(row.get("step") or "nan")
    except ValueError:
        return float("nan")


class _ResumingWriter(ExperimentWriter):
    """Lightning's writer, keeping the rows of `metrics.csv` before `resume_step`."""

    def __init__(self, log_dir: str, resume_step: int | None) -> None:
        self._resume_step = resume_step
        super().__init__(log_dir)  # calls _check_log_dir_exists

    def _check_log_dir_exists(self) -> None:
        kept = self._rows_before_resume()
        if kept is None:
            super()._check_log_dir_exists()  # a fresh run: a stale file goes, as before
            return
        header, rows = kept
        # The writer appends under the header it knows: start it from the file's own, so
        # old rows keep their columns and a new metric key rewrites the file with all of them.
        self.metrics_keys = header
        tmp = self.metrics_file_path + ".tmp"
        with self._fs.open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=header)
            writer.writeheader()
            writer.writerows(rows)
        self._fs.mv(tmp, self.metrics_file_path)  # a kill now leaves the old file or the new

    def _rows_before_resume(self) -> tuple[list[str], list[dict[str, str]]] | None:
        """The header of the existing `metrics.csv` and its rows logged before the resume
        step; None for a fresh run, or when there is no file to continue."""
        step = self._resume_step
        if step is None or not self._fs.isfile(self.metrics_file_path):
            return None
        with self._fs.open(self.metrics_file_path, "r", newline="") as f:
            text = f.read()
        if not text.endswith("\n"):  # the run was killed while writing its last row
            text = text[:text.rfind("\n") + 1]
        reader = csv.DictReader(io.StringIO(text))
        header = list(reader.fieldnames or [])
        if not header:
            return None
        # NaN (a missing or garbled step) compares False: such rows are dropped too.
        return header, [row for row in reader if _step(row) < step]


class ResumableCSVLogger(CSVLogger):
    """Lightning's CSVLogger (same arguments, files in `<save_dir>/<name>/<version>`) that
    continues an existing `metrics.csv` after `resume_from(step)`.

    Rows are written as they are logged (`flush_logs_every_n_steps=1`): buffered rows
    would be lost by a kill, leaving a gap before the checkpoint the run resumes from."""

    def __init__(self, save_dir: str | Path, name: str | None = "lightning_logs",
                 version: int | str | None = None, prefix: str = "",
                 flush_logs_every_n_steps: int = 1) -> None:
        super().__init__(save_dir, name=name, version=version, prefix=prefix,
                         flush_logs_every_n_steps=flush_logs_every_n_steps)
        self._resume_step: int | None = None

    def resume_from(self, step: int) -> None:
        """Keep the rows of an existing `metrics.csv` logged before `step` (the global step
        of the checkpoint the run resumes from) and append after them."""
        if self._experiment is not None:
            raise RuntimeError("resume_from(step) must be called before anything is logged.")
        self._resume_step = step

    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _ResumingWriter(self.log_dir, self._resume_step)
        return self._experiment  # type: ignore[return-value]
