"""CLAP (LAION) through transformers' ``ClapModel``: audio and text embeddings in one space.

Used for FAD-CLAP (audio embeddings) and the CLAP score (text/audio cosine). The model is
read with ``from_pretrained(folder, local_files_only=True)`` from
``<metrics dir>/larger_clap_music`` by default: the Hugging Face repository
``laion/larger_clap_music`` (LAION's CLAP trained on music; HTSAT audio encoder at 48
kHz, RoBERTa text encoder), all its files (``config.json``, ``model.safetensors`` or
``pytorch_model.bin``, ``preprocessor_config.json``, ``vocab.json``, ``merges.txt``,
``tokenizer_config.json``...). The reference audiocraft reads LAION's ``laion_clap``
checkpoint ``music_audioset_epoch_15_esc_90.14.pt`` instead (a different file format and
training run), so CLAP numbers are not comparable with the reference's.

Audio is made mono, resampled to the model's rate (48 kHz) and cut into windows of the
feature extractor's length (10 s); a last piece shorter than ``min_seconds`` is dropped
unless it is the whole clip. Each window is padded as the checkpoint's feature extractor
pads (LAION: repeated), so nothing is cropped at random. ``embed`` gives one embedding per window,
``embed_clips`` one per clip (the mean of its normalised window embeddings, normalised).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from audiocraft.metrics.backbones.base import (
    MetricUnavailable,
    require_file,
    to_mono,
    weights_folder,
)

__all__ = ["CLAP_FOLDER", "CLAP_SOURCE", "ClapBackbone"]

CLAP_FOLDER = "larger_clap_music"
CLAP_SOURCE = "https://huggingface.co/laion/larger_clap_music (all files of the repository)"
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
# The hub repository has the first; transformers 5's save_pretrained writes the second.
PROCESSOR_FILES = ("preprocessor_config.json", "processor_config.json")


def _features(output: Any) -> torch.Tensor:
    """transformers 5 returns a model output whose ``pooler_output`` holds the projected
    embeddings; older versions return the tensor itself."""
    return output if isinstance(output, torch.Tensor) else output.pooler_output


class ClapBackbone:
    """CLAP audio (and text) embeddings from a local transformers CLAP folder.

    Args:
        folder: the metrics weights folder (default ``$AUDIOCRAFT_METRICS_DIR``).
        subfolder: the CLAP model folder inside it.
        device: where the model runs.
        min_seconds: shortest trailing window kept.

    Raises:
        MetricUnavailable: when the model folder or one of its files is absent.
    """

    name = "clap"

    def __init__(self, folder: str | Path | None = None, subfolder: str = CLAP_FOLDER,
                 device: str | torch.device = "cpu", min_seconds: float = 1.0):
        from transformers import ClapModel, ClapProcessor

        root = weights_folder(folder) / subfolder
        require_file(self.name, root / "config.json", CLAP_SOURCE)
        for names in (WEIGHT_FILES, PROCESSOR_FILES):
            if not any((root / f).exists() for f in names):
                raise MetricUnavailable(self.name, root / names[0], CLAP_SOURCE)
        try:
            self.processor = ClapProcessor.from_pretrained(str(root), local_files_only=True)
        except (OSError, ValueError) as err:  # e.g. the tokenizer files are missing
            raise MetricUnavailable(self.name, f"{root} (tokenizer files: {err})",
                                    CLAP_SOURCE) from err
        model = ClapModel.from_pretrained(str(root), local_files_only=True)
        self.model = model.eval()
        self.model.to(device)
        self.device = torch.device(device)
        extractor = self.processor.feature_extractor
        self.sample_rate = int(extractor.sampling_rate)
        self.window = int(extractor.nb_max_samples)
        self.min_samples = min(self.window, int(min_seconds * self.sample_rate))
        self.dim = int(self.model.config.projection_dim)

    def _windows(self, wav: torch.Tensor, sample_rate: int) -> list[list[torch.Tensor]]:
        """Per clip, its mono windows at the model's rate."""
        out = []
        for x in to_mono(wav, sample_rate, self.sample_rate):  # [T']
            pieces = list(torch.split(x, self.window))
            kept = [p for p in pieces if p.shape[-1] >= self.min_samples] or pieces[:1]
            out.append(kept)
        return out

    def _embed_windows(self, windows: list[torch.Tensor]) -> torch.Tensor:
        """Normalised audio embeddings ``[N, D]`` of ``N`` mono windows."""
        # The checkpoint's own truncation mode (it sets the mel filters too): it crops at
        # random only inputs longer than a window, and no window is longer.
        inputs = self.processor.feature_extractor(
            [w.cpu().numpy() for w in windows], sampling_rate=self.sample_rate,
            return_tensors="pt")
        inputs = {k: v.to(self.device) for k, v in inputs.items()}
        with torch.no_grad():
            emb = _features(self.model.get_audio_features(**inputs))
        return F.normalize(emb.float(), dim=-1)

    def embed(self, wav: torch.Tensor, sample_rate: int) -> torch.Tensor:
        """``wav [B, C, T]`` -> ``[N, D]``: one embedding per 10 s window of each clip."""
        windows = [w for clip in self._windows(wav, sample_rate) for w in clip]
        return self._embed_windows(windows)

    def embed_clips(self, wav: torch.Tensor, sample_rate: int) -> torch.Tensor:
        """``wav [B, C, T]`` -> ``[B, D]``: one normalised embedding per clip."""
        clips = self._windows(wav, sample_rate)
        emb = self._embed_windows([w for clip in clips for w in clip])
        sizes = [len(clip) for clip in clips]
        return F.normalize(torch.stack([e.mean(0) for e in emb.split(sizes)]), dim=-1)

    def embed_text(self, texts: list[str]) -> torch.Tensor:
        """``B`` texts -> normalised text embeddings ``[B, D]``."""
        tokens = self.processor.tokenizer(texts, padding=True, truncation=True,
                                          return_tensors="pt")
        tokens = {k: v.to(self.device) for k, v in tokens.items()}
        with torch.no_grad():
            emb = _features(self.model.get_text_features(**tokens))
        return F.normalize(emb.float(), dim=-1)
