"""VGGish (Hershey et al. 2017): the embedding network of the original FAD (Kilgour et al.).

Audio is made mono and resampled to 16 kHz; its log-mel spectrogram (25 ms periodic Hann
windows, 10 ms hop, FFT 512, 64 HTK-style mel bands from 125 to 7500 Hz,
``log(mel + 0.01)``) is cut into non-overlapping examples of 96 frames (0.96 s; an
incomplete last example is dropped), and each example gives one 128-d embedding: the
output of the last fully connected layer (after its ReLU), without the PCA/quantisation
post-processing (as the PyTorch FAD implementations use it).

Weights: the PyTorch port's ``vggish-10086976.pth`` (PyPI ``torchvggish``; converted from
Google's AudioSet ``vggish_model.ckpt``), from
https://github.com/harritaylor/torchvggish/releases/download/v0.1/vggish-10086976.pth
put in the metrics folder. Its parameter names (``features.*``, ``embeddings.*``) are
the ones of :class:`VGGish`. The network and front end are written here rather than
imported from ``torchvggish``: importing that package needs ``resampy`` (and ``numba``)
and its constructor downloads the weights; the architecture and front end follow its
``vggish_params`` and ``mel_features``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch import nn

from audiocraft.metrics.backbones.base import require_file, to_mono, weights_folder

__all__ = ["VGGISH_FILE", "VGGISH_SOURCE", "VGGish", "vggish_examples", "VGGishBackbone"]

VGGISH_FILE = "vggish-10086976.pth"
VGGISH_SOURCE = ("https://github.com/harritaylor/torchvggish/releases/download/v0.1/"
                 "vggish-10086976.pth (the torchvggish port of Google's AudioSet VGGish)")
SAMPLE_RATE = 16000
WINDOW, HOP, N_FFT = 400, 160, 512  # 25 ms, 10 ms at 16 kHz
N_MELS, MEL_MIN, MEL_MAX, LOG_OFFSET = 64, 125.0, 7500.0, 0.01
EXAMPLE_FRAMES = 96  # 0.96 s of 10 ms frames


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    return 1127.0 * np.log(1.0 + hz / 700.0)


def _mel_matrix() -> torch.Tensor:
    """VGGish's mel weights ``[N_FFT // 2 + 1, N_MELS]`` (triangles in the mel domain, the
    DC bin zeroed)."""
    bins_mel = _hz_to_mel(np.linspace(0.0, SAMPLE_RATE / 2, N_FFT // 2 + 1))
    edges = np.linspace(_hz_to_mel(np.array(MEL_MIN)), _hz_to_mel(np.array(MEL_MAX)), N_MELS + 2)
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (bins_mel[:, None] - lower) / (centre - lower)
    falling = (upper - bins_mel[:, None]) / (upper - centre)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights[0, :] = 0.0
    return torch.from_numpy(weights)


def vggish_examples(wav: torch.Tensor) -> torch.Tensor:
    """Mono 16 kHz audio ``[T]`` -> log-mel examples ``[N, 1, 96, 64]`` (float32; ``N`` may
    be 0 for audio shorter than 0.96 s)."""
    x = wav.double()
    n_frames = 1 + (x.shape[-1] - WINDOW) // HOP if x.shape[-1] >= WINDOW else 0
    if n_frames < EXAMPLE_FRAMES:
        return torch.zeros(0, 1, EXAMPLE_FRAMES, N_MELS, device=wav.device)
    frames = x.unfold(-1, WINDOW, HOP)[:n_frames]  # [frames, WINDOW]
    n = torch.arange(WINDOW, dtype=torch.float64, device=wav.device)
    window = 0.5 - 0.5 * torch.cos(2 * math.pi * n / WINDOW)  # periodic Hann
    spec = torch.fft.rfft(frames * window, n=N_FFT).abs()  # [frames, 257]
    log_mel = torch.log(spec @ _mel_matrix().to(spec) + LOG_OFFSET)  # [frames, 64]
    n_examples = n_frames // EXAMPLE_FRAMES
    examples = log_mel[: n_examples * EXAMPLE_FRAMES].reshape(n_examples, EXAMPLE_FRAMES, N_MELS)
    return examples[:, None].float()


class VGGish(nn.Module):
    """The VGGish network: 4 conv blocks (``channels``, 3x3, ReLU, max-pool 2) on a
    ``[N, 1, 96, 64]`` log-mel example, then 3 fully connected layers (``hidden``,
    ``hidden``, ``dim``, each followed by a ReLU). Defaults are the published sizes;
    smaller ones make tiny random-weight test networks."""

    def __init__(self, channels: tuple[int, ...] = (64, 128, 256, 256, 512, 512),
                 pools: tuple[int, ...] = (0, 1, 3, 5), hidden: int = 4096, dim: int = 128):
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 1
        for i, c_out in enumerate(channels):
            layers += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU(inplace=True)]
            if i in pools:
                layers.append(nn.MaxPool2d(2, 2))
            c_in = c_out
        self.features = nn.Sequential(*layers)
        n_pools = sum(i in pools for i in range(len(channels)))
        frames, bands = EXAMPLE_FRAMES >> n_pools, N_MELS >> n_pools  # 6 x 4
        self.embeddings = nn.Sequential(
            nn.Linear(c_in * frames * bands, hidden), nn.ReLU(True),
            nn.Linear(hidden, hidden), nn.ReLU(True),
            nn.Linear(hidden, dim), nn.ReLU(True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[N, 1, 96, 64]`` -> ``[N, dim]``."""
        x = self.features(x)  # [N, C, 6, 4]
        x = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)  # [N, 6 * 4 * C], the TF order
        return self.embeddings(x)


class VGGishBackbone:
    """FAD embeddings from VGGish: one 128-d embedding per 0.96 s of each clip.

    Args:
        folder: the metrics weights folder (default ``$AUDIOCRAFT_METRICS_DIR``), holding
            ``vggish-10086976.pth``.
        device: where the network runs.
        **arch: :class:`VGGish` sizes (only for test networks).

    Raises:
        MetricUnavailable: when the weights file is absent.
    """

    name = "vggish"
    sample_rate = SAMPLE_RATE

    def __init__(self, folder: str | Path | None = None, device: str | torch.device = "cpu",
                 **arch: int | tuple[int, ...]):
        path = require_file(self.name, weights_folder(folder) / VGGISH_FILE, VGGISH_SOURCE)
        self.model = VGGish(**arch)  # type: ignore[arg-type]
        state = torch.load(path, map_location="cpu", weights_only=True)
        self.model.load_state_dict(state)
        self.model.to(device).eval()
        self.device = torch.device(device)
        self.dim = int(arch.get("dim", 128))  # type: ignore[arg-type]

    def embed(self, wav: torch.Tensor, sample_rate: int) -> torch.Tensor:
        """``wav [B, C, T]`` -> ``[N, 128]``, the examples of all clips in order (clips
        shorter than 0.96 s give none)."""
        mono = to_mono(wav, sample_rate, SAMPLE_RATE).to(self.device)  # [B, T']
        examples = torch.cat([vggish_examples(x) for x in mono])  # [N, 1, 96, 64]
        with torch.no_grad():
            return self.model(examples) if len(examples) else examples.new_zeros(0, self.dim)
