"""`audiocraft generate` on the debug preset (window shortened with --window)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from audiocraft import cli
from audiocraft.data.audio import read_tags
from audiocraft.models import hub
from audiocraft.models.loaders import MissingWeightsError
from audiocraft.models.musicgen import MusicGen

FAST = ["--model", "debug", "--window", "1", "--quiet"]



def run(*args: str) -> int:
    return cli.main(["generate", *args])


def test_generate_writes_audio_with_settings(tmp_path):
    out = tmp_path / "song.wav"
    assert run("calm piano", "--duration", "2", "--out", str(out), "--seed", "3", *FAST) == 0
    wav, sr = sf.read(out)
    assert sr == 32000 and wav.shape == (64000,)
    settings = json.loads((tmp_path / "song.wav.json").read_text())
    assert settings["prompt"] == "calm piano" and settings["seed"] == 3
    assert settings["duration"] == 2.0 and settings["top_k"] == 250
    assert settings["cfg_coef"] == 3.0  # the model's own guidance when not given
    assert settings["window"] == 1.0 and settings["extend_stride"] == pytest.approx(0.6)
    assert settings["generated_seconds"] == 2.0 and not settings["interrupted"]
    tags = read_tags(out)
    assert tags["title"] == "calm piano"
    assert '"seed": 3' in tags["comment"]
    # The recorded settings reproduce the file.
    again = tmp_path / "again.wav"
    assert run("calm piano", "--duration", "2", "--out", str(again), "--seed", "3", *FAST) == 0
    assert np.array_equal(sf.read(again)[0], wav)


def test_stream_batch_timeline_and_format(tmp_path, capsys):
    timeline = tmp_path / "t.json"
    timeline.write_text(json.dumps([[0, "intro"], {"start": 1.2, "text": "drums"}]))
    out = tmp_path / "piece"
    code = run("--timeline", str(timeline), "--duration", "2.4", "--out", str(out),
               "--format", "flac", "--batch", "2", "--stream", "--seed", "1", *FAST)
    assert code == 0
    for i in range(2):
        wav, sr = sf.read(tmp_path / f"piece_{i}.flac")
        assert wav.shape == (int(2.4 * 32000),)
        settings = json.loads((tmp_path / f"piece_{i}.flac.json").read_text())
        assert settings["timeline"] == [[0.0, "intro"], [1.2, "drums"]]
        assert settings["sample"] == i
    out = capsys.readouterr().out
    assert "2 samples of 2.4 s in " in out and " samples/s, " in out  # --batch reports its speed


def test_speed_line_counts_samples_and_audio():
    line = cli._speed_line(4, 10.0, 20.0, 2)
    assert line.startswith("4 samples of 10.0 s in 20.0 s on 2 threads: 0.200 samples/s")
    assert "2.00 s of audio per second (real-time factor 0.500)" in line


def test_threads_follow_the_model_when_not_given(tmp_path):
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        assert run("rain", "--duration", "1", "--out", str(tmp_path / "a.wav"), *FAST) == 0
        assert torch.get_num_threads() == 1  # the debug LM is small: one thread
        assert run("rain", "--duration", "1", "--out", str(tmp_path / "b.wav"), "--threads", "2",
                   *FAST) == 0
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_existing_output_needs_overwrite(tmp_path, capsys):
    out = tmp_path / "song.wav"
    out.write_bytes(b"keep me")
    config = tmp_path / "song.json"  # an unrelated file of the old sidecar name
    config.write_text("{}")
    args = ["calm piano", "--duration", "1", "--out", str(out), "--seed", "3", *FAST]
    assert run(*args) == 2
    err = capsys.readouterr().err
    assert f"{out} already exists" in err and "--overwrite" in err
    assert out.read_bytes() == b"keep me"
    # The settings sidecar counts as an output too.
    out.unlink()
    (tmp_path / "song.wav.json").write_text("{}")
    assert run(*args) == 2
    assert "song.wav.json already exists" in capsys.readouterr().err
    assert run(*args, "--overwrite") == 0
    assert sf.read(out)[0].shape == (32000,)
    assert json.loads((tmp_path / "song.wav.json").read_text())["seed"] == 3
    assert config.read_text() == "{}"  # never touched
    # A batch refuses when any of its files exists; --stream too.
    (tmp_path / "b_1.flac").write_bytes(b"x")
    assert run("rain", "--duration", "1", "--out", str(tmp_path / "b.flac"), "--batch", "2",
               "--stream", *FAST) == 2
    assert "b_1.flac already exists" in capsys.readouterr().err
    assert not (tmp_path / "b_0.flac").exists()


def test_per_codebook_guidance(tmp_path):
    out = tmp_path / "g.wav"
    assert run("calm piano", "--duration", "1", "--out", str(out), "--seed", "3",
               "--cfg-coef", "3,6,6,6", *FAST) == 0
    assert json.loads((tmp_path / "g.wav.json").read_text())["cfg_coef"] == [3.0, 6.0, 6.0, 6.0]
    same = tmp_path / "same.wav"
    assert run("calm piano", "--duration", "1", "--out", str(same), "--seed", "3",
               "--cfg-coef", "3", *FAST) == 0
    assert not np.array_equal(sf.read(out)[0], sf.read(same)[0])


def test_unreadable_guidance_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run("x", "--out", str(tmp_path / "x.wav"), "--cfg-coef", "3,x", *FAST)
    assert exit_info.value.code == 2
    assert "argument --cfg-coef: Cannot read the guidance coefficient '3,x'" in \
        capsys.readouterr().err


def test_prompt_audio_continuation(tmp_path):
    prompt = tmp_path / "prompt.wav"
    sf.write(prompt, 0.1 * np.sin(np.arange(16000) / 10), 16000)
    out = tmp_path / "cont.wav"
    assert run("go on", "--prompt-audio", str(prompt), "--duration", "1.6", "--out", str(out),
               *FAST) == 0
    assert sf.read(out)[0].shape == (int(1.6 * 32000),)


@pytest.mark.parametrize("extra, message", [
    (["--duration", "0"], "--duration must be > 0"),
    (["--duration", "2", "--stride", "1.0"], "extend_stride"),
    (["--duration", "2", "--melody", "MISSING.wav"], "melody file was not found"),
    (["--duration", "2", "--melody", "BROKEN.wav"], "Cannot read the melody file"),
    (["--duration", "2", "--melody", "GOOD.wav"], "no melody conditioner"),
    (["--duration", "2", "--prompt-audio", "BROKEN.wav"], "Cannot read the prompt audio file"),
    (["--duration", "2", "--timeline", "MISSING.json"], "Timeline file not found"),
    (["--duration", "2", "--batch", "0"], "--batch must be >= 1"),
    (["--duration", "2", "--cfg-coef", "3,6"], "cfg_coef has 2 values but the model has 4"),
    (["--duration", "0.5", "--prompt-audio", "GOOD.wav"], "not shorter than --duration"),
    (["--duration", "2", "--timeline", "UNSORTED.json"], "not sorted"),
    (["--duration", "2", "--model", "facebook/musicgen-small"], "huggingface-cli download"),
])
def test_bad_input_gives_one_clear_error(tmp_path, capsys, monkeypatch, extra, message):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty_hf_home"))
    (tmp_path / "BROKEN.wav").write_bytes(b"RIFF not really audio")
    sf.write(tmp_path / "GOOD.wav", np.zeros(32000), 32000)
    (tmp_path / "UNSORTED.json").write_text(json.dumps([[5, "b"], [1, "a"]]))
    files = {"MISSING.wav", "BROKEN.wav", "GOOD.wav", "UNSORTED.json", "MISSING.json"}
    extra = [str(tmp_path / e) if e in files else e for e in extra]
    args = ["hello", "--out", str(tmp_path / "x.wav"), "--model", "debug", "--window", "1",
            "--quiet", *extra]
    assert cli.main(["generate", *args]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
    assert not (tmp_path / "x.wav").exists()


def test_toy_model_missing_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setattr(hub, "TOY_MODEL_DIR", tmp_path / "toy")
    with pytest.raises(MissingWeightsError, match="toy model is not in this checkout"):
        MusicGen.get_pretrained("toy", device="cpu")


def test_ctrl_c_stops_after_the_current_step():
    stop, making = threading.Event(), threading.Event()
    handler = cli._stop_on_interrupt(stop, making)
    with pytest.raises(KeyboardInterrupt):  # nothing is being made yet: stop at once
        handler(2, None)
    assert not stop.is_set()
    making.set()
    handler(2, None)  # the first Ctrl-C while generating: stop after this step, keep it
    assert stop.is_set()
    with pytest.raises(KeyboardInterrupt):
        handler(2, None)


def test_ctrl_c_while_loading_exits_130_without_a_traceback(tmp_path, monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli.MusicGen, "get_pretrained", interrupted)
    assert run("rain", "--out", str(tmp_path / "x.wav"), *FAST) == 130
    err = capsys.readouterr().err
    assert "interrupted before any audio was made" in err and "Traceback" not in err


def test_huge_duration_held_in_memory_is_refused_with_the_way_out(tmp_path, capsys):
    args = ["rain", "--duration", "1e9", "--out", str(tmp_path / "x.wav"), *FAST]
    assert run(*args) == 2
    err = capsys.readouterr().err
    assert "GB of audio in memory" in err and "--stream" in err
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
def test_console_script_shows_progress(tmp_path):
    exe = Path(sys.executable).with_name("audiocraft")
    out = tmp_path / "s.ogg"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([str(exe), "generate", "rain", "--model", "debug", "--window", "1",
                           "--duration", "1.5", "--out", str(out)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "1.5/1.5 s" in proc.stderr  # progress in generated seconds
    assert "<00:00]" in proc.stderr  # time left
    assert out.exists() and (tmp_path / "s.ogg.json").exists()


def test_conditioner_weights_missing_is_one_clear_error(tmp_path, capsys):
    """A CLAP model whose CLAP folder is absent: the message names it, no traceback."""
    from pathlib import Path

    from audiocraft.models import builders, loaders

    sys.path.insert(0, str(Path(__file__).parent / "modules"))
    from clap_fixtures import clap_lm_cfg

    folder = tmp_path / "model"
    lm = builders.get_lm_model(clap_lm_cfg(tmp_path / "no-clap-folder"))
    loaders.export_compression(builders.get_debug_compression_model(),
                               folder / "compression_state_dict.bin")
    loaders.export_lm(lm.eval(), None, folder / "state_dict.bin")
    out = tmp_path / "x.wav"
    assert cli.main(["generate", "calm piano", "--model", str(folder), "--duration", "0.4",
                     "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "no-clap-folder" in err and "laion/larger_clap_music" in err
    assert "Traceback" not in err and not out.exists()
