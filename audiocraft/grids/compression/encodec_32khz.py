"""The 32 kHz music codec: balance of the multi-scale mel loss against the adversarial
terms, on 8 GPUs.

    dora grid compression.encodec_32khz
"""

from .._explorers import CompressionExplorer


@CompressionExplorer
def explorer(launcher):
    launcher.slurm_(gpus=8, partition="learnlab")
    launcher.bind_({"solver": "compression/encodec_32khz", "trainer": "ddp",
                    "trainer.strategy": "ddp_find_unused_parameters_true"})
    for msspec in [1.0, 2.0]:
        for adv in [3.0, 4.0]:
            launcher({"losses.msspec": msspec, "losses.adv": adv, "losses.feat": adv})
