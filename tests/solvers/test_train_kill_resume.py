"""A training run SIGKILLed mid-epoch and started again with the same command ends with
the same weights and EMA as an uninterrupted run, and the kill leaves no broken checkpoint.

Unlike test_train_resume.py (which stops the run from inside a Lightning callback), this
runs the real command line in a subprocess and kills its process group from outside,
at whatever instruction it happens to be executing.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

# Checkpoints every 7 steps never fall on an epoch's end (50, 100, 150). The kill comes
# after the first checkpoint of epoch 2 (step 56), leaving 94 steps (about 3 s here) of
# margin before the run could end on its own.
EPOCHS, STEPS_PER_EPOCH, SAVE_EVERY = 3, 50, 7
TOTAL_STEPS = EPOCHS * STEPS_PER_EPOCH
POLL_TIMEOUT_S = 120.0  # bound on the wait for the first checkpoint (a slow shared machine)


def _command(synthetic_root: Path) -> list[str]:
    """The README's training command, shrunk to a few seconds on the test data set."""
    return [
        sys.executable, "-m", "audiocraft.train", "solver=musicgen/toy",
        "logger=csv", "logging.progress_bar=false",
        f"synthetic.root={synthetic_root}",
        "synthetic.train.num=6", "synthetic.valid.num=2", "synthetic.duration=3.0",
        f"optim.epochs={EPOCHS}", f"optim.updates_per_epoch={STEPS_PER_EPOCH}",
        f"checkpoint.save_every={SAVE_EVERY}", "checkpoint.keep_last=2",
        "checkpoint.export=false",
    ]


def _start(cmd: list[str], dora_dir: Path, log: Path) -> subprocess.Popen:
    env = {**os.environ, "AUDIOCRAFT_DORA_DIR": str(dora_dir), "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    with open(log, "wb") as out:  # a file, not a pipe: a full pipe would stall the run
        # A new session makes the run its own process group, so the kill reaches every
        # process it started.
        return subprocess.Popen(cmd, env=env, cwd=dora_dir.parent, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)


def _finish(proc: subprocess.Popen, log: Path) -> None:
    code = proc.wait(timeout=POLL_TIMEOUT_S)
    assert code == 0, f"training exited with {code}:\n{log.read_text()[-4000:]}"


def _run_dir(dora_dir: Path) -> Path:
    runs = list((dora_dir / "xps").iterdir())
    assert len(runs) == 1, runs  # the same command always maps to the same run folder
    return runs[0]


def _step(ckpt: Path) -> int:
    return int(ckpt.stem.removeprefix("step"))


def _wait_for_checkpoint(proc: subprocess.Popen, dora_dir: Path, log: Path) -> None:
    """Polls until a step checkpoint of epoch 2 exists (older ones are deleted as the
    run goes, only the last `keep_last` stay)."""
    deadline = time.monotonic() + POLL_TIMEOUT_S
    while time.monotonic() < deadline:
        if any(_step(p) > STEPS_PER_EPOCH for p in dora_dir.glob("xps/*/checkpoints/step*.ckpt")):
            return
        assert proc.poll() is None, f"run ended before its first checkpoint:\n{log.read_text()}"
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    pytest.fail(f"no checkpoint within {POLL_TIMEOUT_S} s:\n{log.read_text()[-4000:]}")


def _load(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=False)


def _assert_checkpoints_intact(ckpt_dir: Path) -> int:
    """Every `*.ckpt` file loads completely; anything else is a hidden temporary file of
    an interrupted save. Returns the step of `last.ckpt`."""
    names = sorted(p.name for p in ckpt_dir.iterdir())
    assert "last.ckpt" in names, names
    for name in names:
        if name.endswith(".ckpt") and not name.startswith("."):
            ckpt = _load(ckpt_dir / name)
            assert {"state_dict", "optimizer_states", "loops", "audiocraft"} <= ckpt.keys(), name
        else:
            assert name.startswith(".") and name.endswith(".tmp"), f"unexpected file {name}"
    return int(_load(ckpt_dir / "last.ckpt")["global_step"])


@pytest.mark.slow
def test_sigkilled_run_resumes_to_the_uninterrupted_weights(synthetic_root, tmp_path):
    cmd = _command(synthetic_root)
    full_dir, killed_dir = tmp_path / "full" / "dora", tmp_path / "killed" / "dora"
    full_dir.mkdir(parents=True)
    killed_dir.mkdir(parents=True)

    # The uninterrupted run and the run to kill go side by side (one thread each).
    full = _start(cmd, full_dir, tmp_path / "full.log")
    killed = _start(cmd, killed_dir, tmp_path / "killed.log")
    try:
        _wait_for_checkpoint(killed, killed_dir, tmp_path / "killed.log")
        assert killed.poll() is None, "the run finished before it could be killed"
        os.killpg(killed.pid, signal.SIGKILL)
        assert killed.wait(timeout=POLL_TIMEOUT_S) == -signal.SIGKILL
    finally:
        if killed.poll() is None:
            os.killpg(killed.pid, signal.SIGKILL)
            killed.wait()
    _finish(full, tmp_path / "full.log")

    run_dir = _run_dir(killed_dir)
    killed_at = _assert_checkpoints_intact(run_dir / "checkpoints")
    # last.ckpt is written just after each step checkpoint, so a kill in between leaves
    # the previous one; either way it is mid-epoch and the run has steps left to do.
    assert 0 < killed_at < TOTAL_STEPS and killed_at % STEPS_PER_EPOCH != 0, killed_at

    # The same command again: it finds the run folder and resumes from the newest
    # checkpoint (last.ckpt, or the step file a kill just before last.ckpt left newer).
    resumed = _start(cmd, killed_dir, tmp_path / "resumed.log")
    _finish(resumed, tmp_path / "resumed.log")
    assert _run_dir(killed_dir) == run_dir
    train_log = (run_dir / "train.log").read_text()
    assert f"Resuming from {run_dir / 'checkpoints'}" in train_log, train_log

    a = _load(_run_dir(full_dir) / "checkpoints" / "last.ckpt")
    b = _load(run_dir / "checkpoints" / "last.ckpt")
    assert a["global_step"] == b["global_step"] == TOTAL_STEPS
    assert a["state_dict"].keys() == b["state_dict"].keys()
    for key in a["state_dict"]:
        assert torch.equal(a["state_dict"][key], b["state_dict"][key]), key
    ema_a, ema_b = a["audiocraft"]["ema"]["shadow"], b["audiocraft"]["ema"]["shadow"]
    assert ema_a and ema_a.keys() == ema_b.keys()
    for key in ema_a:
        assert torch.equal(ema_a[key], ema_b[key]), f"EMA {key}"
