"""The training module changes nothing when imported: the rank dora reads is exposed when
the command runs."""

import os
import subprocess
import sys

from dora.hydra import HydraMain

import audiocraft.train as train


def test_import_leaves_the_environment_alone():
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "NODE_RANK")}
    env.update(WORLD_SIZE="2", LOCAL_RANK="1")
    code = "import os, audiocraft.train; print(os.environ.get('RANK'))"
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "None"


def test_command_exposes_the_local_rank_before_dora_runs(monkeypatch):
    # Lightning's DDP launcher starts local rank 1 with LOCAL_RANK and WORLD_SIZE, no RANK.
    monkeypatch.setattr(os, "environ", {"WORLD_SIZE": "2", "LOCAL_RANK": "1"})
    seen = {}
    monkeypatch.setattr(HydraMain, "__call__",
                        lambda self: seen.setdefault("rank", os.environ.get("RANK")))
    assert isinstance(train.main, HydraMain)  # what `dora grid` and `dora run` look up
    train.main()
    assert seen == {"rank": "1"}
