"""Checkpoint plumbing shared by the solvers: atomic files, RNG state, keep-last-N.

Lightning writes the checkpoints (model, optimizers, schedulers, loop progress, the data
loader position, and what the solvers add in `on_save_checkpoint`); this module makes
each file appear atomically and carries the random-number-generator state.
"""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.plugins.io import TorchCheckpointIO


class NonFiniteLossError(RuntimeError):
    """Raised when a training loss is NaN or infinite. The step's update is not applied
    and no checkpoint is written, so the last checkpoint on disk is the last good state."""


class AtomicCheckpointIO(TorchCheckpointIO):
    """Writes each checkpoint to a temporary file in the same folder and renames it into
    place, so a run killed while saving never leaves a truncated checkpoint behind."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any,
                        storage_options: Any | None = None) -> None:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        os.close(fd)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes owner-only files; keep the usual mode
        try:
            torch.save(checkpoint, tmp)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def keep_last_checkpoints(dirpath: str | Path, every_n_steps: int,
                          keep_last: int) -> ModelCheckpoint:
    """A ModelCheckpoint saving every `every_n_steps` optimisation steps (mid-epoch too),
    keeping the `keep_last` most recent files plus `last.ckpt` (the file runs resume from)."""
    if every_n_steps < 1 or keep_last < 1:
        raise ValueError(
            f"checkpoint.save_every ({every_n_steps}) and checkpoint.keep_last ({keep_last}) "
            "must both be >= 1."
        )
    return ModelCheckpoint(
        dirpath=str(dirpath),
        filename="step{step:08d}",
        auto_insert_metric_name=False,
        every_n_train_steps=every_n_steps,
        save_top_k=keep_last,
        monitor="step",
        mode="max",
        save_last=True,
        save_on_train_epoch_end=True,
    )


def checkpoint_step(path: str | Path) -> int:
    """The global step a Lightning checkpoint was saved at (its tensors are mapped, not read)."""
    return int(torch.load(path, map_location="cpu", weights_only=True, mmap=True)["global_step"])


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
