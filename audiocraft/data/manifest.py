"""Manifests: one JSON line per audio file, the index every dataset reads.

Each line holds the audiocraft keys ``path, duration, sample_rate, amplitude, weight,
info_path``, so manifests written by the reference implementation load here and the
other way round. Files that cannot be read are skipped and listed in a report: corrupt,
empty, mislabelled or unfinished files, files with NaN/inf samples (found with
``--complete``), and files longer than ``--max-duration`` when given. Manifests are
strict JSON: a NaN or infinite number is never written (``json.dumps(allow_nan=False)``)
and is refused when read.

Command line::

    python -m audiocraft.data.manifest ROOT OUT.jsonl[.gz] [--workers N] [--complete]
        [--max-duration SECONDS]

writes ``OUT.jsonl`` (gzip if it ends in ``.gz``) and, when some files were bad,
``OUT.bad.jsonl`` with one ``{"path", "reason"}`` line per rejected file.
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import math
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import IO, Any

import soundfile as sf

from ..utils.atomic import atomic_path, atomic_write_text
from .audio import (
    AUDIO_EXTS,
    SOUNDFILE_EXTS,
    audio_info,
    audio_read,
    find_sidecar,
)

logger = logging.getLogger(__name__)

_SCAN_WINDOW = 600.0  # seconds decoded at a time by --complete
# libsndfile's container name for each extension it reads; anything else is mislabelled.
_SF_CONTAINERS = {
    ".wav": ("WAV", "WAVEX", "RF64"),
    ".flac": ("FLAC",),
    ".ogg": ("OGG",),
    ".mp3": ("MP3", "MPEG"),
}


@dataclass(order=True)
class AudioMeta:
    """One manifest line (the reference audiocraft keys)."""

    path: str
    duration: float  # seconds
    sample_rate: int
    amplitude: float | None = None  # peak |x|, filled by --complete
    weight: float | None = None  # relative sampling weight
    info_path: str | None = None  # JSON sidecar with MusicInfo, if any

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AudioMeta:
        """Build from a manifest line, ignoring keys this version does not know."""
        known = {f.name for f in fields(cls)}
        missing = {"path", "duration", "sample_rate"} - set(d)
        if missing:
            raise ValueError(f"Manifest line {d} lacks the keys {sorted(missing)}.")
        kwargs = {k: v for k, v in d.items() if k in known}
        if isinstance(kwargs.get("info_path"), dict):  # reference PathInZip written as dict
            kwargs["info_path"] = kwargs["info_path"].get("path")
        meta = cls(**kwargs)
        meta.check()
        return meta

    def check(self) -> None:
        """Raise ValueError unless every number is finite and in range."""
        numbers = {"duration": self.duration, "sample_rate": self.sample_rate,
                   "amplitude": self.amplitude, "weight": self.weight}
        for key, value in numbers.items():
            if value is None and key in ("amplitude", "weight"):
                continue
            if (isinstance(value, bool) or not isinstance(value, (int, float))
                    or not math.isfinite(value) or value < 0):
                raise ValueError(
                    f"{self.path}: {key} must be a finite number >= 0, got {value!r}."
                )
        if self.sample_rate <= 0 or int(self.sample_rate) != self.sample_rate:
            raise ValueError(
                f"{self.path}: sample_rate must be a positive integer, got {self.sample_rate!r}."
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class BadFile:
    """A file left out of a manifest, and why."""

    path: str
    reason: str


@dataclass
class ManifestResult:
    """What :func:`build_manifest` found."""

    good: list[AudioMeta]
    bad: list[BadFile]


def _open_text(path: Path, mode: str) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, mode + "t", encoding="utf-8")  # type: ignore[return-value]
    return open(path, mode, encoding="utf-8")


def _probe(path: Path, complete: bool, max_duration: float | None) -> AudioMeta | BadFile:
    """Check one file; return its manifest entry or the reason it is unusable."""
    try:
        if path.stat().st_size == 0:
            return BadFile(str(path), "empty file (0 bytes)")
        ext = path.suffix.lower()
        if ext in SOUNDFILE_EXTS:
            container = sf.info(str(path)).format
            if container not in _SF_CONTAINERS[ext]:
                return BadFile(
                    str(path), f"mislabelled: content is {container} but the extension is "
                    f"{ext}; rename it to the right extension"
                )
        info = audio_info(path)
        if info.duration <= 0:
            return BadFile(str(path), "no audio samples (duration 0)")
        if max_duration is not None and info.duration > max_duration:
            return BadFile(
                str(path), f"too long: {info.duration:.1f} s, more than the limit of "
                f"{max_duration:.1f} s (--max-duration)"
            )
        amplitude = None
        if complete:
            amplitude = _peak(path, info.duration)
            if amplitude is None:
                return BadFile(str(path), "no audio samples could be decoded")
        sidecar = find_sidecar(path)
        meta = AudioMeta(
            str(path), info.duration, info.sample_rate, amplitude,
            info_path=None if sidecar is None else str(sidecar),
        )
        meta.check()  # a manifest line is valid JSON: no NaN or infinity
        return meta
    except Exception as err:  # any failure makes the file unusable; the report says why
        reason = str(err).split("\n")[0]
        return BadFile(str(path), f"unreadable: {reason}")


def _peak(path: Path, duration: float) -> float | None:
    """Peak |x| of the whole file, decoded window by window (memory bounded by one
    window); None when nothing decodes. NaN/inf samples raise."""
    peak, decoded, start = None, 0, 0.0
    while start < duration:
        wav, _ = audio_read(path, start, _SCAN_WINDOW)
        if wav.shape[-1] == 0:
            break
        decoded += wav.shape[-1]
        peak = max(peak or 0.0, float(wav.abs().max()))
        start += _SCAN_WINDOW
    return peak if decoded else None


def find_audio_files(root: str | Path, exts: tuple[str, ...] = AUDIO_EXTS) -> list[Path]:
    """All files under ``root`` (recursively) with an audio extension, sorted."""
    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(f"Folder not found: {root}. Pass the folder holding the audio.")
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in exts)


def build_manifest(
    root: str | Path, workers: int = 4, complete: bool = False, resolve: bool = True,
    max_duration: float | None = None,
) -> ManifestResult:
    """Probe every audio file under ``root``; ``complete`` decodes each fully, a window
    at a time (slower; catches truncated files and NaN/inf samples, fills
    ``amplitude``). Files longer than ``max_duration`` seconds (None: no limit; data sets
    read segments, so long files are fine) are reported, not listed. Paths are absolute
    if ``resolve``."""
    files = find_audio_files(root)
    if resolve:
        files = [p.resolve() for p in files]
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        results = list(pool.map(lambda p: _probe(p, complete, max_duration), files))
    good = [r for r in results if isinstance(r, AudioMeta)]
    bad = [r for r in results if isinstance(r, BadFile)]
    for b in bad:
        logger.warning("Skipping %s: %s", b.path, b.reason)
    return ManifestResult(good, bad)


def save_audio_meta(path: str | Path, meta: list[AudioMeta]) -> None:
    """Write ``meta`` as strict JSON lines (gzip when ``path`` ends in ``.gz``),
    atomically. Raises ValueError for a NaN or infinite number, before writing."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for m in meta:
        m.check()
    lines = [json.dumps(m.to_dict(), allow_nan=False) + "\n" for m in meta]
    with atomic_path(path) as tmp:
        opener = gzip.open(tmp, "wt", encoding="utf-8") if path.suffix == ".gz" else open(
            tmp, "w", encoding="utf-8")
        with opener as f:
            f.writelines(lines)


