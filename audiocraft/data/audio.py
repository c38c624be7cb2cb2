"""Reading and writing audio files.

soundfile (libsndfile) handles wav, flac, ogg/vorbis and mp3 with sample-accurate
seeking; PyAV (ffmpeg) handles everything else (m4a/aac, webm/opus, ...). Audio is
returned as float32 tensors shaped ``[C, T]``.

Reading is defensive, since audio comes from anywhere: the length a read would decode
is taken from the header and checked against ``max_duration`` (default
:data:`DEFAULT_MAX_DURATION`) before anything is decoded, so a small file of hours of
silence cannot fill the memory; a header claiming more samples than its file could hold
is reported as unfinished, except a FLAC whose writer was killed (its header says
"length unknown", which libsndfile reports as ``2**63`` samples): its frames are intact,
so it is measured and read by decoding them (bounded by ``max_duration``); NaN
or infinite samples are an error unless the caller asks for ``nonfinite="repair"``. Every
such failure raises :class:`AudioFileError` (a ``RuntimeError``) naming the file.

:func:`audio_write` normalises and writes atomically (a temporary file renamed into
place, so a kill or a failure leaves the old file or the complete new one), embeds the
metadata as tags where the format allows and, when there is metadata, also writes it to
a ``<file name>.json`` sidecar (``song.wav.json``), the file a
:class:`~audiocraft.data.music_dataset.MusicDataset` reads its ``MusicInfo`` from.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import soundfile as sf
import torch

from ..utils.atomic import atomic_path
from .audio_utils import normalize_audio
from .sidecars import find_sidecar, sidecar_path, write_sidecar  # noqa: F401  (re-exported)

logger = logging.getLogger(__name__)

SOUNDFILE_EXTS = (".wav", ".flac", ".ogg", ".mp3")
PYAV_EXTS = (".m4a", ".aac", ".mp4", ".webm", ".opus", ".aiff", ".aif", ".wma", ".mka")
AUDIO_EXTS = SOUNDFILE_EXTS + PYAV_EXTS
# format -> (soundfile format, subtype, max channels) ; m4a goes through PyAV.
_SF_WRITE = {
    "wav": ("WAV", "PCM_16", 64),
    "flac": ("FLAC", "PCM_16", 8),
    "ogg": ("OGG", "VORBIS", 255),
    "mp3": ("MP3", "MPEG_LAYER_III", 2),
}
WRITE_FORMATS = tuple(_SF_WRITE) + ("m4a",)
# Tags every writer supports; other metadata keys go into the JSON comment tag.
_TAG_KEYS = ("title", "artist", "album", "genre", "date", "comment")

DEFAULT_MAX_DURATION = 1800.0
"""Longest audio (seconds) one read decodes unless the caller passes another limit: half
an hour, about 350 MB as 48 kHz stereo float32. Longer files are read in parts
(``seek_time``/``duration``), or whole with a larger ``max_duration`` (None: no limit)."""
NONFINITE_MODES = ("error", "repair")
# No codec stores more than this many samples (per channel) in one byte: a FLAC frame of
# silence is about 20 bytes for up to 65535 samples. More is an unfinished or lying header.
_MAX_SAMPLES_PER_BYTE = 65536
_READ_BLOCK = 1 << 16  # frames decoded per soundfile call
# libsndfile's length of a FLAC whose STREAMINFO says "unknown" (total samples 0): what a
# writer killed before closing leaves (the FLAC format allows it; the frames are intact).
_UNKNOWN_LENGTH = 2**63 - 1
_MAX_COUNTED_SECONDS = 24 * 3600.0  # how far audio_info decodes such a file to measure it


class AudioFileError(RuntimeError):
    """An audio file cannot be used: corrupt, unfinished, empty, mislabelled, too long
    to decode under the limit, or holding NaN/inf samples. The message names the file."""


class NonFiniteAudioError(AudioFileError):
    """The decoded audio holds NaN or infinite samples."""


class AudioTooLongError(AudioFileError):
    """A read would decode more than its ``max_duration`` (checked before decoding)."""


@dataclass
class AudioFileInfo:
    """What is known about an audio file without decoding it."""

    sample_rate: int
    duration: float  # seconds
    channels: int


def _check_path(filepath: str | Path) -> Path:
    path = Path(filepath)
    if not path.exists():
        raise FileNotFoundError(
            f"Audio file not found: {path}. Check the path (relative paths resolve from "
            f"{Path.cwd()}) or regenerate the manifest that lists it."
        )
    if path.is_dir():
        raise IsADirectoryError(f"Expected an audio file, got the directory {path}.")
    if path.suffix.lower() not in AUDIO_EXTS:
        raise ValueError(
            f"Unsupported audio format {path.suffix!r} for {path}: supported extensions are "
            f"{', '.join(AUDIO_EXTS)}. Convert the file (e.g. to .wav or .flac) first."
        )
    return path


def _corrupt(path: Path, err: Exception) -> AudioFileError:
    return AudioFileError(
        f"Could not decode {path} ({type(err).__name__}: {err}). The file is corrupt, empty "
        "or not the format its extension says: re-export it or drop it from the manifest."
    )


def _check_header(path: Path, sample_rate: int, frames: float, channels: int) -> None:
    """Refuse headers no finished file has: no rate or channels, or more samples than
    the file's bytes could hold (an unfinished write, or a forged header)."""
    if sample_rate <= 0 or channels <= 0:
        raise AudioFileError(
            f"{path} declares {sample_rate} Hz and {channels} channels: the header is "
            "corrupt. Re-export the file or drop it from the manifest."
        )
    size = path.stat().st_size
    if not math.isfinite(frames) or frames > max(size, 1) * _MAX_SAMPLES_PER_BYTE:
        raise AudioFileError(
            f"{path} declares {frames:.3g} samples ({frames / sample_rate:.3g} s) in "
            f"{size} bytes, more than any codec packs: the file is unfinished (its writer "
            "was killed before closing it) or corrupt. Re-export it or drop it."
        )


