"""The reference audiocraft's module path for discriminators. Only the multi-scale STFT
discriminator (``msstftd.py``) exists here; the reference's multi-period and multi-scale
waveform discriminators do not."""

from .msstftd import MultiScaleSTFTDiscriminator

__all__ = ["MultiScaleSTFTDiscriminator"]
