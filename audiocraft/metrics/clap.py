"""CLAP score: how well generated audio matches its text description.

The cosine similarity of the L2-normalised CLAP text embedding of each description and
the CLAP audio embedding of its clip, averaged over clips (as the reference audiocraft
``CLAPTextConsistencyMetric``, there with LAION's ``music_audioset_epoch_15_esc_90.14``
checkpoint; here through transformers' ``ClapModel``, see
:mod:`audiocraft.metrics.backbones.clap`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torchmetrics import Metric

from audiocraft.metrics.backbones.base import TextAudioBackbone

__all__ = ["CLAPTextConsistency"]


class CLAPTextConsistency(Metric):
    """Mean cosine similarity of text and audio CLAP embeddings.

    ``compute()`` returns ``{"clap": value}`` (in [-1, 1], higher is better).
    """

    full_state_update = False
    higher_is_better = True
    is_differentiable = False
    cosine_sum: torch.Tensor
    count: torch.Tensor

    def __init__(self, backbone: TextAudioBackbone):
        super().__init__()
        self.backbone = backbone
        self.add_state("cosine_sum", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, wav: torch.Tensor, texts: list[str], sample_rate: int,
               sizes: torch.Tensor | None = None) -> None:
        """Audio ``wav [B, C, T]`` at ``sample_rate`` and its ``B`` descriptions; item ``i``
        is cut to ``sizes[i]`` samples when given."""
        if wav.dim() != 3 or wav.shape[0] != len(texts):
            raise ValueError(f"Expected wav [B, C, T] and B texts, got {tuple(wav.shape)} and "
                             f"{len(texts)} texts.")
        with torch.no_grad():
            text_emb = F.normalize(self.backbone.embed_text(list(texts)).float(), dim=-1)
            if sizes is None:
                audio_emb = self.backbone.embed_clips(wav, sample_rate)
            else:
                audio_emb = torch.cat([self.backbone.embed_clips(w[None, :, : int(n)], sample_rate)
                                       for w, n in zip(wav, sizes)])
            audio_emb = F.normalize(audio_emb.float(), dim=-1)
        cos = (text_emb * audio_emb).sum(-1)  # [B]
        self.cosine_sum += cos.double().sum().to(self.device)
        self.count += cos.shape[0]

    def compute(self) -> dict[str, float]:
        if float(self.count) == 0:
            raise ValueError("CLAP score has no items: call update first.")
        return {"clap": float(self.cosine_sum / self.count)}
