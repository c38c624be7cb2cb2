"""Checkpoint files: atomic saves, exactly `keep_last` step files, and resume from the
newest intact checkpoint when `last.ckpt` is corrupt."""

import logging

import pytest
import torch

from audiocraft.solvers.checkpoint import (
    AtomicCheckpointIO,
    checkpoint_step,
    prune_step_checkpoints,
    resume_checkpoint,
)
from audiocraft.train import run


def _ckpt(path, step):
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"global_step": step, "state_dict": {"w": torch.full((4,), float(step))}}, path)
    return path


def _truncate(path, keep=100):
    path.write_bytes(path.read_bytes()[:keep])


def test_corrupt_last_falls_back_to_newest_intact_step(tmp_path, caplog):
    folder = tmp_path / "checkpoints"
    _ckpt(folder / "step00000003.ckpt", 3)
    _ckpt(folder / "step00000006.ckpt", 6)
    _truncate(_ckpt(folder / "last.ckpt", 7))
    stale = folder / ".last.ckpt.k2j3h4.tmp"
    stale.write_bytes(b"half a checkpoint")
    with caplog.at_level(logging.WARNING):
        chosen = resume_checkpoint(tmp_path)
    assert chosen == folder / "step00000006.ckpt"
    assert not stale.exists()  # the temp file a killed save left is cleaned
    assert "Skipping checkpoint" in caplog.text and "last.ckpt" in caplog.text


def test_resume_prefers_the_highest_step_and_last_on_a_tie(tmp_path):
    folder = tmp_path / "checkpoints"
    assert resume_checkpoint(tmp_path) is None  # no folder yet
    _ckpt(folder / "step00000006.ckpt", 6)
    _ckpt(folder / "last.ckpt", 6)
    assert resume_checkpoint(tmp_path) == folder / "last.ckpt"
    # Killed between the step file and last.ckpt: the step file is newer.
    _ckpt(folder / "step00000009.ckpt", 9)
    assert resume_checkpoint(tmp_path) == folder / "step00000009.ckpt"


@pytest.mark.parametrize("damage", ["truncate", "empty", "garbage", "not_a_training_ckpt"])
def test_nothing_intact_starts_from_scratch(tmp_path, damage, caplog):
    last = _ckpt(tmp_path / "checkpoints" / "last.ckpt", 4)
    if damage == "truncate":
        _truncate(last)
    elif damage == "empty":
        last.write_bytes(b"")
    elif damage == "garbage":
        last.write_bytes(bytes(range(256)) * 8)
    else:
        torch.save({"best_state": {}}, last)
    with caplog.at_level(logging.WARNING):
        assert resume_checkpoint(tmp_path) is None
    assert "starts from scratch" in caplog.text
    with pytest.raises(Exception):  # noqa: B017 - any read error is fine here
        checkpoint_step(last)


def test_prune_keeps_exactly_keep_last(tmp_path):
    for step in (2, 4, 6, 8):
        _ckpt(tmp_path / f"step{step:08d}.ckpt", step)
    _ckpt(tmp_path / "step00000008-v1.ckpt", 8)  # a version made next to a stale file
    _ckpt(tmp_path / "last.ckpt", 8)
    removed = prune_step_checkpoints(tmp_path, 2)
    assert sorted(p.name for p in removed) == [
        "step00000002.ckpt", "step00000004.ckpt", "step00000006.ckpt"]
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == ["last.ckpt", "step00000008-v1.ckpt", "step00000008.ckpt"]


class _Unpicklable:
    def __reduce__(self):
        raise RuntimeError("cannot save this")


def test_failed_save_keeps_the_old_checkpoint_and_no_temp(tmp_path):
    target = _ckpt(tmp_path / "last.ckpt", 5)
    before = target.read_bytes()
    with pytest.raises(RuntimeError, match="cannot save this"):
        AtomicCheckpointIO().save_checkpoint({"x": _Unpicklable()}, target)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.ckpt"]
    AtomicCheckpointIO().save_checkpoint({"global_step": 6, "state_dict": {}}, target)
    assert checkpoint_step(target) == 6


@pytest.mark.slow
def test_training_resumes_past_a_corrupt_last_ckpt_and_keeps_keep_last(make_cfg, tmp_path,
                                                                        caplog):
    overrides = ["optim.updates_per_epoch=4", "checkpoint.save_every=2",
                 "checkpoint.keep_last=2", "checkpoint.export=false"]
    run_dir = tmp_path / "run"
    first = run(make_cfg("compression/toy", "optim.epochs=1", *overrides, run_dir=run_dir))
    folder = run_dir / "checkpoints"
    assert checkpoint_step(first.last_checkpoint) == 4
    _truncate(folder / "last.ckpt", 1000)  # e.g. a disk that filled up during a copy
    # A stray older step file (from an earlier, killed process) and a temp file.
    _ckpt(folder / "step00000001.ckpt", 1)
    (folder / ".step00000006.ckpt.abcdef.tmp").write_bytes(b"partial")
    with caplog.at_level(logging.WARNING, logger="audiocraft"):
        second = run(make_cfg("compression/toy", "optim.epochs=2", *overrides, run_dir=run_dir))
    assert "Skipping checkpoint" in caplog.text
    assert "Resuming from " + str(folder / "step00000004.ckpt") + " (step 4)" in caplog.text
    assert checkpoint_step(second.last_checkpoint) == 8
    kept = sorted(p.name for p in folder.iterdir())
    assert kept == ["last.ckpt", "step00000006.ckpt", "step00000008.ckpt"]
