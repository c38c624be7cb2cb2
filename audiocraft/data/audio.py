"""Reading and writing audio files.

soundfile (libsndfile) handles wav, flac, ogg/vorbis and mp3 with sample-accurate
seeking; PyAV (ffmpeg) handles everything else (m4a/aac, webm/opus, ...). Audio is
returned as float32 tensors shaped ``[C, T]``.

:func:`audio_write` normalises, writes, embeds the metadata as tags where the format
allows and always writes it to a ``<stem>.json`` sidecar next to the audio (the file a
:class:`~audiocraft.data.music_dataset.MusicDataset` reads its ``MusicInfo`` from).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import soundfile as sf
import torch

from .audio_utils import normalize_audio

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


def _corrupt(path: Path, err: Exception) -> RuntimeError:
    return RuntimeError(
        f"Could not decode {path} ({type(err).__name__}: {err}). The file is corrupt, empty "
        "or not the format its extension says: re-export it or drop it from the manifest."
    )


def audio_info(filepath: str | Path) -> AudioFileInfo:
    """Sample rate, duration (s) and channel count of an audio file."""
    path = _check_path(filepath)
    try:
        if path.suffix.lower() in SOUNDFILE_EXTS:
            info = sf.info(str(path))
            return AudioFileInfo(int(info.samplerate), float(info.duration), int(info.channels))
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise ValueError("no audio stream")
            stream = container.streams.audio[0]
            if stream.duration is not None and stream.time_base is not None:
                duration = float(stream.duration * stream.time_base)
            elif container.duration is not None:
                duration = container.duration / av.time_base
            else:
                duration = 0.0
            return AudioFileInfo(
                int(stream.codec_context.sample_rate), duration,
                int(stream.codec_context.layout.nb_channels),
            )
    except (sf.LibsndfileError, av.FFmpegError, ValueError, RuntimeError) as err:
        raise _corrupt(path, err) from err


def audio_read(
    filepath: str | Path, seek_time: float = 0.0, duration: float = -1.0, pad: bool = False
) -> tuple[torch.Tensor, int]:
    """Read ``duration`` seconds (all if negative) from ``seek_time`` seconds on.

    Returns ``(wav [C, T] float32, sample_rate)``. With ``pad`` the result is zero
    padded at the end to exactly ``duration`` seconds when the file is shorter.
    """
    path = _check_path(filepath)
    if seek_time < 0:
        raise ValueError(
            f"seek_time must be >= 0 seconds, got {seek_time} for {path}: "
            "seek from the start of the file (0) or later."
        )
    try:
        if path.suffix.lower() in SOUNDFILE_EXTS:
            wav, sr = _soundfile_read(path, seek_time, duration)
        else:
            wav, sr = _av_read(path, seek_time, duration)
    except (sf.LibsndfileError, av.FFmpegError, ValueError, RuntimeError) as err:
        raise _corrupt(path, err) from err
    if pad and duration > 0:
        target = int(round(duration * sr))
        if wav.shape[-1] < target:
            wav = torch.nn.functional.pad(wav, (0, target - wav.shape[-1]))
    return wav, sr


def _soundfile_read(path: Path, seek_time: float, duration: float) -> tuple[torch.Tensor, int]:
    with sf.SoundFile(str(path)) as f:
        sr = int(f.samplerate)
        start = int(round(seek_time * sr))
        frames = -1 if duration < 0 else int(round(duration * sr))
        if start >= f.frames:
            return torch.zeros(f.channels, 0), sr
        f.seek(start)
        data = f.read(frames, dtype="float32", always_2d=True)  # [T, C]
    return torch.from_numpy(np.ascontiguousarray(data.T)), sr  # [C, T]


def _av_read(path: Path, seek_time: float, duration: float) -> tuple[torch.Tensor, int]:
    with av.open(str(path)) as container:
        if not container.streams.audio:
            raise ValueError("no audio stream")
        stream = container.streams.audio[0]
        sr = int(stream.codec_context.sample_rate)
        channels = int(stream.codec_context.layout.nb_channels)
        start = int(round(seek_time * sr))
        stop = None if duration < 0 else start + int(round(duration * sr))
        if stream.duration is not None and stream.time_base is not None:
            # Decoders emit whole codec frames: trim the padding past the declared end.
            end = int(round(float(stream.duration * stream.time_base) * sr))
            stop = end if stop is None else min(stop, end)
        if seek_time > 0 and stream.time_base is not None:
            # Seek a little early: the demuxer lands on the previous key frame at best.
            container.seek(int(max(0.0, seek_time - 0.1) / stream.time_base), stream=stream)
        chunks: list[np.ndarray] = []
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


def _tags(metadata: dict[str, Any]) -> dict[str, str]:
    """Metadata as string tags: the common keys directly, the rest as JSON in comment."""
    tags = {k: str(metadata[k]) for k in _TAG_KEYS if k in metadata and metadata[k] is not None}
    rest = {k: v for k, v in metadata.items() if k not in _TAG_KEYS}
    if rest:
        extra = json.dumps(rest, default=str, sort_keys=True)
        tags["comment"] = f"{tags['comment']} {extra}" if "comment" in tags else extra
    return tags


def write_sidecar(audio_path: str | Path, metadata: dict[str, Any]) -> Path:
    """Write ``metadata`` to ``<audio stem>.json`` next to ``audio_path``; return its path."""
    sidecar = Path(audio_path).with_suffix(".json")
    sidecar.write_text(json.dumps(metadata, indent=2, default=str, sort_keys=True) + "\n")
    return sidecar


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
    keys as JSON in the comment) and always written to the ``<stem>.json`` sidecar.
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
    tags = _tags(meta)
    data = wav.numpy().T  # [T, C]
    try:
        if format == "m4a":
            _av_write(path, wav.numpy(), sample_rate, tags)
        else:
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
            with sf.SoundFile(
                str(path), "w", sample_rate, channels, subtype, format=sf_format, **extra
            ) as f:
                for key, value in tags.items():
                    setattr(f, key, value)
                f.write(data)
    except Exception:
        path.unlink(missing_ok=True)  # never leave a half-written file behind
        raise
    write_sidecar(path, meta)
    return path


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
