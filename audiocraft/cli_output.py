"""Where ``audiocraft generate`` writes its files, and how.

One file per generated sample: ``--out song.wav`` for one, else ``song_0.wav``,
``song_1.wav``, ... numbered in generation order (the first prompt's ``--batch`` samples,
then the next prompt's). Each file gets a sidecar ``song_0.wav.json`` with every setting
needed to make it again (see ``reproduce_args``).

Both ways of writing give the same file: the whole piece is peak-normalised
(``audio_write``'s default, ``NORMALIZATION``) before it is encoded. ``--stream`` writes
the audio to the target as it is made (clipped, so the growing file plays), keeps the
exact samples in a spool file next to it, and at the end writes the normalised file over
the streamed one, reading the spool a block at a time (memory stays bounded).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .data.audio import (
    WRITE_FORMATS,
    audio_write,
    metadata_tags,
    sidecar_path,
    soundfile_writer,
    write_sidecar,
)
from .data.audio_utils import db_to_gain
from .models.errors import InputError
from .models.longform import GenerationStream
from .utils.atomic import atomic_path
from .utils.stream_writer import STREAM_FORMATS, StreamingAudioWriter

FORMATS: tuple[str, ...] = WRITE_FORMATS  # wav, flac, ogg, mp3, m4a
STREAMABLE: tuple[str, ...] = tuple(STREAM_FORMATS)  # m4a is written at the end only
# How every written file is normalised (recorded in the sidecar).
NORMALIZATION: dict[str, Any] = {"strategy": "peak", "peak_clip_headroom_db": 1.0}
_BLOCK = 1 << 20  # samples per channel read back from a spool at a time


def output_paths(out: str, format: str | None, count: int) -> tuple[list[Path], str]:
    """The ``count`` audio files ``--out out`` (and ``--format``) names, and the format.

    ``song.wav`` gives ``song.wav`` (one file) or ``song_0.wav`` ... ``song_{count-1}.wav``;
    a name without a known extension gets ``.FORMAT`` added. An extension that is not a
    format we write, without ``--format``, is refused (never silently ``x.m4b.wav``).
    """
    path = Path(out)
    suffix = path.suffix.lower().lstrip(".")
    if format is None:
        if suffix and suffix not in FORMATS:
            raise InputError(
                f"Cannot write {suffix!r} files ({out}): name the output with one of the "
                f"supported extensions, {', '.join(FORMATS)}, or pass --format.")
        format = suffix or "wav"
    elif suffix in FORMATS and suffix != format:
        raise InputError(f"--out {out} is a {suffix} file but --format is {format}: "
                         "make them agree.")
    if format not in FORMATS:
        raise InputError(f"Unknown format {format!r}: use one of {', '.join(FORMATS)}.")
    stem = path.with_suffix("") if suffix == format else path
    stems = [stem] if count == 1 else [stem.with_name(f"{stem.name}_{i}") for i in range(count)]
    return [s.with_name(f"{s.name}.{format}") for s in stems], format


def refuse_existing(paths: Iterable[Path]) -> None:
    """InputError naming the first output (audio or settings sidecar) that exists."""
    for audio in paths:
        for path in (audio, sidecar_path(audio)):
            if path.exists():
                raise InputError(
                    f"{path} already exists: pass --overwrite to replace it, or choose "
                    "another --out.")


def write_whole(stream: GenerationStream, paths: list[Path], format: str,
                metadata: list[dict[str, Any]], sample_rate: int, channels: int
                ) -> tuple[list[Path], float]:
    """Gather the chunks of ``stream`` (``wav [B, C, n]``, B = len(paths)) and write
    sample i to ``paths[i]`` with ``metadata[i]`` (tags and sidecar, plus
    ``generated_seconds`` and ``interrupted``). Returns the files written and the seconds
    of audio; nothing is written when no audio was made."""
    parts = [chunk.wav for chunk in stream]
    wav = (torch.cat(parts, dim=-1) if parts
           else torch.zeros(len(paths), channels, 0))  # [B, C, T]
    seconds = wav.shape[-1] / sample_rate
    if wav.shape[-1] == 0:
        return [], 0.0
    written = []
    for i, path in enumerate(paths):
        meta = {**metadata[i], "generated_seconds": seconds, "interrupted": stream.interrupted}
        written.append(audio_write(path.with_suffix(""), wav[i], sample_rate, format=format,
                                   metadata=meta, **_write_options()))
    return written, seconds


def write_streamed(stream: GenerationStream, paths: list[Path], format: str,
                   metadata: list[dict[str, Any]], sample_rate: int, channels: int
                   ) -> tuple[list[Path], float]:
    """Like ``write_whole``, with each file written as its audio is made (see the module
    docstring): the finished file equals ``write_whole``'s, in bounded memory."""
    if format not in STREAMABLE:
        raise InputError(f"--stream cannot write {format} files: use one of "
                         f"{', '.join(STREAMABLE)}, or leave out --stream.")
    spools = [p.with_name(f".{p.name}.spool.f32") for p in paths]
    peaks = [torch.zeros((), dtype=torch.float32) for _ in paths]
    writers: list[StreamingAudioWriter] = []
    try:
        writers = [StreamingAudioWriter(p, sample_rate, channels, format, metadata_tags(m))
                   for p, m in zip(paths, metadata)]
        with contextlib.ExitStack() as files:
            spooled = [files.enter_context(open(s, "wb")) for s in spools]
            try:
                for chunk in stream:
                    for i, wav in enumerate(chunk.wav.float()):  # [C, n]
                        writers[i].write(wav)
                        if wav.shape[-1]:
                            peaks[i] = torch.maximum(peaks[i], wav.abs().max())
                        spooled[i].write(wav.T.contiguous().numpy().tobytes())  # [n, C]
            finally:
                for writer in writers:
                    writer.close()
        seconds = writers[0].samples / sample_rate
        if writers[0].samples == 0:
            for path in paths:
                path.unlink(missing_ok=True)
            return [], 0.0
        for i, path in enumerate(paths):
            meta = {**metadata[i], "generated_seconds": seconds, "interrupted": stream.interrupted}
            _write_normalised(spools[i], path, peaks[i], sample_rate, channels, format,
                              metadata_tags(meta))
            write_sidecar(path, meta)
    finally:
        for spool in spools:
            spool.unlink(missing_ok=True)
    return paths, seconds


def _write_options() -> dict[str, Any]:
    return {"strategy": NORMALIZATION["strategy"],
            "peak_clip_headroom_db": NORMALIZATION["peak_clip_headroom_db"]}


def _write_normalised(spool: Path, path: Path, peak: torch.Tensor, sample_rate: int,
                      channels: int, format: str, tags: dict[str, str]) -> None:
    """Write the float32 samples of ``spool`` to ``path``, scaled exactly as
    ``audio_write``'s peak normalisation scales the whole piece (same samples out)."""
    ceiling = db_to_gain(-NORMALIZATION["peak_clip_headroom_db"])
    gain = None if peak == 0 else ceiling / peak  # a float32 tensor, as in audio_write
    frames = os.path.getsize(spool) // (4 * channels)
    data = np.memmap(spool, dtype=np.float32, mode="r", shape=(frames, channels))  # [T, C]
    with atomic_path(path) as tmp, soundfile_writer(tmp, sample_rate, channels, format,
                                                    tags) as f:
        for start in range(0, frames, _BLOCK):
            block = torch.from_numpy(np.array(data[start:start + _BLOCK]))  # [n, C]
            if gain is not None:
                block = block * gain
            f.write(block.clamp(-1, 1).numpy())
    del data
