"""Atomic file writes: a file is either its old content or its complete new content.

Every writer of a file a user keeps (audio, sidecars, checkpoints) writes to a temporary
file in the same folder, flushes it to disk (``fsync``) and renames it over the target
with :func:`os.replace`, which is atomic on POSIX and Windows within one file system. A
failure (or a kill) before the rename leaves the old file untouched; a failure before
the rename also removes the temporary file. Temporary files are named
``.<name>.<random>.tmp`` so :func:`clean_stale_temps` can find those a killed process left.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

TEMP_SUFFIX = ".tmp"


def temp_prefix(target: str | Path) -> str:
    """Prefix of the temporary files :func:`atomic_path` makes for ``target``."""
    return f".{Path(target).name}."


def fsync_path(path: str | Path) -> None:
    """Flush a written file's data to disk (it must be closed or flushed by its writer)."""
    fd = os.open(str(path), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(folder: str | Path) -> None:
    """Flush a folder's entries (a rename) to disk; a no-op where folders cannot be opened."""
    try:
        fd = os.open(str(folder), os.O_RDONLY)
    except OSError:  # Windows cannot open folders
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; on success fsync it and rename it over
    ``target``. On any exception (KeyboardInterrupt included) the temporary file is
    removed, ``target`` is left as it was, and the exception propagates.
    Writers that pick a format from the file name must be told the format: the
    temporary file is ``.<name>.<random>.tmp``.
    """
    target = Path(target)
    fd, name = tempfile.mkstemp(prefix=temp_prefix(target), suffix=TEMP_SUFFIX, dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes owner-only files; keep the usual mode
    try:
        yield tmp
        fsync_path(tmp)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)


def atomic_write_bytes(target: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``target`` atomically; return ``target`` as a Path."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return Path(target)


def atomic_write_text(target: str | Path, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``target`` atomically; return ``target`` as a Path."""
    return atomic_write_bytes(target, text.encode(encoding))


def atomic_write_with(target: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp_path)`` and move the result over ``target`` atomically."""
    with atomic_path(target) as tmp:
        write(tmp)
    return Path(target)


def is_temp_file(path: str | Path) -> bool:
    """Whether ``path`` is named like a temporary file of :func:`atomic_path`."""
    name = Path(path).name
    return name.startswith(".") and name.endswith(TEMP_SUFFIX) and name.count(".") >= 3


def clean_stale_temps(folder: str | Path) -> list[Path]:
    """Remove the temporary files a killed atomic write left in ``folder``. Only call
    this when no write is in progress there. Returns the removed paths."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    for path in sorted(folder.iterdir()):
        if is_temp_file(path) and path.is_file():
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed
