"""Write audio to a file as it is made, chunk by chunk (memory bounded by the chunk).

Peak normalisation needs the whole piece, so a streamed file is written as is, clipped
to [-1, 1]; use ``audiocraft.data.audio.audio_write`` on the full audio when
normalisation matters more than memory.

The file stays valid while it grows, so a reader opens it at its current length and a
killed process leaves a playable file: after every chunk the encoder is flushed, a WAV
header is rewritten with the current sizes, and the file is synced to disk. The file is
made under a temporary name and renamed into place once its first chunk is on disk, so a
kill before that leaves no half-made header (and an existing file of that name stays
until then). OGG and MP3 carry no total length and are readable as far as they were
flushed. FLAC stores its length only when the file is closed: a killed FLAC stream says
"length unknown", which :func:`~audiocraft.data.audio.audio_read` handles by decoding
its frames (all but the last block the encoder still held). WAV is the most robust.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any

import soundfile as sf
import torch

from .atomic import TEMP_SUFFIX, fsync_dir, fsync_path, temp_prefix

_SFC_UPDATE_HEADER_NOW = 0x1060  # libsndfile's sndfile.h
# format -> (libsndfile container, subtype)
STREAM_FORMATS: dict[str, tuple[str, str | None]] = {
    "wav": ("WAV", "FLOAT"),
    "flac": ("FLAC", "PCM_24"),
    "ogg": ("OGG", "VORBIS"),
    "mp3": ("MP3", "MPEG_LAYER_III"),
}


class StreamingAudioWriter:
    """Append ``[C, n]`` chunks to one audio file; use as a context manager.

    Args:
        path: output file (parent folders are created).
        sample_rate, channels: of every chunk.
        format: one of ``STREAM_FORMATS``.
        tags: string tags stored in the file (title, comment, ...) where the format allows.
    """

    def __init__(self, path: str | Path, sample_rate: int, channels: int, format: str = "wav",
                 tags: dict[str, str] | None = None):
        if format not in STREAM_FORMATS:
            raise ValueError(
                f"Cannot stream to {format!r}: use one of {sorted(STREAM_FORMATS)}.")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        container, subtype = STREAM_FORMATS[format]
        self.format = format
        self.channels = channels
        self.samples = 0
        fd, name = tempfile.mkstemp(prefix=temp_prefix(self.path), suffix=TEMP_SUFFIX,
                                    dir=self.path.parent)
        os.close(fd)
        self._tmp: Path | None = Path(name)  # None once renamed to ``path``
        try:
            self._file: Any = sf.SoundFile(name, "w", sample_rate, channels, subtype,
                                           format=container)
            for key, value in (tags or {}).items():
                setattr(self._file, key, value)
        except BaseException:
            self._tmp.unlink(missing_ok=True)
            raise

    def write(self, wav: torch.Tensor) -> None:
        """Append ``wav [C, n]`` (float, clipped to [-1, 1])."""
        if wav.dim() != 2 or wav.shape[0] != self.channels:
            raise ValueError(
                f"Expected a [{self.channels}, n] chunk, got {tuple(wav.shape)}.")
        data = wav.detach().cpu().float().clamp(-1, 1).numpy().T  # [n, C]
        self._file.write(data)
        self.samples += wav.shape[-1]
        self.flush()

    def flush(self) -> None:
        """Make the file valid at its current length: flush the encoder, rewrite the
        header's sizes (WAV) and sync the file to disk."""
        self._file.flush()
        if self.format == "wav":
            # soundfile does not wrap this command; libsndfile rewrites the RIFF and data
            # chunk sizes in place.
            sf._snd.sf_command(self._file._file, _SFC_UPDATE_HEADER_NOW, sf._ffi.NULL, 0)
        fsync_path(self._tmp or self.path)
        self._publish()

    def _publish(self) -> None:
        """Rename the temporary file (open, POSIX keeps writing it) to ``path``."""
        if self._tmp is not None:
            os.replace(self._tmp, self.path)
            self._tmp = None
            fsync_dir(self.path.parent)

    def close(self) -> None:
        """Finish the file (its final header) and put it at ``path``."""
        if not self._file.closed:
            self._file.close()
            fsync_path(self._tmp or self.path)
        self._publish()

    def discard(self) -> None:
        """Close without publishing: a file not yet at ``path`` is removed (an existing
        file of that name stays); a published one is finished as by ``close``."""
        if self._tmp is None:
            self.close()
            return
        if not self._file.closed:
            self._file.close()
        self._tmp.unlink(missing_ok=True)
        self._tmp = None

    def __enter__(self) -> StreamingAudioWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc is not None and self.samples == 0:
            self.discard()  # failed before any audio: leave no empty file
        else:
            self.close()
