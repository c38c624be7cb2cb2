"""Build the shipped ``toy-melody`` model: the toy LM fine-tuned with a melody conditioner
(``config/solver/musicgen/toy_lm_melody.yaml``: MusicGen-Melody's chroma, resampled to the
LM's frame rate and added step by step, the ``aligned`` fuse method) on synthetic pieces
rendered with their melody stem; shipped LM-only into ``audiocraft/assets/toy-melody``
(it shares toy's codec). The recipe is ``scripts/build_toy_model.py`` with the arguments
below (extra flags are appended, e.g. ``--threads 2``, ``--work``, ``--out``;
MODEL_CARD.md has the record).

    python scripts/build_toy_melody.py [--threads 2]
"""

import sys

from audiocraft.recipes.toy_build import main

MELODY_ARGS = [
    "--tune-from", "toy", "--tune-solver", "musicgen/toy_lm_melody",
    "--work", "outputs/toy_melody", "--tune-steps", "400", "--num-train-tune", "1024",
    "--tune-override", "continue_with_new_conditioners=true",
    "--tune-override", "optim.lr=5e-4",
    "--out", "audiocraft/assets/toy-melody", "--ship-lm-only",
]

if __name__ == "__main__":
    sys.exit(main(MELODY_ARGS + sys.argv[1:]))
