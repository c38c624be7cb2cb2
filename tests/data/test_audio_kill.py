"""Audio writers SIGKILLed at random points leave the old file or a valid new one.

Each test runs tests/data/_kill_writes.py in a subprocess, which forks one writer per
round and kills it after a random delay (seeded), then checks what is on disk.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

DRIVER = Path(__file__).with_name("_kill_writes.py")
ROUNDS = 25
TIMEOUT_S = 120  # bound on the whole subprocess (a slow shared machine)


def _drive(mode: str, folder: Path, seed: int) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, str(DRIVER), mode, str(folder), str(ROUNDS), str(seed)],
        capture_output=True, text=True, timeout=TIMEOUT_S, env=env,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the driver forks its writers")
def test_killed_audio_write_leaves_old_or_new_file(tmp_path):
    counts = _drive("write", tmp_path, seed=0)
    assert counts["invalid"] == [], counts
    assert counts["old"] + counts["new"] == ROUNDS
    # Temporary files a kill left are never listed as audio, and are cleaned on request.
    assert counts["temps_listed"] == 0 and counts["temps_removed"] == counts["temps_left"]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the driver forks its writers")
def test_killed_stream_leaves_a_valid_wav_at_its_current_length(tmp_path):
    counts = _drive("stream", tmp_path, seed=0)
    assert counts["invalid"] == [], counts
    assert counts["missing"] + counts["partial"] + counts["new"] == ROUNDS


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the driver forks its writers")
def test_killed_flac_stream_reads_back_to_its_last_frame(tmp_path):
    """A FLAC's length is written on close; a killed stream's header says "unknown" and
    audio_read decodes its frames (the samples match what was written)."""
    counts = _drive("stream-flac", tmp_path, seed=1)
    assert counts["invalid"] == [], counts
    assert counts["missing"] + counts["partial"] + counts["new"] == ROUNDS
    assert counts["partial"] > 0, counts  # kills did land mid-stream
