"""Audio samples and spectrogram images for the loggers (and as files on disk).

TensorBoard and wandb get the audio and a log-mel image; every logger kind also gets
the audio written under `<run_dir>/samples/epoch_<n>/`.
"""

from __future__ import annotations

from pathlib import Path

import torch
from lightning.pytorch import Trainer
from lightning.pytorch.loggers import TensorBoardLogger, WandbLogger

from ..losses.specs import MelSpectrogram


def spectrogram_image(wav: torch.Tensor, sample_rate: int, n_mels: int = 64) -> torch.Tensor:
    """Log-mel spectrogram of [C, T] audio as an image [1, n_mels, frames] in [0, 1],
    low frequencies at the bottom."""
    n_fft = 1024 if wav.shape[-1] >= 1024 else 256
    mel = MelSpectrogram(sample_rate, n_fft, n_fft // 4, n_fft, n_mels, log=True)
    spec = mel(wav.detach().float().cpu()[None]).mean(dim=1)[0]  # [n_mels, frames]
    spec = (spec - spec.min()) / (spec.max() - spec.min() + 1e-8)
    return spec.flip(0)[None]


def log_audio(trainer: Trainer, tag: str, wav: torch.Tensor, sample_rate: int,
              folder: Path | None = None) -> None:
    """Log one [C, T] clip under `tag` at the current step, with its spectrogram."""
    if not trainer.is_global_zero:
        return
    wav = wav.detach().float().cpu().clamp(-1, 1)
    step = trainer.global_step
    image = spectrogram_image(wav, sample_rate)
    for logger in trainer.loggers:
        if isinstance(logger, TensorBoardLogger):
            logger.experiment.add_audio(tag, wav.mean(0), step, sample_rate=sample_rate)
            logger.experiment.add_image(f"{tag}/spectrogram", image, step)
        elif isinstance(logger, WandbLogger):
            import wandb

            logger.experiment.log({
                tag: wandb.Audio(wav.mean(0).numpy(), sample_rate=sample_rate),
                f"{tag}/spectrogram": wandb.Image(image[0].numpy()),
                "trainer/global_step": step,
            })
    if folder is not None:
        from ..data.audio import audio_write

        folder.mkdir(parents=True, exist_ok=True)
        audio_write(folder / tag.replace("/", "_"), wav, sample_rate, strategy="peak")
