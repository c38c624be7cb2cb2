"""A CPU-sized sweep of the toy LM: learning rate x guidance dropout (one CPU task each).

    dora grid musicgen.toy_sweep
"""

from .._explorers import MusicGenExplorer


@MusicGenExplorer
def explorer(launcher):
    launcher.slurm_(gpus=0, cpus_per_task=2)
    launcher.bind_({"solver": "musicgen/toy", "trainer": "cpu"})
    for lr in [1e-3, 3e-3]:
        for dropout in [0.0, 0.3]:
            launcher({"optim.lr": lr, "classifier_free_guidance.training_dropout": dropout})
