"""Run one training from Hydra overrides and save this rank's trained weights.

Used by test_train_ddp.py as a subprocess; Lightning's DDP launcher re-executes this
same script for the other ranks (LOCAL_RANK set in their environment).
"""

import os
import sys
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir

from audiocraft.train import CONFIG_DIR, run

if __name__ == "__main__":
    out = Path(sys.argv[1])
    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("config", overrides=sys.argv[2:])
    result = run(cfg)
    rank = int(os.environ.get("LOCAL_RANK", "0"))
    state = {k: v.detach().cpu() for k, v in result.solver.trained_module().state_dict().items()}
    torch.save(state, out / f"rank{rank}.pt")
