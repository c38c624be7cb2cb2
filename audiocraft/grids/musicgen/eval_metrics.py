"""Evaluation sweep with metrics: one trained LM (its export folder) evaluated with
`execute_only=evaluate` (generation from the evaluate split's conditions, scored by
`evaluate.metrics`) for several guidance and sampling settings; no training. The table
shows FAD on the codec's latents and tempo/key adherence.

    AUDIOCRAFT_EVAL_MODEL=/path/to/export dora grid musicgen.eval_metrics

Add `fad_vggish`, `kld` or `clap` to `evaluate.metrics` when their weights are in
`$AUDIOCRAFT_METRICS_DIR` (see the README's Evaluation section).
"""

import os

from .._explorers import EvalExplorer


@EvalExplorer
def explorer(launcher):
    model = os.environ.get("AUDIOCRAFT_EVAL_MODEL", "outputs/export")
    launcher.slurm_(gpus=1)
    launcher.bind_({
        "solver": "musicgen/base", "execute_only": "evaluate", "continue_from": model,
        "compression_model_checkpoint": model, "evaluate.num_samples": 64,
        "evaluate.metrics": "[fad_codec,tempo,key]", "dataset.segment_duration": 10.0,
    })
    for cfg_coef in [1.0, 3.0, 5.0]:
        for top_k in [50, 250]:
            launcher({"generate.lm.cfg_coef": cfg_coef, "generate.lm.top_k": top_k})