def _check_length(path: Path, seconds: float, max_duration: float | None) -> None:
    if max_duration is not None and seconds > max_duration:
        raise AudioTooLongError(
            f"Reading {path} would decode {seconds:.1f} s of audio, more than the limit of "
            f"{max_duration:.1f} s: read a part (seek_time/duration), or pass a larger "
            "max_duration (None for no limit) if the file is trusted and memory allows."
        )


def _check_finite(path: Path, wav: torch.Tensor, nonfinite: str) -> torch.Tensor:
    """``wav`` unchanged when finite; else an error, or NaN -> 0 and inf -> +-1 when
    ``nonfinite == "repair"`` (with a warning)."""
    finite = torch.isfinite(wav)
    if bool(finite.all()):
        return wav
    bad = int((~finite).sum())
    if nonfinite == "repair":
        logger.warning("%s: replaced %d NaN/inf samples (NaN -> 0, inf -> +-1).", path, bad)
        return torch.nan_to_num(wav, nan=0.0, posinf=1.0, neginf=-1.0)
    raise NonFiniteAudioError(
        f"{path} holds {bad} NaN or infinite samples (of {wav.numel()}): the file is "
        "corrupt. Re-export it, drop it, or read it with nonfinite='repair' to replace "
        "them with silence."
    )


def _unknown_length_flac(path: Path) -> bool:
    """A FLAC file whose header does not give its length (its writer was killed before
    closing it, e.g. ``--stream``): soundfile cannot bound it, PyAV decodes its frames."""
    if path.suffix.lower() != ".flac":
        return False
    try:
        return int(sf.info(str(path)).frames) >= _UNKNOWN_LENGTH
    except sf.LibsndfileError:
        return False


def _count_frames(path: Path) -> tuple[int, int, int]:
    """``(sample_rate, channels, frames)`` of a file, counted by decoding it frame by frame
    (PyAV; memory of one frame), up to ``_MAX_COUNTED_SECONDS``."""
    with av.open(str(path)) as container:
        stream, sr, channels = _av_stream(container)
        frames = 0
        for frame in container.decode(stream):
            frames += frame.samples
            if frames > _MAX_COUNTED_SECONDS * sr:
                raise AudioFileError(
                    f"{path} is an unfinished FLAC (its writer was killed before closing it) "
                    f"that decodes to more than {_MAX_COUNTED_SECONDS / 3600:g} hours: "
                    "re-export it or drop it.")
        return sr, channels, frames


