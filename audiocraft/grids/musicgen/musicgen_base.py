"""MusicGen base recipe on SLURM: learning rate x model scale, 4 nodes of 8 GPUs each.

    dora grid musicgen.musicgen_base            # launch / follow the grid
    dora grid musicgen.musicgen_base --dry_run --init   # list the experiments only
"""

from .._explorers import MusicGenExplorer


@MusicGenExplorer
def explorer(launcher):
    launcher.slurm_(gpus=32, partition="learnlab")
    launcher.bind_({"solver": "musicgen/base", "trainer": "multinode",
                    "trainer.num_nodes": 4, "trainer.devices": 8})
    for scale in ["base", "small"]:
        sub = launcher.bind({"model/lm/model_scale": scale})
        for lr in [1e-4, 2e-4]:
            sub({"optim.lr": lr})
