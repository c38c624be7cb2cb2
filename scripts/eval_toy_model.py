"""Evaluate a text-to-music model on a held-out synthetic set with tempo and key estimators
(what it measures: ``python scripts/eval_toy_model.py --help`` and
:mod:`audiocraft.recipes.toy_eval`).

    python scripts/eval_toy_model.py [--model toy] [--num 128] [--seed 1000] [--seconds 6]
        [--long-seconds 300] [--long-pieces 1] [--json outputs/toy_eval.json]
    python scripts/eval_toy_model.py --codec-only --model FOLDER   # a codec alone
"""

import sys

from audiocraft.recipes.toy_eval import main

if __name__ == "__main__":
    sys.exit(main())