def audio_info(filepath: str | Path) -> AudioFileInfo:
    """Sample rate, duration (s) and channel count of an audio file, from its header (a
    FLAC of unknown length, left by a killed writer, is measured by decoding it).

    Raises :class:`AudioFileError` for a corrupt, empty or unfinished file.
    """
    path = _check_path(filepath)
    try:
        if _unknown_length_flac(path):
            sr, channels, frames = _count_frames(path)
            _check_header(path, sr, float(frames), channels)
            logger.warning("%s: an unfinished FLAC (no length in its header); %d samples "
                           "decoded.", path, frames)
            return AudioFileInfo(sr, frames / sr, channels)
        if path.suffix.lower() in SOUNDFILE_EXTS:
            info = sf.info(str(path))
            sr, channels = int(info.samplerate), int(info.channels)
            _check_header(path, sr, float(info.frames), channels)
            return AudioFileInfo(sr, float(info.frames) / sr, channels)
        with av.open(str(path)) as container:
            stream, sr, channels = _av_stream(container)
            duration = _av_duration(container, stream)
            _check_header(path, sr, duration * sr, channels)
            return AudioFileInfo(sr, duration, channels)
    except (sf.LibsndfileError, av.FFmpegError, ValueError, RuntimeError, OverflowError) as err:
        if isinstance(err, AudioFileError):
            raise
        raise _corrupt(path, err) from err


def audio_read(
    filepath: str | Path, seek_time: float = 0.0, duration: float = -1.0, pad: bool = False,
    max_duration: float | None = DEFAULT_MAX_DURATION, nonfinite: str = "error",
) -> tuple[torch.Tensor, int]:
    """Read ``duration`` seconds (all if negative) from ``seek_time`` seconds on.

    Returns ``(wav [C, T] float32, sample_rate)``. With ``pad`` the result is zero
    padded at the end to exactly ``duration`` seconds when the file is shorter.
    ``max_duration`` (seconds, None for no limit) caps what one read may decode; the
    length is checked from the header before decoding (:class:`AudioTooLongError`).
    ``nonfinite``: ``"error"`` raises :class:`NonFiniteAudioError` on NaN/inf samples,
    ``"repair"`` replaces them (NaN -> 0, inf -> +-1) with a warning.
    Raises :class:`AudioFileError` for a corrupt, empty or unfinished file.
    """
    path = _check_path(filepath)
    if nonfinite not in NONFINITE_MODES:
        raise ValueError(f"nonfinite must be one of {NONFINITE_MODES}, got {nonfinite!r}.")
    if not (math.isfinite(seek_time) and seek_time >= 0):
        raise ValueError(
            f"seek_time must be >= 0 seconds (and finite), got {seek_time} for {path}: "
            "seek from the start of the file (0) or later."
        )
    if not math.isfinite(duration):
        raise ValueError(
            f"duration must be a finite number of seconds (negative for the whole file), "
            f"got {duration} for {path}."
        )
    if max_duration is not None and not max_duration >= 0:
        raise ValueError(f"max_duration must be >= 0 seconds or None, got {max_duration}.")
    if duration > 0:
        _check_length(path, duration, max_duration)
    try:
        if path.suffix.lower() in SOUNDFILE_EXTS and not _unknown_length_flac(path):
            wav, sr = _soundfile_read(path, seek_time, duration, max_duration)
        else:
            wav, sr = _av_read(path, seek_time, duration, max_duration)
    except (sf.LibsndfileError, av.FFmpegError, ValueError, RuntimeError, OverflowError) as err:
        if isinstance(err, AudioFileError):
            raise
        raise _corrupt(path, err) from err
    wav = _check_finite(path, wav, nonfinite)
    if pad and duration > 0:
        target = int(round(duration * sr))
        if wav.shape[-1] < target:
            wav = torch.nn.functional.pad(wav, (0, target - wav.shape[-1]))
    return wav, sr


def _soundfile_read(
    path: Path, seek_time: float, duration: float, max_duration: float | None
) -> tuple[torch.Tensor, int]:
    with sf.SoundFile(str(path)) as f:
        sr, channels, total = int(f.samplerate), int(f.channels), int(f.frames)
        _check_header(path, sr, float(total), channels)
        start = int(round(seek_time * sr))
        if start >= total:
            return torch.zeros(channels, 0), sr
        frames = total - start if duration < 0 else min(int(round(duration * sr)), total - start)
        _check_length(path, frames / sr, max_duration)
        f.seek(start)
        data = np.empty((channels, frames), dtype=np.float32)  # [C, T]
        done = 0
        while done < frames:  # in blocks: no second full-size [T, C] copy
            block = f.read(min(_READ_BLOCK, frames - done), dtype="float32", always_2d=True)
            if len(block) == 0:
                break
            data[:, done:done + len(block)] = block.T
            done += len(block)
    return torch.from_numpy(data[:, :done]), sr  # [C, T]


def _av_stream(container: Any) -> tuple[Any, int, int]:
    if not container.streams.audio:
        raise ValueError("no audio stream")
    stream = container.streams.audio[0]
    return (stream, int(stream.codec_context.sample_rate),
            int(stream.codec_context.layout.nb_channels))


