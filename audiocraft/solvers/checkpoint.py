"""Checkpoint plumbing shared by the solvers: atomic files, RNG state, keep-last-N, resume.

Lightning writes the checkpoints (model, optimizers, schedulers, loop progress, the data
loader position, and what the solvers add in `on_save_checkpoint`); this module makes
each file appear atomically (temporary file, fsync, rename), keeps exactly the
`keep_last` newest step checkpoints, carries the random-number-generator state, and
picks the checkpoint a run resumes from: the newest intact one, so a corrupt
`last.ckpt` (a disk that filled up, a copy cut short) falls back to the step before.
"""

from __future__ import annotations

import logging
import random
import re
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.plugins.io import TorchCheckpointIO

from ..models.loaders import torch_load, torch_save
from ..utils.atomic import clean_stale_temps

logger = logging.getLogger(__name__)

LAST_NAME = "last.ckpt"
# "step00000006.ckpt", and the "-v1" copies older versions made next to a stale file.
_STEP_FILE = re.compile(r"^step(\d+)(?:-v\d+)?\.ckpt$")


class NonFiniteLossError(RuntimeError):
    """Raised when a training loss is NaN or infinite. The step's update is not applied
    and no checkpoint is written, so the last checkpoint on disk is the last good state."""


class AtomicCheckpointIO(TorchCheckpointIO):
    """Writes each checkpoint to a temporary file in the same folder, flushes it to disk
    and renames it into place, so a run killed while saving (or a machine that loses
    power) never leaves a truncated checkpoint behind."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any,
                        storage_options: Any | None = None) -> None:
        torch_save(checkpoint, path)

    def load_checkpoint(self, path: Any, map_location: Any = None,
                        weights_only: bool | None = None) -> dict[str, Any]:
        """Read a checkpoint to resume from through the safe loader (weights only, on CPU;
        Lightning moves the states to the device): a file holding code is refused."""
        return torch_load(path)  # type: ignore[no-any-return]


class KeepLastCheckpoint(ModelCheckpoint):
    """A ModelCheckpoint that keeps exactly the `keep_last` newest step checkpoints in its
    folder, including files an earlier (killed) process left that Lightning's own
    bookkeeping does not know about; a step saved again overwrites its stale file."""

    def __init__(self, keep_last: int, **kwargs: Any):
        super().__init__(save_top_k=keep_last, enable_version_counter=False, **kwargs)
        self.keep_last = keep_last

    def _save_checkpoint(self, trainer: L.Trainer, filepath: str) -> None:
        super()._save_checkpoint(trainer, filepath)
        if trainer.is_global_zero and self.dirpath is not None:
            for removed in prune_step_checkpoints(self.dirpath, self.keep_last):
                self.best_k_models.pop(str(removed), None)


def step_checkpoints(dirpath: str | Path) -> list[tuple[int, Path]]:
    """The step checkpoints in `dirpath` as `(step, path)`, oldest first."""
    found = []
    folder = Path(dirpath)
    if folder.is_dir():
        for path in folder.iterdir():
            match = _STEP_FILE.match(path.name)
            if match and path.is_file():
                found.append((int(match.group(1)), path))
    return sorted(found, key=lambda item: (item[0], item[1].stat().st_mtime))


def prune_step_checkpoints(dirpath: str | Path, keep_last: int) -> list[Path]:
    """Remove all but the `keep_last` newest step checkpoints; return the removed paths."""
    found = [path for _, path in step_checkpoints(dirpath)]
    stale = found[: max(0, len(found) - keep_last)]
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def keep_last_checkpoints(dirpath: str | Path, every_n_steps: int,
                          keep_last: int) -> ModelCheckpoint:
    """A ModelCheckpoint saving every `every_n_steps` optimisation steps (mid-epoch too),
    keeping exactly the `keep_last` most recent files plus `last.ckpt` (the file runs
    resume from)."""
    if every_n_steps < 1 or keep_last < 1:
        raise ValueError(
            f"checkpoint.save_every ({every_n_steps}) and checkpoint.keep_last ({keep_last}) "
            "must both be >= 1."
        )
    return KeepLastCheckpoint(
        keep_last,
        dirpath=str(dirpath),
        filename="step{step:08d}",
        auto_insert_metric_name=False,
        every_n_train_steps=every_n_steps,
        monitor="step",
        mode="max",
        save_last=True,
        save_on_train_epoch_end=True,
    )


def resume_checkpoint(run_dir: str | Path) -> Path | None:
    """The checkpoint a run in `run_dir` resumes from: the intact one of `last.ckpt` and
    the step checkpoints with the highest step (`last.ckpt` on a tie), or None when
    there is none. Unreadable files are skipped with a warning; temporary files a killed
    save left are removed first."""
    folder = Path(run_dir) / "checkpoints"
    for tmp in clean_stale_temps(folder):
        logger.warning("Removed %s, left by a save that did not finish.", tmp)
    candidates = [path for _, path in reversed(step_checkpoints(folder))]
    if (folder / LAST_NAME).is_file():
        candidates.insert(0, folder / LAST_NAME)
    best: tuple[int, Path] | None = None
    for path in candidates:
        try:
            step = checkpoint_step(path)
        except Exception as err:  # any failure to read it makes it unusable
            logger.warning(
                "Skipping checkpoint %s: it cannot be read (%s: %s); the run resumes from "
                "the newest intact checkpoint instead.", path, type(err).__name__,
                str(err).split("\n")[0][:200],
            )
            continue
        if best is None or step > best[0]:
            best = (step, path)
    if best is None and candidates:
        logger.warning("No intact checkpoint in %s: the run starts from scratch.", folder)
    if best is not None and best[1] != folder / LAST_NAME:
        logger.warning("Resuming from %s (step %d).", best[1], best[0])
    return None if best is None else best[1]


def checkpoint_step(path: str | Path) -> int:
    """The global step a Lightning checkpoint was saved at (its tensors are mapped, not
    read). Raises for a truncated or corrupt file, or one that is not a training
    checkpoint."""
    ckpt = torch_load(path, mmap=True)
    if not isinstance(ckpt, dict) or "global_step" not in ckpt or "state_dict" not in ckpt:
        raise ValueError(f"{path} is not a Lightning training checkpoint")
    return int(ckpt["global_step"])


def rng_state() -> dict[str, Any]:
    """The states of Python's, NumPy's and torch's CPU generators, in types that
    `torch.load(weights_only=True)` accepts (Lightning resumes that way)."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()  # type: ignore[misc]
    return {
        "python": random.getstate(),
        "numpy": (kind, torch.from_numpy(np.asarray(keys, dtype=np.int64)), int(pos),
                  int(has_gauss), float(gauss)),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
