"""Chroma cosine similarity of a melody model's generations to the melodies it is given,
against no-melody baselines (what it measures: ``python scripts/eval_toy_melody.py
--help`` and :mod:`audiocraft.recipes.melody_eval`).

    python scripts/eval_toy_melody.py [--model toy-melody] [--baseline-model toy]
        [--num 64] [--seed 1000] [--threads 2] [--json outputs/melody_eval.json]
"""

import sys

from audiocraft.recipes.melody_eval import main

if __name__ == "__main__":
    sys.exit(main())
