"""Lightning modules that train the models: `CompressionSolver` (EnCodec) and
`MusicGenSolver` (the LM on a frozen codec), with the pieces they share (EMA,
checkpoint I/O, CSV logger, token cache, config checks, optimizers).

`kinds.SOLVERS` names the solver kinds (`cfg.solver`) and their hooks, which
`audiocraft/train.py` calls; `builders.py` turns a training config into a solver."""

from .compression import CompressionSolver
from .musicgen import MusicGenSolver

__all__ = ["CompressionSolver", "MusicGenSolver"]
