"""Audio tensor helpers: channel and rate conversion, loudness and normalisation.

All functions take and return float tensors shaped ``[..., C, T]`` (``C`` channels,
``T`` samples). Resampling uses julius; loudness follows ITU-R BS.1770 through
pyloudnorm (integrated loudness in LUFS, K-weighted, gated).
"""

from __future__ import annotations

import logging
import math

import julius
import numpy as np
import pyloudnorm
import torch

logger = logging.getLogger(__name__)

NORMALIZE_STRATEGIES = ("peak", "clip", "rms", "loudness", "none")
# pyloudnorm measures 400 ms gating blocks: shorter signals have no defined loudness.
MIN_LOUDNESS_DURATION = 0.4


def db_to_gain(db: float) -> float:
    """Amplitude ratio for ``db`` decibels (``-6 dB`` is about 0.5)."""
    return 10.0 ** (db / 20.0)


def convert_audio_channels(wav: torch.Tensor, channels: int = 2) -> torch.Tensor:
    """Convert ``wav [..., C, T]`` to ``channels`` channels.

    Mono is repeated to any count, any count is averaged down to mono, and extra
    channels are dropped when going from more to fewer (but more than one). Going up
    from a multi-channel signal (e.g. stereo to 5 channels) has no sensible meaning
    and raises.
    """
    if wav.dim() < 2:
        raise ValueError(
            f"Expected audio shaped [..., C, T], got a {wav.dim()}-d tensor {tuple(wav.shape)}: "
            "add a channel axis, e.g. wav[None] for mono."
        )
    if channels < 1:
        raise ValueError(f"channels must be >= 1, got {channels}.")
    src = wav.shape[-2]
    if src == channels:
        return wav
    if channels == 1:
        return wav.mean(dim=-2, keepdim=True)
    if src == 1:
        return wav.expand(*wav.shape[:-2], channels, wav.shape[-1])
    if src > channels:
        return wav[..., :channels, :]
    raise ValueError(
        f"Cannot convert audio with {src} channels to {channels} channels: only mono can be "
        f"upmixed. Downmix to mono first (channels=1) or ask for at most {src} channels."
    )


def convert_audio(
    wav: torch.Tensor, from_rate: float, to_rate: float, to_channels: int
) -> torch.Tensor:
    """Resample ``wav [..., C, T]`` from ``from_rate`` to ``to_rate`` Hz (julius) and
    convert it to ``to_channels`` channels. Returns ``[..., to_channels, T']``."""
    if from_rate <= 0 or to_rate <= 0:
        raise ValueError(
            f"Sample rates must be positive, got from_rate={from_rate}, to_rate={to_rate}."
        )
    wav = convert_audio_channels(wav, to_channels)
    if int(from_rate) != from_rate or int(to_rate) != to_rate:
        raise ValueError(
            f"julius resamples between integer rates only, got {from_rate} -> {to_rate}."
        )
    if int(from_rate) != int(to_rate):
        wav = julius.resample_frac(wav.contiguous(), int(from_rate), int(to_rate))
    return wav


def loudness_lufs(wav: torch.Tensor, sample_rate: int) -> float:
    """Integrated loudness (LUFS, ITU-R BS.1770) of ``wav [C, T]``.

    Returns ``-inf`` for silence. Signals shorter than one 400 ms gating block are
    measured after zero padding to one block, which lowers the value by the padding's
    share of the energy; use longer signals where the number matters.
    """
    if wav.dim() != 2:
        raise ValueError(f"Expected wav shaped [C, T], got {tuple(wav.shape)}.")
    data = wav.detach().to(torch.float64).cpu().numpy().T  # [T, C] as pyloudnorm wants
    min_len = int(math.ceil(MIN_LOUDNESS_DURATION * sample_rate)) + 1
    if data.shape[0] < min_len:
        data = np.pad(data, ((0, min_len - data.shape[0]), (0, 0)))
    meter = pyloudnorm.Meter(sample_rate)
    with np.errstate(divide="ignore"):
        return float(meter.integrated_loudness(data))


