"""Kills audio writers at random points and says what each kill left (run as a script).

    python tests/data/_kill_writes.py MODE FOLDER ROUNDS SEED

MODE ``write``: the target holds an old file; a forked child replaces it with
``audio_write`` and is SIGKILLed after a random delay (0 to an unkilled write's
duration); the temporary files kills leave are counted, must be invisible to the
manifest scan, and are removed by ``clean_stale_temps``. MODE ``stream`` (``stream-flac``):
a forked child streams chunks to a new WAV (FLAC) with ``StreamingAudioWriter`` and is
SIGKILLed after a random delay. Torch is imported once here and every writer is a fork
of this process, so a round costs milliseconds.

Prints one JSON line: ``{"old": n, "new": n, "partial": n, "missing": n, "invalid": [..]}``.
"""

from __future__ import annotations

import json
import os
import random
import signal
import struct
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from audiocraft.data.audio import audio_read, audio_write
from audiocraft.data.manifest import find_audio_files
from audiocraft.utils.atomic import clean_stale_temps, is_temp_file
from audiocraft.utils.stream_writer import StreamingAudioWriter

SR = 16000
CHUNK = 1600


def _signal(seconds: float, freq: float) -> torch.Tensor:
    t = torch.arange(int(seconds * SR)) / SR
    return (0.5 * torch.sin(2 * torch.pi * freq * t)).repeat(2, 1)  # [2, T]


def _riff_consistent(path: Path) -> bool:
    """The RIFF and data chunk sizes agree with each other and fit in the file, as a
    strict reader wants. (A kill between a chunk's samples and the header update leaves
    bytes past the RIFF end, which readers ignore: the file is valid at its last size.)"""
    raw = path.read_bytes()
    if len(raw) < 12 or raw[:4] != b"RIFF" or raw[8:12] != b"WAVE":
        return False
    riff_end = 8 + struct.unpack("<I", raw[4:8])[0]
    if riff_end > len(raw):
        return False
    pos = 12
    while pos + 8 <= riff_end:
        cid, size = raw[pos:pos + 4], struct.unpack("<I", raw[pos + 4:pos + 8])[0]
        if cid == b"data":
            return pos + 8 + size == riff_end
        pos += 8 + size + (size & 1)
    return False


def _fork(work) -> int:
    pid = os.fork()
    if pid == 0:  # the child: do the work, exit without running the parent's cleanup
        try:
            work()
        finally:
            os._exit(0)
    return pid


def _kill_after(pid: int, delay: float) -> None:
    time.sleep(delay)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    os.waitpid(pid, 0)


def run_write(folder: Path, rounds: int, rng: random.Random) -> dict:
    old_wav, new_wav = _signal(1.0, 220), _signal(6.0, 330)
    reference_old = audio_write(folder / "reference_old", old_wav, SR, strategy="none")
    reference_new = audio_write(folder / "reference_new", new_wav, SR, strategy="none")
    target = folder / "song.wav"

    def write() -> None:
        audio_write(folder / "song", new_wav, SR, strategy="none")

    started = time.perf_counter()
    os.waitpid(_fork(write), 0)
    duration = time.perf_counter() - started
    counts: dict = {"old": 0, "new": 0, "invalid": [], "write_seconds": duration}
    for i in range(rounds):
        target.write_bytes(reference_old.read_bytes())
        _kill_after(_fork(write), rng.uniform(0, duration))
        data = target.read_bytes()
        if data == reference_old.read_bytes():
            counts["old"] += 1
        elif data == reference_new.read_bytes() and sf.info(str(target)).frames == 6 * SR:
            counts["new"] += 1
        else:
            counts["invalid"].append(i)
    temps = [p for p in folder.iterdir() if is_temp_file(p)]
    counts["temps_left"] = len(temps)
    counts["temps_listed"] = len(set(temps) & set(find_audio_files(folder)))
    counts["temps_removed"] = len(clean_stale_temps(folder))
    return counts


def run_stream(folder: Path, rounds: int, rng: random.Random, format: str = "wav") -> dict:
    wav = _signal(30.0, 440)

    def stream(path: Path) -> None:
        with StreamingAudioWriter(path, SR, 2, format) as writer:
            for chunk in wav.split(CHUNK, dim=-1):
                writer.write(chunk)
                time.sleep(0.002)  # a generator makes chunks slower than this

    counts: dict = {"missing": 0, "partial": 0, "new": 0, "invalid": []}
    for i in range(rounds):
        path = folder / f"stream_{i}.{format}"
        _kill_after(_fork(lambda p=path: stream(p)), rng.uniform(0, 0.25))
        if not path.exists():
            counts["missing"] += 1
            continue
        try:
            if format == "wav":
                data, sr = sf.read(str(path), dtype="float32", always_2d=True)  # [T, C]
            else:  # our reader: a killed FLAC's header says "length unknown"
                read, sr = audio_read(path)
                data = read.numpy().T  # [T, C]
        except Exception:
            counts["invalid"].append(i)
            continue
        n = data.shape[0]
        expected = wav[:, :n].numpy().T
        consistent = _riff_consistent(path) if format == "wav" else True
        # FLAC stores 24-bit samples: equal to the float input within one step.
        if not (sr == SR and consistent and np.allclose(data, expected, atol=1e-6)):
            counts["invalid"].append(i)
        elif n == wav.shape[-1]:
            counts["new"] += 1
        else:
            counts["partial"] += 1
    return counts


def main() -> None:
    mode, folder, rounds, seed = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    torch.set_num_threads(1)
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    if mode == "write":
        counts = run_write(folder, rounds, rng)
    else:
        counts = run_stream(folder, rounds, rng, "flac" if mode == "stream-flac" else "wav")
    print(json.dumps(counts))


if __name__ == "__main__":
    main()
