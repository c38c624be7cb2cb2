"""Composed models and their user API.

The reference audiocraft's import paths work: ``from audiocraft.models import MusicGen,
EncodecModel, CompressionModel, LMModel`` and ``from audiocraft.models import builders,
loaders``. ``BaseGenModel`` (genmodel.py) is the generic generation model MusicGen
specialises; ``CheckpointError`` and ``MissingWeightsError`` are what loading raises;
``MELODY_MODELS`` names the published models that take a melody.
"""

from . import builders, loaders
from .encodec import CompressionModel, EncodecModel, InterleaveStereoCompressionModel
from .errors import CheckpointError, MissingWeightsError
from .genmodel import BaseGenModel
from .hub import MELODY_MODELS
from .lm import LMModel
from .musicgen import MusicGen

__all__ = [
    "MELODY_MODELS",
    "BaseGenModel",
    "CheckpointError",
    "CompressionModel",
    "EncodecModel",
    "InterleaveStereoCompressionModel",
    "LMModel",
    "MissingWeightsError",
    "MusicGen",
    "builders",
    "loaders",
]
