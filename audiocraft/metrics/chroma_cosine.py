"""Chroma cosine similarity between a melody (the reference) and generated audio.

As the reference audiocraft metric: both signals are resampled to the chroma rate (32
kHz) and made mono, their chromagrams taken with
:class:`~audiocraft.modules.chroma.ChromaExtractor` (12 pitch classes, windows of 2^14
samples, hop 4096, no argmax, as MusicGen-Melody), and the cosine similarity of the two
chroma vectors of every frame averaged over all frames of all items (frames past an
item's length ``ceil(size / hop)`` are left out).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torchmetrics import Metric

from audiocraft.metrics.backbones.base import to_mono
from audiocraft.modules.chroma import ChromaExtractor

__all__ = ["ChromaCosineSimilarity"]


class ChromaCosineSimilarity(Metric):
    """Mean frame-wise cosine similarity of the chromagrams of generated audio and a melody.

    Args:
        sample_rate: rate of the chroma extractor; n_chroma: pitch classes;
        radix2_exp: window 2 ** radix2_exp samples; argmax: one-hot chroma frames;
        eps: of the cosine similarity.

    ``compute()`` returns ``{"chroma_cosine": value}`` (1 for identical pitch content).
    """

    full_state_update = False
    higher_is_better = True
    is_differentiable = False
    cosine_sum: torch.Tensor
    frames: torch.Tensor

    def __init__(self, sample_rate: int = 32000, n_chroma: int = 12, radix2_exp: int = 14,
                 argmax: bool = False, eps: float = 1e-8):
        super().__init__()
        self.chroma_sample_rate = sample_rate
        self.eps = eps
        self.extractor = ChromaExtractor(sample_rate, n_chroma=n_chroma, radix2_exp=radix2_exp,
                                         argmax=argmax)
        self.add_state("cosine_sum", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("frames", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, preds: torch.Tensor, melody: torch.Tensor, sample_rate: int,
               sizes: torch.Tensor | None = None, melody_sample_rate: int | None = None) -> None:
        """Generated ``preds [B, C, T]`` at ``sample_rate`` against ``melody [B, C', T']`` at
        ``melody_sample_rate`` (default: the same); both are cut to the shorter duration,
        and item ``i`` to ``sizes[i]`` samples (at ``sample_rate``)."""
        if preds.dim() != 3 or melody.dim() != 3 or preds.shape[0] != melody.shape[0]:
            raise ValueError(f"Expected preds and melody [B, C, T] with the same B, got "
                             f"{tuple(preds.shape)} and {tuple(melody.shape)}.")
        melody_sample_rate = melody_sample_rate or sample_rate
        gen = to_mono(preds, sample_rate, self.chroma_sample_rate)  # [B, T']
        ref = to_mono(melody, melody_sample_rate, self.chroma_sample_rate)
        samples = min(gen.shape[-1], ref.shape[-1])  # at the chroma rate
        gen, ref = gen[:, :samples], ref[:, :samples]
        length = min(preds.shape[-1], int(samples * sample_rate / self.chroma_sample_rate))
        with torch.no_grad():
            gen_chroma = self.extractor(gen.to(self.device))  # [B, frames, n_chroma]
            ref_chroma = self.extractor(ref.to(self.device))
        if sizes is None:
            sizes = torch.full((preds.shape[0],), length)
        hop_seconds = self.extractor.winhop / self.chroma_sample_rate
        for i, size in enumerate(sizes.tolist()):
            n = math.ceil(min(size, length) / sample_rate / hop_seconds)
            cos = F.cosine_similarity(gen_chroma[i, :n], ref_chroma[i, :n], dim=-1, eps=self.eps)
            self.cosine_sum += cos.double().sum()
            self.frames += cos.shape[0]

    def compute(self) -> dict[str, float]:
        if float(self.frames) == 0:
            raise ValueError("Chroma cosine similarity has no frames: call update first.")
        return {"chroma_cosine": float(self.cosine_sum / self.frames)}
