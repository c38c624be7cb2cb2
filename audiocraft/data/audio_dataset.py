"""AudioDataset: fixed-length segments (or whole files) sampled from a manifest.

With a ``segment_duration`` the dataset has a virtual length ``num_samples``: item ``i``
of epoch ``e`` picks a file and a start time from a random generator seeded by
``(shuffle_seed, e, i)``, so a run is reproducible from its seed and sees new segments
every epoch (call :meth:`AudioDataset.set_epoch`, as the training loader of
:mod:`audiocraft.data.loader` does). Without
a ``segment_duration`` item ``i`` is file ``i``, whole.

A file that fails to read is skipped (another one is drawn), counted in
``read_failures`` and logged; it is not drawn again by this process. That includes files
that are corrupt, unfinished, longer than the read limit (whole-file items) or hold
NaN/inf samples (unless ``nonfinite="repair"``): see :func:`~audiocraft.data.audio.audio_read`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from .audio import NONFINITE_MODES, audio_read
from .audio_utils import convert_audio
from .manifest import AudioMeta, load_audio_meta

logger = logging.getLogger(__name__)

__all__ = ["AudioDataset", "AudioMeta", "DatasetConfigError", "SegmentInfo"]


class DatasetConfigError(ValueError):
    """The dataset's settings cannot serve a file (not the file's fault): never skipped."""


@dataclass
class SegmentInfo:
    """Where a dataset item comes from."""

    meta: AudioMeta
    seek_time: float  # seconds into the file
    n_frames: int  # samples of real audio (before padding), at the dataset's rate
    total_frames: int  # samples after padding
    sample_rate: int
    channels: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.meta.path, "seek_time": self.seek_time, "n_frames": self.n_frames,
            "total_frames": self.total_frames, "sample_rate": self.sample_rate,
            "channels": self.channels,
        }


class AudioDataset(Dataset):
    """Audio segments from a list of :class:`AudioMeta` (see :meth:`from_meta`).

    Args:
        meta: the files (a manifest's lines).
        segment_duration: seconds per item; None for whole files (virtual length off).
        shuffle: draw segments at random (seeded by shuffle_seed and the epoch); when
            False item ``i`` is the same in every epoch (validation, evaluation).
        num_samples: virtual length when segmenting.
        sample_rate, channels: every item is converted to these.
        pad: zero-pad short segments (and whole files in a batch) to full length.
        sample_on_duration: draw files in proportion to their duration.
        sample_on_weight: draw files in proportion to their manifest ``weight``.
        min_segment_ratio: a segment holds at least this share of real audio; files
            shorter than ``segment_duration * min_segment_ratio`` are dropped.
        max_read_retry: other files tried after a read failure before giving up.
        return_info: items are ``(wav, SegmentInfo)`` instead of ``wav``.
        min_audio_duration, max_audio_duration: keep files within these durations (s).
        shuffle_seed: seed of the segment draws.
        permutation_on_files: visit files in a seeded random order, each once per
            cycle, instead of drawing them independently.
        nonfinite: "error" skips a file with NaN/inf samples as unreadable; "repair"
            replaces them (NaN -> 0, inf -> +-1) with a warning.
    Items: ``wav [channels, T]`` float32 with ``T = segment_duration * sample_rate``.
    """

    def __init__(
        self,
        meta: list[AudioMeta],
        segment_duration: float | None = None,
        shuffle: bool = True,
        num_samples: int = 10_000,
        sample_rate: int = 32_000,
        channels: int = 1,
        pad: bool = True,
        sample_on_duration: bool = True,
        sample_on_weight: bool = True,
        min_segment_ratio: float = 0.5,
        max_read_retry: int = 10,
        return_info: bool = False,
        min_audio_duration: float | None = None,
        max_audio_duration: float | None = None,
        shuffle_seed: int = 0,
        permutation_on_files: bool = False,
        nonfinite: str = "error",
    ):
        if segment_duration is not None and segment_duration <= 0:
            raise ValueError(f"segment_duration must be > 0 seconds, got {segment_duration}.")
        if not 0 <= min_segment_ratio <= 1:
            raise ValueError(f"min_segment_ratio must be in [0, 1], got {min_segment_ratio}.")
        if num_samples <= 0:
            raise ValueError(f"num_samples must be > 0, got {num_samples}.")
        if nonfinite not in NONFINITE_MODES:
            raise ValueError(f"nonfinite must be one of {NONFINITE_MODES}, got {nonfinite!r}.")
        self.nonfinite = nonfinite
        self.segment_duration = segment_duration
        self.shuffle = shuffle
        self.num_samples = num_samples
        self.sample_rate = sample_rate
        self.channels = channels
        self.pad = pad
        self.sample_on_duration = sample_on_duration
        self.sample_on_weight = sample_on_weight
        self.min_segment_ratio = min_segment_ratio
        self.max_read_retry = max_read_retry
        self.return_info = return_info
        self.shuffle_seed = shuffle_seed
        self.permutation_on_files = permutation_on_files
        self.epoch = 0
        self.read_failures = 0
        self.failed_paths: set[str] = set()
        self.meta = self._filter(meta, min_audio_duration, max_audio_duration)
        self._bad = np.zeros(len(self.meta), dtype=bool)

    def _filter(
        self, meta: list[AudioMeta], min_d: float | None, max_d: float | None
    ) -> list[AudioMeta]:
        shortest = min_d or 0.0
        if self.segment_duration is not None:
            shortest = max(shortest, self.segment_duration * self.min_segment_ratio)
        kept = [
            m for m in meta
            if m.duration >= shortest and (max_d is None or m.duration <= max_d)
        ]
        if len(kept) < len(meta):
            logger.info(
                "Kept %d of %d files with duration in [%.2f, %s] s.",
                len(kept), len(meta), shortest, max_d,
            )
        if not kept:
            raise ValueError(
                f"No audio file left out of {len(meta)}: every file is shorter than "
                f"{shortest:.2f} s or longer than {max_d} s. Lower segment_duration, "
                "min_segment_ratio or min_audio_duration, or add longer files."
            )
        return kept

    @classmethod
    def from_meta(cls, manifest: str | Path, **kwargs: Any) -> AudioDataset:
        """Dataset over a manifest file (``.jsonl[.gz]``) or a folder holding ``data.jsonl``."""
        return cls(load_audio_meta(manifest), **kwargs)

    @classmethod
    def from_path(cls, root: str | Path, **kwargs: Any) -> AudioDataset:
        """Dataset over every readable audio file under ``root`` (no manifest needed)."""
        from .manifest import build_manifest

        return cls(build_manifest(root).good, **kwargs)

    def set_epoch(self, epoch: int) -> None:
        """Draw the segments of ``epoch`` from now on (only when shuffling)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.meta) if self.segment_duration is None else self.num_samples

    # ---- sampling -------------------------------------------------------------------
    def _rng(self, index: int) -> np.random.Generator:
        """Generator for item ``index``: a function of (seed, epoch, index) only."""
        if self.shuffle:
            return np.random.default_rng([self.shuffle_seed, self.epoch, index])
        return np.random.default_rng([self.shuffle_seed, index])

    def _file_probabilities(self) -> np.ndarray:
        p = np.ones(len(self.meta))
        if self.sample_on_duration:
            p *= np.array([m.duration for m in self.meta])
        if self.sample_on_weight:
            p *= np.array([1.0 if m.weight is None else m.weight for m in self.meta])
        p[self._bad] = 0
        if p.sum() <= 0:
            raise RuntimeError(
                "Every file of the dataset failed to read or has weight 0: check the "
                f"manifest (failed: {sorted(self.failed_paths)[:5]}...)."
            )
        return p / p.sum()

    def _pick_file(self, index: int, rng: np.random.Generator, attempt: int) -> int:
        if self.permutation_on_files and attempt == 0:
            n = len(self.meta)
            step = index + self.epoch * self.num_samples if self.shuffle else index
            perm = np.random.default_rng([self.shuffle_seed, step // n]).permutation(n)
            file_index = int(perm[step % n])
            if not self._bad[file_index]:
                return file_index
        return int(rng.choice(len(self.meta), p=self._file_probabilities()))

    def _record_failure(self, file_index: int, err: Exception) -> None:
        self.read_failures += 1
        self._bad[file_index] = True
        path = self.meta[file_index].path
        self.failed_paths.add(path)
        logger.warning(
            "Skipping unreadable file %s (%d read failures so far): %s",
            path, self.read_failures, err,
        )

    def _read(
        self, file_index: int, seek_time: float, duration: float
    ) -> tuple[torch.Tensor, SegmentInfo]:
        meta = self.meta[file_index]
        wav, sr = audio_read(meta.path, seek_time, duration, pad=False,
                             nonfinite=self.nonfinite)
        try:
            wav = convert_audio(wav, sr, self.sample_rate, self.channels)  # [C, T]
        except ValueError as err:
            raise DatasetConfigError(f"{meta.path}: {err}") from err
        n_frames = wav.shape[-1]
        target = n_frames
        if duration > 0:
            target = int(round(duration * self.sample_rate))
            wav = wav[..., :target]
            n_frames = wav.shape[-1]
            if self.pad and n_frames < target:
                wav = torch.nn.functional.pad(wav, (0, target - n_frames))
        if n_frames == 0:
            raise RuntimeError(f"no audio at {seek_time:.2f} s in {meta.path}")
        info = SegmentInfo(
            meta, seek_time, n_frames, wav.shape[-1], self.sample_rate, self.channels
        )
        return wav, info

    def _get(self, index: int) -> tuple[torch.Tensor, SegmentInfo, np.random.Generator]:
        """The item's audio, its SegmentInfo and the generator that drew it."""
        if not 0 <= index < len(self) and self.segment_duration is None:
            raise IndexError(f"Index {index} out of range for {len(self)} files.")
        rng = self._rng(index)
        last_err: Exception | None = None
        for attempt in range(self.max_read_retry + 1):
            if self.segment_duration is None:
                file_index = (index + attempt) % len(self.meta)
                if self._bad[file_index]:
                    continue
                seek, duration = 0.0, -1.0
            else:
                file_index = self._pick_file(index, rng, attempt)
                duration = self.segment_duration
                length = self.meta[file_index].duration
                max_seek = max(0.0, length - duration * self.min_segment_ratio)
                seek = float(rng.uniform(0, max_seek))
            try:
                wav, info = self._read(file_index, seek, duration)
                return wav, info, rng
            except DatasetConfigError:
                raise  # skipping cannot help: every file would fail the same way
            except Exception as err:  # a bad file must not stop training
                last_err = err
                self._record_failure(file_index, err)
        raise RuntimeError(
            f"Item {index}: {self.max_read_retry + 1} reads failed in a row (last: {last_err}). "
            "Rebuild the manifest with `python -m audiocraft.data.manifest ROOT OUT --complete` "
            "to drop unreadable files."
        )

    def __getitem__(self, index: int) -> torch.Tensor | tuple[torch.Tensor, SegmentInfo]:
        wav, info, _ = self._get(index)
        return (wav, info) if self.return_info else wav

    def collater(self, samples: list[Any]) -> Any:
        """Batch items: ``wav [B, C, T]`` (zero-padded to the longest when ``pad``) or,
        with ``return_info``, ``(wav [B, C, T], list of infos)``."""
        if self.return_info:
            wavs = [s[0] for s in samples]
            infos = [s[1] for s in samples]
        else:
            wavs = list(samples)
        longest = max(w.shape[-1] for w in wavs)
        if self.pad:
            wavs = [torch.nn.functional.pad(w, (0, longest - w.shape[-1])) for w in wavs]
        elif len({w.shape[-1] for w in wavs}) > 1:
            raise ValueError(
                "Items of different lengths cannot be stacked with pad=False: set pad=True "
                "or a segment_duration."
            )
        batch = torch.stack(wavs)  # [B, C, T]
        return (batch, infos) if self.return_info else batch
