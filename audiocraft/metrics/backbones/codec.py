"""Our own codec's latents as FAD embeddings: works with any of our compression models,
fully offline (the weights are the model's own).

The embedding is the continuous output of ``compression_model.encoder`` (before
quantization), on the model's input as it encodes it (its sample rate and channel
count, renormalised when the model renormalises): ``[B, D, frames]``. With
``pool="frames"`` (default) every latent frame is one embedding (``[B * frames, D]``,
as VGGish gives one per 0.96 s); with ``pool="mean"`` each clip is one embedding (its
frames averaged, ``[B, D]``). A stereo model that wraps a mono codec
(``InterleaveStereoCompressionModel``) embeds the mono downmix with the inner codec.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from audiocraft.data.audio_utils import convert_audio

__all__ = ["CodecBackbone"]


class CodecBackbone:
    """FAD embeddings from a compression model's encoder latents.

    Args:
        compression_model: one of ``audiocraft.models``' compression models (anything with
            an ``encoder`` module, ``sample_rate`` and ``channels``, or wrapping one as
            ``.model``); it is used in eval mode and not modified.
        pool: "frames" (one embedding per latent frame) or "mean" (one per clip).
    """

    def __init__(self, compression_model: nn.Module, pool: str = "frames"):
        if pool not in ("frames", "mean"):
            raise ValueError(f"Unknown pool {pool!r}: use 'frames' or 'mean'.")
        model: Any = compression_model
        if not hasattr(model, "encoder") and hasattr(model, "model"):
            model = model.model  # a stereo wrapper around a mono codec
        if not isinstance(getattr(model, "encoder", None), nn.Module):
            raise TypeError(f"{type(compression_model).__name__} has no encoder module: pass "
                            "one of audiocraft's compression models.")
        self.model = model
        self.pool = pool
        self.name = f"codec-{pool}"
        self.sample_rate = int(model.sample_rate)
        self.channels = int(model.channels)
        self.dim = int(self._latent(torch.zeros(1, self.channels, self._min_length())).shape[1])

    def _min_length(self) -> int:
        return int(getattr(self.model.encoder, "hop_length", 1)) * 2

    def _latent(self, wav: torch.Tensor) -> torch.Tensor:
        """``wav [B, C, T]`` at the model's rate and channels -> latent ``[B, D, frames]``."""
        param = next(self.model.parameters(), None)
        if param is not None:
            wav = wav.to(param)
        preprocess = getattr(self.model, "preprocess", None)
        with torch.no_grad():
            if preprocess is not None:
                wav, _ = preprocess(wav)
            return self.model.encoder(wav)

    def embed(self, wav: torch.Tensor, sample_rate: int) -> torch.Tensor:
        """``wav [B, C, T]`` at ``sample_rate`` -> ``[B * frames, D]`` or ``[B, D]``."""
        if wav.dim() != 3:
            raise ValueError(f"Expected audio [B, C, T], got shape {tuple(wav.shape)}.")
        was_training = self.model.training
        self.model.eval()
        try:
            x = convert_audio(wav.float(), sample_rate, self.sample_rate, self.channels)
            latent = self._latent(x).float()  # [B, D, frames]
        finally:
            self.model.train(was_training)
        if self.pool == "mean":
            return latent.mean(-1)
        return latent.transpose(1, 2).reshape(-1, latent.shape[1])