def load_audio_meta(path: str | Path) -> list[AudioMeta]:
    """Read a manifest (``.jsonl`` or ``.jsonl.gz``, or a folder holding ``data.jsonl``).

    Relative audio paths are taken relative to the manifest's folder when the file is
    there, else relative to the working directory (what the reference does).
    """
    path = Path(path)
    if path.is_dir():
        candidates = [path / "data.jsonl", path / "data.jsonl.gz"]
        found = [c for c in candidates if c.exists()]
        if not found:
            raise FileNotFoundError(f"No data.jsonl(.gz) manifest in the folder {path}.")
        path = found[0]
    if not path.exists():
        raise FileNotFoundError(
            f"Manifest not found: {path}. Create one with "
            f"`python -m audiocraft.data.manifest AUDIO_FOLDER {path}`."
        )
    meta = []
    with _open_text(path, "r") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                m = AudioMeta.from_dict(json.loads(line, parse_constant=_refuse_constant))
            except (json.JSONDecodeError, TypeError, ValueError) as err:
                raise ValueError(f"{path}:{lineno}: not a valid manifest line ({err}).") from err
            for attr in ("path", "info_path"):
                value = getattr(m, attr)
                if value and not Path(value).is_absolute() and (path.parent / value).exists():
                    setattr(m, attr, str(path.parent / value))
            meta.append(m)
    return meta


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number (manifests hold finite numbers only)")


def save_report(path: str | Path, bad: list[BadFile]) -> None:
    """Write the rejected files as ``{"path", "reason"}`` JSON lines, atomically."""
    atomic_write_text(path, "".join(json.dumps(asdict(b)) + "\n" for b in bad))


def report_path(manifest_path: str | Path) -> Path:
    """``OUT.jsonl[.gz]`` -> ``OUT.bad.jsonl``."""
    p = Path(manifest_path)
    name = p.name
    for suffix in (".gz", ".jsonl", ".json"):
        name = name.removesuffix(suffix)
    return p.with_name(name + ".bad.jsonl")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m audiocraft.data.manifest",
        description="Index the audio files under ROOT into a JSON-lines manifest.",
    )
    parser.add_argument("root", help="folder to scan recursively (or one file)")
    parser.add_argument("output", help="manifest to write: .jsonl or .jsonl.gz")
    parser.add_argument("--workers", type=int, default=4, help="parallel readers (threads)")
    parser.add_argument(
        "--complete", action="store_true",
        help="decode every file fully: fills amplitude and catches truncated files",
    )
    parser.add_argument(
        "--relative", action="store_true", help="store paths as found instead of absolute"
    )
    parser.add_argument(
        "--max-duration", type=float, default=0.0, metavar="SECONDS",
        help="report files longer than this as bad (default 0: no limit)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    if not (math.isfinite(args.max_duration) and args.max_duration >= 0):
        parser.error(f"--max-duration must be a finite number >= 0, got {args.max_duration}")
    result = build_manifest(args.root, args.workers, args.complete, resolve=not args.relative,
                            max_duration=args.max_duration or None)
    save_audio_meta(args.output, result.good)
    print(f"{len(result.good)} files -> {args.output}", file=sys.stderr)
    if result.bad:
        rep = report_path(args.output)
        save_report(rep, result.bad)
        print(f"{len(result.bad)} unreadable files skipped, listed in {rep}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
