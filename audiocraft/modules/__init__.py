"""Reusable layers. The names the reference audiocraft exports from ``audiocraft.modules``
resolve here too (the codec's convolutions, LSTM and SEANet encoder/decoder)."""

from .conv import (
    NormConv1d,
    NormConvTranspose1d,
    StreamableConv1d,
    StreamableConvTranspose1d,
    get_extra_padding_for_conv1d,
    pad1d,
    unpad1d,
)
from .lstm import StreamableLSTM
from .seanet import SEANetDecoder, SEANetEncoder

__all__ = [
    "NormConv1d",
    "NormConvTranspose1d",
    "SEANetDecoder",
    "SEANetEncoder",
    "StreamableConv1d",
    "StreamableConvTranspose1d",
    "StreamableLSTM",
    "get_extra_padding_for_conv1d",
    "pad1d",
    "unpad1d",
]
