"""Atomic writes: the target is its old content or the complete new one, never less."""

import os

import pytest

from audiocraft.utils.atomic import (
    atomic_path,
    atomic_write_text,
    clean_stale_temps,
    is_temp_file,
)


def test_replaces_and_keeps_the_mode(tmp_path):
    target = tmp_path / "a.txt"
    atomic_write_text(target, "one")
    atomic_write_text(target, "two")
    assert target.read_text() == "two"
    assert oct(target.stat().st_mode & 0o777) == oct(0o666 & ~_umask())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@pytest.mark.parametrize("error", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_failure_keeps_the_old_file_and_removes_the_temp(tmp_path, error):
    target = tmp_path / "a.txt"
    target.write_text("old")
    with pytest.raises(type(error)):
        with atomic_path(target) as tmp:
            assert tmp.parent == tmp_path and is_temp_file(tmp)
            tmp.write_text("half")
            raise error
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def test_clean_stale_temps_removes_only_temp_files(tmp_path):
    keep = [".hidden", "a.txt", ".a.tmp", "x.wav.tmp"]
    for name in keep + [".a.txt.k2j3h4.tmp", ".last.ckpt.abc.tmp"]:
        (tmp_path / name).write_text("x")
    removed = clean_stale_temps(tmp_path)
    assert sorted(p.name for p in removed) == [".a.txt.k2j3h4.tmp", ".last.ckpt.abc.tmp"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(keep)
    assert clean_stale_temps(tmp_path / "missing") == []