def _av_duration(container: Any, stream: Any) -> float:
    """Declared duration in seconds (0 when the container does not say)."""
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return float(container.duration / av.time_base)
    return 0.0


def _av_read(
    path: Path, seek_time: float, duration: float, max_duration: float | None
) -> tuple[torch.Tensor, int]:
    with av.open(str(path)) as container:
        stream, sr, channels = _av_stream(container)
        declared = _av_duration(container, stream)
        _check_header(path, sr, declared * sr, channels)
        start = int(round(seek_time * sr))
        stop = None if duration < 0 else start + int(round(duration * sr))
        if stream.duration is not None and stream.time_base is not None:
            # Decoders emit whole codec frames: trim the padding past the declared end.
            end = int(round(declared * sr))
            stop = end if stop is None else min(stop, end)
        if stop is not None:
            _check_length(path, (stop - start) / sr, max_duration)
        # The header may not say (or lie): count what is decoded, too.
        limit = None if max_duration is None else int(math.ceil(max_duration * sr))
        if seek_time > 0 and stream.time_base is not None:
            # Seek a little early: the demuxer lands on the previous key frame at best.
            container.seek(int(max(0.0, seek_time - 0.1) / stream.time_base), stream=stream)
        chunks: list[np.ndarray] = []
        kept = 0
        for frame in container.decode(stream):
            arr = frame.to_ndarray()
            if not frame.format.is_planar:
                arr = arr.reshape(-1, channels).T
            arr = _pcm_to_float(arr)  # [C, n]
            first = int(round(frame.time * sr)) if frame.time is not None else start
            lo = max(start - first, 0)
            hi = arr.shape[1] if stop is None else min(arr.shape[1], stop - first)
            if hi > lo:
                chunks.append(arr[:, lo:hi])
                kept += hi - lo
                if limit is not None and kept > limit:
                    _check_length(path, kept / sr, max_duration)
            if stop is not None and first + arr.shape[1] >= stop:
                break
    if not chunks:
        return torch.zeros(channels, 0), sr
    return torch.from_numpy(np.concatenate(chunks, axis=1).astype(np.float32)), sr


def _pcm_to_float(arr: np.ndarray) -> np.ndarray:
    if np.issubdtype(arr.dtype, np.floating):
        return arr.astype(np.float32)
    scale = float(np.iinfo(arr.dtype).max) + 1
    return arr.astype(np.float32) / scale


def metadata_tags(metadata: dict[str, Any]) -> dict[str, str]:
    """Metadata as string tags: the common keys directly, the rest as JSON in comment
    (what ``audio_write`` embeds)."""
    tags = {k: str(metadata[k]) for k in _TAG_KEYS if k in metadata and metadata[k] is not None}
    rest = {k: v for k, v in metadata.items() if k not in _TAG_KEYS}
    if rest:
        extra = json.dumps(rest, default=str, sort_keys=True)
        tags["comment"] = f"{tags['comment']} {extra}" if "comment" in tags else extra
    return tags


