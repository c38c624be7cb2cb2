"""ResumableCSVLogger: a resumed run continues metrics.csv, a fresh run starts it anew.
(The training-level check is in test_train_resume.py.)"""

import csv

import pytest

from audiocraft.solvers.csv_logger import ResumableCSVLogger


def _logger(tmp_path) -> ResumableCSVLogger:
    return ResumableCSVLogger(save_dir=tmp_path, name="csv", version="")


def _rows(tmp_path) -> list[dict[str, str]]:
    with open(tmp_path / "csv" / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def _first_run(tmp_path) -> None:
    first = _logger(tmp_path)
    for step in range(4):
        first.log_metrics({"loss": float(step)}, step=step)
    first.log_metrics({"valid": 9.0}, step=3)
    first.finalize("failed")


def test_fresh_run_replaces_a_stale_file(tmp_path):
    _first_run(tmp_path)
    second = _logger(tmp_path)
    second.log_metrics({"loss": 5.0}, step=0)
    second.finalize("success")
    assert _rows(tmp_path) == [{"loss": "5.0", "step": "0"}]


def test_resumed_run_keeps_earlier_rows_under_their_columns(tmp_path):
    _first_run(tmp_path)
    with open(tmp_path / "csv" / "metrics.csv", "a") as f:
        f.write("4.0,")  # a kill in the middle of a row
    resumed = _logger(tmp_path)
    resumed.resume_from(2)
    resumed.log_metrics({"loss": 20.0}, step=2)
    resumed.log_metrics({"lr": 0.1, "loss": 30.0}, step=3)  # a new column: the file is rewritten
    resumed.finalize("success")
    assert _rows(tmp_path) == [
        {"loss": "0.0", "lr": "", "step": "0", "valid": ""},
        {"loss": "1.0", "lr": "", "step": "1", "valid": ""},
        {"loss": "20.0", "lr": "", "step": "2", "valid": ""},
        {"loss": "30.0", "lr": "0.1", "step": "3", "valid": ""},
    ]


def test_rows_reach_the_file_as_they_are_logged(tmp_path):
    # A killed run never finalizes: what it logged must already be on disk.
    logger = _logger(tmp_path)
    logger.log_metrics({"loss": 1.0}, step=6)
    assert _rows(tmp_path) == [{"loss": "1.0", "step": "6"}]
    with pytest.raises(RuntimeError, match="before anything is logged"):
        logger.resume_from(3)
