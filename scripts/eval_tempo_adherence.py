"""Tempo adherence of a text-to-music model on captions unlike its training captions,
beside its own captions (what it measures: ``python scripts/eval_tempo_adherence.py
--help`` and :mod:`audiocraft.recipes.tempo_eval`).

    python scripts/eval_tempo_adherence.py [--model toy] [--num 128] [--seed 1000]
        [--threads 2] [--json outputs/tempo_eval.json]
"""

import sys

from audiocraft.recipes.tempo_eval import main

if __name__ == "__main__":
    sys.exit(main())
