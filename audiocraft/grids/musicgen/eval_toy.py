"""A CPU-sized evaluation sweep of the shipped toy model: two guidance coefficients x two
temperatures, each scored with the offline metrics (codec FAD, tempo, key) on the synthetic
set's held-out pieces (one CPU task each, no training).

    dora grid musicgen.eval_toy
"""

from .._explorers import EvalExplorer


@EvalExplorer
def explorer(launcher):
    launcher.slurm_(gpus=0, cpus_per_task=2)
    launcher.bind_({
        "solver": "musicgen/toy_lm", "trainer": "cpu", "dset": "synthetic",
        # Held-out pieces: the toy model trained on seeds 0 and 1.
        "synthetic.root": "outputs/synthetic_heldout", "synthetic.valid.seed": 1000,
        "continue_from": "toy", "compression_model_checkpoint": "toy",
        "execute_only": "evaluate", "evaluate.num_samples": 8,
        "evaluate.metrics": "[fad_codec,tempo,key]", "+evaluate.options.key.profiles": "synthetic",
        "dataset.segment_duration": 4.0,
    })
    for cfg_coef in [1.0, 3.0]:
        for temp in [0.8, 1.0]:
            launcher({"generate.lm.cfg_coef": cfg_coef, "generate.lm.temp": temp})