def normalize_loudness(
    wav: torch.Tensor,
    sample_rate: int,
    loudness_headroom_db: float = 14.0,
    loudness_compressor: bool = False,
    energy_floor: float = 2e-3,
) -> torch.Tensor:
    """Scale ``wav [C, T]`` to an integrated loudness of ``-loudness_headroom_db`` LUFS.

    Near-silent signals (RMS below ``energy_floor``) are returned unchanged, since
    amplifying noise floor to the target level only makes noise loud. With
    ``loudness_compressor`` the result passes through ``tanh`` to soften peaks.
    """
    energy = wav.pow(2).mean().sqrt().item()
    if energy < energy_floor:
        return wav
    current = loudness_lufs(wav, sample_rate)
    if not math.isfinite(current):
        return wav
    gain = db_to_gain(-loudness_headroom_db - current)
    out = wav * gain
    if loudness_compressor:
        out = torch.tanh(out)
    return out


def _clip(wav: torch.Tensor, log_clipping: bool, stem_name: str | None) -> torch.Tensor:
    """Clip to [-1, 1] (what PCM can hold), logging how much was lost."""
    if log_clipping:
        peak = wav.abs().max().item()
        if peak > 1:
            share = (wav.abs() > 1).float().mean().item()
            logger.warning(
                "Clipping %s: peak %.3f, %.3f%% of samples above full scale.",
                stem_name or "audio", peak, 100 * share,
            )
    return wav.clamp(-1, 1)


def normalize_audio(
    wav: torch.Tensor,
    normalize: bool = True,
    strategy: str = "peak",
    peak_clip_headroom_db: float = 1.0,
    rms_headroom_db: float = 18.0,
    loudness_headroom_db: float = 14.0,
    loudness_compressor: bool = False,
    log_clipping: bool = False,
    sample_rate: int | None = None,
    stem_name: str | None = None,
) -> torch.Tensor:
    """Normalise ``wav [C, T]`` with one of :data:`NORMALIZE_STRATEGIES`.

    - ``peak``: scale so the peak sits ``peak_clip_headroom_db`` below full scale;
    - ``clip``: clip to ``peak_clip_headroom_db`` below full scale, no scaling;
    - ``rms``: scale the mono mix to ``-rms_headroom_db`` dBFS RMS, then clip;
    - ``loudness``: scale to ``-loudness_headroom_db`` LUFS (needs ``sample_rate``), then clip;
    - ``none`` (or ``normalize=False``): unchanged.
    """
    if strategy not in NORMALIZE_STRATEGIES:
        raise ValueError(
            f"Unknown normalisation strategy {strategy!r}: use one of {NORMALIZE_STRATEGIES}."
        )
    if not normalize or strategy == "none":
        return wav
    ceiling = db_to_gain(-peak_clip_headroom_db)
    if strategy == "peak":
        peak = wav.abs().max()
        return wav if peak == 0 else wav * (ceiling / peak)
    if strategy == "clip":
        return wav.clamp(-ceiling, ceiling)
    if strategy == "rms":
        rms = wav.mean(dim=0).pow(2).mean().sqrt()
        if rms > 0:
            wav = wav * (db_to_gain(-rms_headroom_db) / rms)
        return _clip(wav, log_clipping, stem_name)
    if sample_rate is None:
        raise ValueError("strategy='loudness' needs sample_rate to measure loudness.")
    wav = normalize_loudness(wav, sample_rate, loudness_headroom_db, loudness_compressor)
    return _clip(wav, log_clipping, stem_name)


def f32_pcm(wav: torch.Tensor) -> torch.Tensor:
    """Integer PCM (int16/int32) or float to float32 in [-1, 1]."""
    if wav.dtype.is_floating_point:
        return wav.float()
    if wav.dtype == torch.int16:
        return wav.float() / 2**15
    if wav.dtype == torch.int32:
        return wav.float() / 2**31
    raise ValueError(f"Unsupported PCM dtype {wav.dtype}: use float, int16 or int32.")


def i16_pcm(wav: torch.Tensor) -> torch.Tensor:
    """Float in [-1, 1] to int16 PCM (values outside are clipped)."""
    if wav.dtype == torch.int16:
        return wav
    wav = wav.clamp(-1, 1)
    return (wav * (2**15 - 1)).round().to(torch.int16)
