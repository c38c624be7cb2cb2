"""Build the shipped ``toy`` model end to end on a CPU (stages, flags and the record it
writes: ``python scripts/build_toy_model.py --help`` and :mod:`audiocraft.recipes.toy_build`).

    python scripts/build_toy_model.py [--work outputs/toy_build] [--out audiocraft/assets/toy] ...
    python scripts/build_toy_model.py --tune-from toy --work outputs/toy_refine [--tune-steps N]
    python scripts/build_toy_model.py --reexport toy --work outputs/toy_reexport --cfg-coef 3,6,6,6
"""

import sys

from audiocraft.recipes.toy_build import main

if __name__ == "__main__":
    sys.exit(main())
