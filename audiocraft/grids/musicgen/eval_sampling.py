"""Evaluation sweep: one trained LM (its export folder), validation cross-entropy and
generated samples for several sampling settings; no training (`execute_only=valid`).

    AUDIOCRAFT_EVAL_MODEL=/path/to/export dora grid musicgen.eval_sampling
"""

import os

from .._explorers import MusicGenExplorer


@MusicGenExplorer
def explorer(launcher):
    model = os.environ.get("AUDIOCRAFT_EVAL_MODEL", "outputs/export")
    launcher.slurm_(gpus=1)
    launcher.bind_({
        "solver": "musicgen/base", "execute_only": "valid", "continue_from": model,
        "compression_model_checkpoint": model, "generate.every": 1,
        "generate.num_samples": 8, "generate.duration": 10.0,
    })
    for temp in [0.8, 1.0]:
        for top_k in [50, 250]:
            launcher({"generate.lm.temp": temp, "generate.lm.top_k": top_k})
