"""Lightning modules that train the models (built by `audiocraft/train.py`):
`CompressionSolver` (EnCodec) and `MusicGenSolver` (the LM on a frozen codec), with the
pieces they share (EMA, checkpoint I/O, CSV logger, token cache,
config checks)."""

from .compression import CompressionSolver
from .musicgen import MusicGenSolver

__all__ = ["CompressionSolver", "MusicGenSolver"]
