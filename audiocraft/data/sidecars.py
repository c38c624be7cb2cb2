"""Metadata sidecars of audio files: ``song.wav.json`` beside ``song.wav`` (the reference
audiocraft's ``song.json`` is still read)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..utils.atomic import atomic_write_text


def sidecar_path(audio_path: str | Path) -> Path:
    """Where :func:`write_sidecar` puts the metadata of ``audio_path``: the full file name
    plus ``.json`` (``song.wav`` -> ``song.wav.json``), so ``song.wav`` and ``song.mp3``
    keep their own, and an unrelated ``config.json`` next to ``config.wav`` is safe."""
    path = Path(audio_path)
    return path.with_name(path.name + ".json")


def find_sidecar(audio_path: str | Path) -> Path | None:
    """The metadata sidecar of ``audio_path`` if one exists: ``song.wav.json``, else the
    reference audiocraft's ``song.json`` (data sets made with it use that name)."""
    for candidate in (sidecar_path(audio_path), Path(audio_path).with_suffix(".json")):
        if candidate.is_file():
            return candidate
    return None


def write_sidecar(audio_path: str | Path, metadata: dict[str, Any]) -> Path:
    """Write ``metadata`` atomically to :func:`sidecar_path` of ``audio_path``; return it."""
    sidecar = sidecar_path(audio_path)
    atomic_write_text(sidecar, json.dumps(metadata, indent=2, default=str, sort_keys=True) + "\n")
    return sidecar
