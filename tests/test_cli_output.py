"""`audiocraft generate`'s files: naming, formats, sidecars that reproduce, streamed
writes equal to whole ones, and a stop that keeps what was made (debug preset)."""

from __future__ import annotations

import json
import os
import shlex
import signal

import numpy as np
import pytest
import soundfile as sf

from audiocraft import cli
from audiocraft.data.audio import audio_read

FAST = ["--model", "debug", "--window", "1", "--quiet"]


def run(*args: str) -> int:
    return cli.main(["generate", *args])


def test_several_prompts_one_file_each_and_sidecars_reproduce(tmp_path):
    out = tmp_path / "song.wav"
    assert run("calm piano", "fast drums", "--batch", "2", "--duration", "1.2", "--out", str(out),
               *FAST) == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [f"song_{i}.wav{ext}" for i in range(4) for ext in ("", ".json")]
    settings = [json.loads((tmp_path / f"song_{i}.wav.json").read_text()) for i in range(4)]
    assert [s["prompt"] for s in settings] == ["calm piano"] * 2 + ["fast drums"] * 2
    assert [s["sample"] for s in settings] == [0, 1, 2, 3]
    assert all(s["batch"] == 2 and s["batch_size"] == 4 for s in settings)
    assert settings[3]["prompts"] == ["calm piano", "fast drums"]
    assert settings[3]["normalization"] == {"strategy": "peak", "peak_clip_headroom_db": 1.0}
    # The recorded command makes the same file again (its seed was drawn: none was given).
    command = shlex.split(settings[3]["command"])
    assert command[:2] == ["audiocraft", "generate"] and "--seed" in command
    again = tmp_path / "again"
    again.mkdir()
    command[command.index("--out") + 1] = str(again / "song.wav")
    assert cli.main([*command[1:], "--quiet"]) == 0
    assert np.array_equal(sf.read(again / "song_3.wav")[0], sf.read(tmp_path / "song_3.wav")[0])


def test_formats_m4a_written_unknown_refused_and_sidecars_distinct(tmp_path, capsys):
    m4a = tmp_path / "x.m4a"
    assert run("rain", "--duration", "1", "--out", str(m4a), "--seed", "1", *FAST) == 0
    wav, sr = audio_read(m4a)
    assert sr == 32000 and abs(wav.shape[-1] - 32000) < 2048  # AAC, not x.m4a.wav
    assert not (tmp_path / "x.m4a.wav").exists()
    for name in ("x.wav", "x.mp3"):
        assert run("rain", "--duration", "1", "--out", str(tmp_path / name), *FAST) == 0
    assert {p.name for p in tmp_path.glob("x.*.json")} == {"x.m4a.json", "x.wav.json",
                                                           "x.mp3.json"}
    assert run("rain", "--duration", "1", "--out", str(tmp_path / "y.aiff"), *FAST) == 2
    err = capsys.readouterr().err
    assert "Cannot write 'aiff' files" in err and "wav, flac, ogg, mp3, m4a" in err
    assert run("rain", "--duration", "1", "--out", str(m4a), "--stream", "--overwrite",
               *FAST) == 2
    assert "--stream cannot write m4a files" in capsys.readouterr().err


@pytest.mark.parametrize("format", ["wav", "flac"])
def test_streamed_file_equals_the_normal_write(tmp_path, format):
    args = ["calm piano", "--duration", "2.2", "--seed", "4", "--batch", "2", *FAST]
    assert run(*args, "--out", str(tmp_path / f"whole.{format}")) == 0
    assert run(*args, "--out", str(tmp_path / f"streamed.{format}"), "--stream") == 0
    for i in range(2):
        whole, _ = sf.read(tmp_path / f"whole_{i}.{format}")
        streamed, _ = sf.read(tmp_path / f"streamed_{i}.{format}")
        assert np.array_equal(whole, streamed)
        assert np.abs(streamed).max() == pytest.approx(10 ** (-1 / 20), abs=1e-3)  # -1 dBFS peak
        meta = json.loads((tmp_path / f"streamed_{i}.{format}.json").read_text())
        assert meta["normalization"]["strategy"] == "peak"
    assert not list(tmp_path.glob(".*"))  # no spool left behind


@pytest.mark.parametrize("stream", [False, True])
def test_ctrl_c_in_the_first_window_keeps_what_was_made(tmp_path, monkeypatch, capsys, stream):
    """One 3 s window (a stop inside it used to keep nothing): Ctrl-C after 1 s writes
    the frames made so far."""
    update = cli.ProgressBar.update

    def interrupt_once(self, done):
        if done >= 1.0 and not getattr(self, "interrupted", False):
            self.interrupted = True
            os.kill(os.getpid(), signal.SIGINT)
        update(self, done)

    monkeypatch.setattr(cli.ProgressBar, "update", interrupt_once)
    out = tmp_path / "cut.wav"
    code = run("rain", "--duration", "3", "--out", str(out), "--model", "debug", "--window", "3",
               *(["--stream"] if stream else []))
    assert code == 130
    err = capsys.readouterr().err
    assert "stopped early: kept" in err and "of 3 s" in err
    wav, sr = sf.read(out)
    assert 0.5 * sr < wav.shape[0] < 3 * sr
    meta = json.loads((tmp_path / "cut.wav.json").read_text())
    assert meta["interrupted"] and meta["generated_seconds"] == pytest.approx(wav.shape[0] / sr)
