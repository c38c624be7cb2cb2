"""What every metric backbone shares: the protocols, the weights folder, the missing-weights error.

A backbone turns audio into embeddings (for the Frechet distance) or into label
probabilities (for the KL divergence). Backbone weights are read from local files only:
the folder given to the backbone, else ``$AUDIOCRAFT_METRICS_DIR``. Nothing is ever
downloaded; when a file is absent the constructor raises :class:`MetricUnavailable`
naming it, so that an evaluation run can report the metric as unavailable and go on.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol, runtime_checkable

import torch

from audiocraft.data.audio_utils import convert_audio

__all__ = ["WEIGHTS_ENV", "MetricUnavailable", "EmbeddingBackbone", "AudioClassifier",
           "TextAudioBackbone",
           "weights_folder", "require_file", "to_mono"]

WEIGHTS_ENV = "AUDIOCRAFT_METRICS_DIR"


class MetricUnavailable(RuntimeError):
    """A metric cannot run here: its backbone's weights (``needs``) are not on disk.

    Attributes:
        backbone: the backbone's name (e.g. "vggish").
        needs: the file or folder that is missing.
        source: where the official file comes from.
    """

    def __init__(self, backbone: str, needs: Path | str, source: str):
        self.backbone = backbone
        self.needs = str(needs)
        self.source = source
        super().__init__(
            f"Metric backbone {backbone!r} is unavailable: it needs {self.needs}, which does "
            f"not exist. Get it from {source} and put it there (or point {WEIGHTS_ENV} or the "
            f"backbone's folder argument at the folder holding it); nothing is downloaded.")


def weights_folder(folder: str | Path | None = None) -> Path:
    """The folder backbone weights are read from: ``folder``, else ``$AUDIOCRAFT_METRICS_DIR``.

    Raises:
        MetricUnavailable: when neither is given.
    """
    if folder is None:
        env = os.environ.get(WEIGHTS_ENV)
        if not env:
            raise MetricUnavailable(
                "any", f"${WEIGHTS_ENV}", "the table in audiocraft/metrics/backbones/__init__.py"
                f" (set {WEIGHTS_ENV} to the folder of metric weights)")
        folder = env
    return Path(folder).expanduser()


def require_file(backbone: str, path: Path, source: str) -> Path:
    """``path`` if it exists, else raise :class:`MetricUnavailable` naming it."""
    if not path.exists():
        raise MetricUnavailable(backbone, path, source)
    return path


def to_mono(wav: torch.Tensor, sample_rate: int, target_rate: int) -> torch.Tensor:
    """``wav [B, C, T]`` (or ``[C, T]``, ``[T]``) at ``sample_rate`` -> mono ``[B, T']`` at
    ``target_rate`` (channels averaged, resampled with julius), float32."""
    if wav.dim() == 1:
        wav = wav[None, None]
    elif wav.dim() == 2:
        wav = wav[None]
    if wav.dim() != 3:
        raise ValueError(f"Expected audio [B, C, T], got shape {tuple(wav.shape)}.")
    return convert_audio(wav.float(), sample_rate, target_rate, 1)[:, 0]  # [B, T']


@runtime_checkable
class EmbeddingBackbone(Protocol):
    """Audio -> embeddings, for :class:`~audiocraft.metrics.fad.FrechetAudioDistance`.

    ``embed(wav [B, C, T], sample_rate) -> [N, D]``: ``N`` embeddings (one per clip, or
    one per frame of each clip, as the backbone states), float32; ``dim`` is ``D``.
    """

    name: str
    sample_rate: int
    dim: int

    def embed(self, wav: torch.Tensor, sample_rate: int) -> torch.Tensor: ...


@runtime_checkable
class AudioClassifier(Protocol):
    """Mono audio at ``sample_rate`` -> label probabilities, for the KL divergence.

    ``probabilities(wav [N, T]) -> [N, classes]``, with ``T`` at most ``max_samples`` (the
    classifier's window) and more than ``min_samples``.
    """

    name: str
    sample_rate: int
    max_samples: int
    min_samples: int

    def probabilities(self, wav: torch.Tensor) -> torch.Tensor: ...


@runtime_checkable
class TextAudioBackbone(Protocol):
    """Joint text/audio embeddings, for the CLAP score.

    ``embed_text(texts) -> [B, D]`` and ``embed_clips(wav [B, C, T], sample_rate) ->
    [B, D]`` (one embedding per clip), both L2-normalised.
    """

    name: str
    sample_rate: int

    def embed_text(self, texts: list[str]) -> torch.Tensor: ...

    def embed_clips(self, wav: torch.Tensor, sample_rate: int) -> torch.Tensor: ...
