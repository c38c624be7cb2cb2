"""Residual vector quantization (the EnCodec quantizer) and its typed result."""

from .base import BaseQuantizer, DummyQuantizer, QuantizedResult
from .vq import ResidualVectorQuantizer

__all__ = ["BaseQuantizer", "DummyQuantizer", "QuantizedResult", "ResidualVectorQuantizer"]
