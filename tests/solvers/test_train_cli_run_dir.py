"""On the command line a run lives in dora's signature folder; a ``run_dir=`` given there
is not used, and the user is told where the run went instead."""

import os
import subprocess
import sys

from audiocraft.train import run_dir_note


def test_run_dir_note_names_both_folders(tmp_path):
    folder = tmp_path / "xps" / "abc123"
    note = run_dir_note(["solver=musicgen/toy", "run_dir=mine"], folder)
    assert note is not None and "run_dir=mine is not used" in note and str(folder) in note
    assert "AUDIOCRAFT_DORA_DIR" in note
    assert run_dir_note(["+run_dir=other"], folder) is not None
    # No run_dir given, or the signature folder itself: nothing to say.
    assert run_dir_note(["solver=musicgen/toy", "xp_name=run_dir=x"], folder) is None
    assert run_dir_note([f"run_dir={folder}"], folder) is None


def test_command_line_run_dir_is_reported_not_silently_replaced(synthetic_root, tmp_path):
    mine = tmp_path / "mine"
    cmd = [sys.executable, "-m", "audiocraft.train", "solver=musicgen/toy", "logger=csv",
           "logging.progress_bar=false", f"synthetic.root={synthetic_root}",
           "synthetic.train.num=6", "synthetic.valid.num=2", "synthetic.duration=3.0",
           "optim.epochs=1", "optim.updates_per_epoch=2", "checkpoint.export=false",
           f"run_dir={mine}"]
    env = {**os.environ, "AUDIOCRAFT_DORA_DIR": str(tmp_path / "dora"), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    (run,) = (tmp_path / "dora" / "xps").iterdir()
    assert (run / "checkpoints" / "last.ckpt").exists()
    assert f"note: run_dir={mine} is not used on the command line: this run lives in {run}" \
        in proc.stderr, proc.stderr[-4000:]
    assert not mine.exists()