def audio_write(
    stem_name: str | Path,
    wav: torch.Tensor,
    sample_rate: int,
    format: str = "wav",
    mp3_rate: int = 320,
    ogg_rate: int | None = None,
    normalize: bool = True,
    strategy: str = "peak",
    peak_clip_headroom_db: float = 1.0,
    rms_headroom_db: float = 18.0,
    loudness_headroom_db: float = 14.0,
    loudness_compressor: bool = False,
    log_clipping: bool = True,
    make_parent_dir: bool = True,
    add_suffix: bool = True,
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Normalise and write ``wav [C, T]`` (or ``[T]`` for mono) to ``stem_name.format``.

    ``mp3_rate`` is the mp3 bitrate in kbps; ``ogg_rate`` an approximate vorbis bitrate
    in bits/s (None: libsndfile's default quality).
    ``strategy`` is one of peak|clip|rms|loudness|none (see
    :func:`~audiocraft.data.audio_utils.normalize_audio` for the headroom options).
    ``metadata`` is embedded as tags (title, artist, album, genre, date, comment; other
    keys as JSON in the comment) and, when not empty, written to the sidecar
    :func:`sidecar_path` (``<file name>.json``). The audio and the sidecar are each
    written atomically: an existing file is replaced only by a complete new one.
    Returns the path of the audio file.
    """
    if format not in WRITE_FORMATS:
        raise ValueError(
            f"Unsupported output format {format!r} for {stem_name}: use one of {WRITE_FORMATS}."
        )
    if not isinstance(wav, torch.Tensor) or not wav.dtype.is_floating_point:
        raise ValueError(f"audio_write({stem_name}) expects a float tensor, got {type(wav)}.")
    if wav.dim() == 1:
        wav = wav[None]
    if wav.dim() != 2:
        raise ValueError(
            f"audio_write({stem_name}) expects wav shaped [C, T], got {tuple(wav.shape)}: "
            "write each item of a batch separately."
        )
    channels = wav.shape[0]
    max_channels = _SF_WRITE[format][2] if format in _SF_WRITE else 8
    if channels > max_channels or channels > wav.shape[1] > 0:
        raise ValueError(
            f"audio_write({stem_name}) got {channels} channels for {wav.shape[1]} samples "
            f"({format} holds at most {max_channels}): pass wav as [C, T], not [T, C], or "
            "downmix with convert_audio(wav, sr, sr, to_channels=2)."
        )
    if not torch.isfinite(wav).all():
        raise ValueError(f"audio_write({stem_name}): wav contains NaN or inf values.")
    wav = normalize_audio(
        wav.detach().cpu().float(), normalize, strategy, peak_clip_headroom_db,
        rms_headroom_db, loudness_headroom_db, loudness_compressor,
        log_clipping=log_clipping, sample_rate=sample_rate, stem_name=str(stem_name),
    ).clamp(-1, 1)
    path = Path(stem_name)
    if add_suffix:
        path = path.with_name(path.name + "." + format)
    if make_parent_dir:
        path.parent.mkdir(parents=True, exist_ok=True)
    meta = dict(metadata or {})
    tags = metadata_tags(meta)
    data = wav.numpy().T  # [T, C]
    # A temporary file renamed over the target: a failure or a kill never leaves a
    # half-written file, and never removes an existing one.
    with atomic_path(path) as tmp:
        if format == "m4a":
            _av_write(tmp, wav.numpy(), sample_rate, tags)
        else:
            with soundfile_writer(tmp, sample_rate, channels, format, tags, mp3_rate,
                                  ogg_rate) as f:
                f.write(data)
    if meta:
        write_sidecar(path, meta)
    return path


def soundfile_writer(path: str | Path, sample_rate: int, channels: int, format: str,
                     tags: dict[str, str], mp3_rate: int = 320,
                     ogg_rate: int | None = None) -> sf.SoundFile:
    """An open ``sf.SoundFile`` writing ``format`` (wav, flac, ogg, mp3) to ``path`` with
    ``audio_write``'s encoding settings and ``tags``; write ``[T, C]`` float blocks to it."""
    sf_format, subtype, _ = _SF_WRITE[format]
    extra: dict[str, Any] = {}
    if format == "mp3":
        # libsndfile picks a constant bitrate from a 0..1 compression level.
        level = float(np.clip(1 - (mp3_rate - 32) / (320 - 32), 0, 1))
        extra = {"compression_level": level, "bitrate_mode": "CONSTANT"}
    elif format == "ogg" and ogg_rate is not None:
        # Vorbis spans roughly 45 kbps (level 1) to 500 kbps (level 0).
        level = float(np.clip(1 - (ogg_rate - 45_000) / (500_000 - 45_000), 0, 1))
        extra = {"compression_level": level}
    f = sf.SoundFile(str(path), "w", sample_rate, channels, subtype, format=sf_format, **extra)
    for key, value in tags.items():
        setattr(f, key, value)
    return f


def _av_write(path: Path, wav: np.ndarray, sample_rate: int, tags: dict[str, str]) -> None:
    """AAC in an MP4 container through PyAV; ``wav`` is ``[C, T]`` float32."""
    layout = {1: "mono", 2: "stereo"}.get(wav.shape[0], f"{wav.shape[0]}c")
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=sample_rate, layout=layout)
        stream.bit_rate = 192_000
        for key, value in tags.items():
            out.metadata[key] = value
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(wav, dtype=np.float32), format="fltp", layout=layout
        )
        frame.sample_rate = sample_rate
        # A timestamped first frame makes the muxer write an edit list that hides the
        # encoder's priming samples, so readers get the audio back aligned.
        frame.pts = 0
        frame.time_base = Fraction(1, sample_rate)
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def read_tags(filepath: str | Path) -> dict[str, str]:
    """Tags stored in an audio file (soundfile formats and PyAV containers)."""
    path = _check_path(filepath)
    if path.suffix.lower() in SOUNDFILE_EXTS:
        with sf.SoundFile(str(path)) as f:
            return {k: v for k, v in f.copy_metadata().items() if v}
    with av.open(str(path)) as container:
        return {k: v for k, v in container.metadata.items() if v}
