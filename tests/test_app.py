"""The Gradio app (app.py): input checks, the generation logic, and the real server
driven over HTTP with gradio_client (toy model, windows shortened to stay fast)."""

from __future__ import annotations

import json
import re
import socket
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError as ClientAppError

from audiocraft.cli import UsageError, parse_timeline_text, read_timeline

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import app  # noqa: E402  (the top-level app.py)

pytestmark = [  # gradio's queue under pandas 3; not ours
    pytest.mark.filterwarnings("ignore:'future.no_silent_downcasting' is deprecated"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]

# Defaults of the form, in the order of the /generate endpoint's inputs; the first
# CHECKED go to check_inputs.
FORM = {"model": "toy", "text": "calm piano", "timeline": "", "melody": None,
        "prompt_audio": None, "duration": 1, "top_k": 250, "top_p": 0.0, "temperature": 1.0,
        "cfg_coef": "", "seed": 7, "window": 0, "stride": 0, "melody_policy": "loop",
        "precision": "float32", "unconditional": False, "audio_format": "wav", "video": False}
CHECKED = 14


def form(**changes):
    return list({**FORM, **changes}.values())


def settings(**changes) -> app.GenerationSettings:
    return app.check_inputs(*form(**changes)[:CHECKED])


# ---- timeline text (shared with the CLI) ----

def test_timeline_text_lines():
    text = "# intro first\n0: calm piano\n\n30: energetic drums: loud\n1:30.5 : outro\n"
    assert parse_timeline_text(text) == [
        (0.0, "calm piano"), (30.0, "energetic drums: loud"), (90.5, "outro")]
    assert parse_timeline_text("  \n# nothing\n") == []


@pytest.mark.parametrize("text, message", [
    ("calm piano", "line 1 ('calm piano') is not 'TIME: text'"),
    ("0: a\n0:30 drums", "line 2 ('0:30 drums') is not 'TIME: text'"),  # not "30 drums" at 0
    ("0: a\n10:", "line 2 ('10:') has no text"),
    ("-5: a", "start times must be >= 0"),
    ("1:75: a", "is not 'TIME: text'"),
    ("10: a\n5: b", "not sorted by time"),
])
def test_bad_timeline_lines_name_the_line(text, message):
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_timeline_text(text)


def test_json_timeline_file_uses_the_same_checks(tmp_path):
    path = tmp_path / "t.json"
    path.write_text('[[0, "intro"], {"start": 2, "text": "drums"}]')
    assert read_timeline(str(path)) == [(0.0, "intro"), (2.0, "drums")]
    path.write_text('[[-1, "intro"]]')
    with pytest.raises(UsageError, match="start must be >= 0"):
        read_timeline(str(path))
    path.write_text('[[true, "intro"]]')
    with pytest.raises(UsageError, match="start must be a number"):
        read_timeline(str(path))


# ---- input checks ----

def test_check_inputs_accepts_the_form_defaults():
    s = settings(timeline="0: a\n5: b", text="", window="", stride=0.5)
    assert s.model == "toy" and s.duration == 1.0 and s.seed == 7 and s.top_k == 250
    assert s.timeline == [(0.0, "a"), (5.0, "b")] and s.text is None
    assert s.window is None and s.stride == 0.5 and s.warnings == [
        "Timeline entries starting at 5 s begin after the end of the piece (1 s) and will "
        "not be heard."]
    with_both = settings(timeline="0: a")
    assert with_both.text is None and "description is ignored" in with_both.warnings[0]
    assert settings().text == "calm piano" and settings().timeline is None


def test_cfg_coefficient_empty_one_or_one_per_codebook():
    assert settings().cfg_coef is None  # the model's own
    assert settings(cfg_coef=4.5).cfg_coef == 4.5 and settings(cfg_coef="2").cfg_coef == 2.0
    assert settings(cfg_coef="3, 6,6 ,6").cfg_coef == [3.0, 6.0, 6.0, 6.0]
    assert settings(cfg_coef="3 6 6 6").cfg_coef == [3.0, 6.0, 6.0, 6.0]


def test_random_seed_is_drawn_and_reported():
    assert 0 <= settings(seed=-1).seed < 2**31
    assert 0 <= settings(seed=None).seed < 2**31
    assert len({settings(seed=-1).seed for _ in range(5)}) > 1
    assert app.parse_seed(3.0) == 3


@pytest.mark.parametrize("changes, message", [
    ({"model": "  "}, "Choose a model"),
    ({"duration": None}, "The duration is empty"),
    ({"duration": -2}, "more than 0 seconds, got -2"),
    ({"duration": 0}, "more than 0 seconds"),
    ({"duration": float("nan")}, "finite"),
    ({"duration": 10_000}, "over this app's limit of 600 s"),
    ({"duration": "ten"}, "must be a number"),
    ({"text": "x" * 3000}, "keep it under 2000"),
    ({"timeline": "0: a\nthen drums"}, "line 2"),
    ({"top_k": -1}, "Top-k must be a whole number >= 0"),
    ({"top_k": 2.5}, "Top-k must be a whole number"),
    ({"top_p": 1.5}, "Top-p must be between 0 and 1"),
    ({"temperature": -0.1}, "temperature must be >= 0"),
    ({"cfg_coef": -3}, "CFG coefficient must be >= 0"),
    ({"cfg_coef": "3, six"}, "Cannot read the guidance coefficient '3, six'"),
    ({"cfg_coef": "3,-6,6,6"}, "must be a number >= 0 or a list of them"),
    ({"seed": -7}, "seed must be between 0 and"),
    ({"seed": 1.5}, "whole number"),
    ({"window": -1}, "window must be > 0"),
    ({"stride": -1}, "stride must be > 0"),
    ({"melody_policy": "again"}, "melody policy must be one of"),
])
def test_check_inputs_says_what_to_fix(changes, message):
    with pytest.raises(app.AppError, match=message):
        settings(**changes)


def test_duration_limit_is_configurable():
    assert app.check_inputs(*form(duration=700)[:CHECKED], max_duration=800).duration == 700


def test_unreadable_audio_is_a_clear_error(tmp_path):
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF not really audio")
    with pytest.raises(app.AppError, match="Cannot read the melody file broken.wav") as info:
        app.read_audio_input(str(broken), "melody")
    # The user's terms: no server path, no advice meant for data-set manifests.
    assert str(tmp_path) not in str(info.value) and "manifest" not in str(info.value)
    notes = tmp_path / "notes.txt"
    notes.write_text("not music")
    with pytest.raises(app.AppError, match="notes.txt: it is not audio, or it is damaged. "
                                           "Upload a WAV"):
        app.read_audio_input(str(notes), "melody")
    with pytest.raises(app.AppError, match="was not found"):
        app.read_audio_input(str(tmp_path / "gone.wav"), "melody")
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0), 16000)
    with pytest.raises(app.AppError, match="holds no audio"):
        app.read_audio_input(str(empty), "audio prompt")


def test_chunks_are_clipped_int16_frames():
    wav = torch.tensor([[0.0, 0.5, -2.0, 1.0]])  # [C, T]
    out = app.to_int16(wav)
    assert out.dtype == np.int16 and out.shape == (4, 1)
    assert out[:, 0].tolist() == [0, 16384, -32767, 32767]


def test_argument_parser_defaults():
    args = app.build_parser().parse_args([])
    assert (args.listen, args.server_port, args.share, args.model, args.inbrowser) == (
        "127.0.0.1", 7860, False, "toy", False)
    args = app.build_parser().parse_args(["--listen", "0.0.0.0", "--server-port", "8000",
                                          "--share", "--model", "debug", "--inbrowser"])
    assert (args.listen, args.server_port, args.share, args.model, args.inbrowser) == (
        "0.0.0.0", 8000, True, "debug", True)
    with pytest.raises(SystemExit):
        app.main(["--server-port", "0"])
    with pytest.raises(SystemExit):
        app.main(["--threads", "0"])


def test_import_is_cheap():
    import subprocess
    code = "import sys, app; print('gradio' in sys.modules, 'torch' in sys.modules)"
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True,
                         text=True, timeout=60, check=True).stdout
    assert out.split() == ["False", "False"]


# ---- the generation logic, without a server ----

def test_model_cache_chooses_threads_like_the_cli():
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        app.ModelCache(device="cpu").get("debug")
        assert torch.get_num_threads() == 1  # a small LM: one thread, as the CLI picks
        torch.set_num_threads(2)
        app.ModelCache(device="cpu", threads=2).get("debug", "int8")
        assert torch.get_num_threads() == 2  # --threads given: left alone
    finally:
        torch.set_num_threads(before)


def test_model_cache_loads_once_and_reports_missing_models(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty_hf_home"))
    cache = app.ModelCache(device="cpu")
    assert cache.get("toy") is cache.get("toy")
    with pytest.raises(app.AppError, match="(?s)Could not load the model "
                                           "'facebook/musicgen-small'.*huggingface-cli download"):
        cache.get("facebook/musicgen-small")
    assert cache.get("toy") is not None


def test_streamed_long_form_chunks_make_the_file(tmp_path):
    studio = app.MusicGenApp(device="cpu", output_dir=tmp_path, stream=True)
    reported = []
    steps = list(studio.run(settings(duration=2, window=1), "s",
                            lambda done, desc: reported.append(done)))
    chunks = [step.chunk for step in steps if step.chunk is not None]
    assert len(chunks) >= 2  # one per window: the piece is longer than the window
    sample_rate = chunks[0][0]
    streamed = np.concatenate([data for _, data in chunks])  # [T, C] int16
    wav, sr = sf.read(steps[-1].path, always_2d=True)
    assert sr == sample_rate and wav.shape == streamed.shape == (2 * sr, wav.shape[1])
    # The file is the streamed audio, peak-normalised: same waveform up to a gain.
    corr = np.corrcoef(wav[:, 0], streamed[:, 0].astype(np.float64))[0, 1]
    assert corr > 0.99
    assert steps[-1].status.startswith("Done: 2.0 s") and "seed 7" in steps[-1].status
    assert Path(f"{steps[-1].path}.json").exists()  # the settings sidecar
    assert all(0 <= done <= 1 for done in reported)


def test_guidance_used_is_recorded(tmp_path):
    studio = app.MusicGenApp(device="cpu", output_dir=tmp_path)
    own = list(studio.run(settings(duration=1), "s"))[-1].path
    toy_guidance = studio.models.get("toy").lm.cfg_coef
    assert json.loads(Path(f"{own}.json").read_text())["cfg_coef"] == toy_guidance
    per_codebook = list(studio.run(settings(duration=1, cfg_coef="1,2,3,4"), "s"))[-1].path
    recorded = json.loads(Path(f"{per_codebook}.json").read_text())["cfg_coef"]
    assert recorded == [1.0, 2.0, 3.0, 4.0]


def test_stop_keeps_what_was_made(tmp_path):
    studio = app.MusicGenApp(device="cpu", output_dir=tmp_path)
    assert not studio.stop("s")  # nothing runs
    steps = []
    for step in studio.run(settings(duration=5, window=1), "s"):
        steps.append(step)
        if step.status.startswith("Generating") and not step.status.startswith(
                "Generating: 0.0 of"):  # a window is made
            assert studio.stop("s")
    wav, sr = sf.read(steps[-1].path)
    assert steps[-1].status.startswith("Stopped:")
    assert 0 < len(wav) < 5 * sr
    assert not studio.stop("s")  # the finished run is forgotten


def test_a_stop_inside_the_first_window_writes_what_the_engine_returns(tmp_path,
                                                                        monkeypatch):
    """The engine hands out the frames made before a stop inside a window as a last
    chunk, with ``interrupted`` set: the app writes, shows and records that piece."""
    from audiocraft.models.longform import AudioChunk
    from audiocraft.models.musicgen import MusicGen

    studio = app.MusicGenApp(device="cpu", output_dir=tmp_path, stream=True)
    samples = int(0.4 * studio.models.get("toy").sample_rate)

    class PartialStream:
        interrupted = False

        def __iter__(self):
            self.interrupted = True
            wav = 0.1 * torch.sin(torch.arange(samples) / 10.0)  # 0.4 s
            yield AudioChunk(wav[None, None], 0.0, 0, torch.zeros(1, 4, 20, dtype=torch.long))

    monkeypatch.setattr(MusicGen, "generate_stream", lambda self, **kwargs: PartialStream())
    steps = list(studio.run(settings(duration=10), "s", video=True))
    streamed = [step.chunk for step in steps if step.chunk is not None]
    assert len(streamed) == 1 and streamed[0][1].shape == (samples, 1)
    last = steps[-1]
    assert last.status.startswith("Stopped: 0.4 of 10 s made")
    assert sf.info(last.path).frames == samples and last.video.exists()
    assert last.metadata["interrupted"] is True and last.metadata["generated_seconds"] == 0.4


def test_bad_precision_is_refused(tmp_path):
    studio = app.MusicGenApp(device="cpu", output_dir=tmp_path)
    with pytest.raises(app.AppError, match="Choose a precision among float32, bfloat16"):
        list(studio.run(settings(), "s", precision="float8"))


def test_melody_needs_a_melody_model(tmp_path):
    tune = tmp_path / "tune.wav"
    sf.write(tune, np.zeros(16000), 16000)
    studio = app.MusicGenApp(device="cpu", output_dir=tmp_path)
    with pytest.raises(app.AppError,
                       match="cannot follow a melody.*remove the melody.*facebook/musicgen-melody"):
        list(studio.run(settings(model="debug", melody=str(tune)), "s"))


def test_unexpected_failure_is_reported_not_raised(tmp_path, monkeypatch):
    import audiocraft.data.audio as audio_module

    def full_disk(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(audio_module, "audio_write", full_disk)
    studio = app.MusicGenApp(device="cpu", output_dir=tmp_path)
    with pytest.raises(app.AppError, match=r"Generation failed \(OSError: No space left"):
        list(studio.run(settings(), "s"))
    assert not studio.stop("s")  # the failed run is forgotten


def test_empty_description_needs_unconditional():
    with pytest.raises(app.AppError, match="The description is empty.*tick 'Unconditional'"):
        app.require_description(settings(text="  "), unconditional=False)
    app.require_description(settings(text=""), unconditional=True)
    app.require_description(settings(text="", timeline="0: a"), unconditional=False)


def test_status_follows_the_phases(tmp_path):
    studio = app.MusicGenApp(device="cpu", output_dir=tmp_path)
    statuses = [step.status for step in studio.run(settings(duration=2, window=1), "s")]
    assert statuses[0] == "Loading the model 'toy'..."
    assert statuses[1] == "Generating: 0.0 of 2 s (window 1 of 3), seed 7..."
    made = [float(re.match(r"Generating: ([\d.]+) of 2 s \(window \d of 3\)", s)[1])
            for s in statuses[2:-2]]  # one per window, growing (codec latency aside)
    assert len(made) == 3 and 0 < made[0] < made[1] < made[2] == 2.0
    assert statuses[-2] == "Writing the WAV file..."
    assert statuses[-1].startswith("Done: 2.0 s")


@pytest.mark.parametrize("audio_format", ["flac", "mp3"])
def test_every_download_carries_its_settings(tmp_path, audio_format):
    import av
    studio = app.MusicGenApp(device="cpu", output_dir=tmp_path)
    last = list(studio.run(settings(duration=1), "s", audio_format=audio_format,
                           video=True))[-1]
    assert last.path.suffix == f".{audio_format}" and last.metadata["format"] == audio_format
    with sf.SoundFile(last.path) as written:
        assert written.title == "calm piano"
        assert json.loads(written.comment)["seed"] == 7
    with av.open(str(last.video)) as video:
        tags = json.loads(video.metadata["comment"])
        assert video.metadata["title"] == "calm piano"
        assert video.streams.video and video.streams.audio
    assert tags["seed"] == 7 and tags["model"] == "toy" and tags["top_k"] == 250
    with pytest.raises(app.AppError, match="Choose a file format among wav, flac"):
        list(studio.run(settings(), "s", audio_format="exe"))


def test_melody_box_hidden_for_models_without_melody(tmp_path):
    def melody_visible(demo) -> bool:
        melody, = [c for c in demo.config["components"]
                   if c["props"].get("elem_id") == "melody"]
        return bool(melody["props"]["visible"])

    studio = app.MusicGenApp(device="cpu", output_dir=tmp_path)
    assert not melody_visible(app.build_ui(studio))
    from tiny_hf_models import save_tiny_musicgen
    folder = tmp_path / "tiny-melody"
    save_tiny_musicgen(folder, melody=True)
    studio = app.MusicGenApp(default_model="tiny-melody", device="cpu", output_dir=tmp_path,
                             model_roots=[tmp_path])
    assert studio.can_follow_melody("tiny-melody")
    assert melody_visible(app.build_ui(studio))


def test_unknown_model_fails_at_startup(capsys, monkeypatch, tmp_path):
    with pytest.raises(SystemExit) as info:  # not a name the server allows
        app.main(["--model", "nosuch"])
    assert info.value.code == 2
    assert "--model: The model 'nosuch' is not available on this server" in \
        capsys.readouterr().err
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))  # an allowed name, weights absent
    with pytest.raises(SystemExit) as info:
        app.main(["--model", "facebook/musicgen-small"])
    assert info.value.code == 2
    assert "--model facebook/musicgen-small: Could not load the model" in \
        capsys.readouterr().err


# ---- the real server over HTTP ----

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def model_root(tmp_path_factory):
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def client(tmp_path_factory, model_root):
    torch.set_num_threads(1)
    output_dir = tmp_path_factory.mktemp("app_out")
    demo = app.build_ui(app.MusicGenApp(device="cpu", output_dir=output_dir, stream=False,
                                        model_roots=[model_root]))
    app.launch(demo, port=free_port(), prevent_thread_lock=True, quiet=True)
    try:
        yield Client(demo.local_url, verbose=False)
    finally:
        demo.close()


def generate(client: Client, **changes):
    return client.predict(*form(**changes), api_name="/generate")


def read(path: str) -> tuple[np.ndarray, int]:
    wav, sr = sf.read(path, always_2d=True)
    return wav, sr


def test_server_generates_the_requested_duration(client):
    audio, file, _, status = generate(client, duration=1)
    wav, sr = read(file)
    assert wav.shape[0] == sr  # 1 s
    assert np.array_equal(read(audio)[0], wav)
    assert status.startswith("Done: 1.0 s") and "seed 7" in status


def test_server_long_form_beyond_the_window(client):
    _, file, _, status = generate(client, duration=2, window=1, stride=0.5)
    wav, sr = read(file)
    assert wav.shape[0] == 2 * sr
    windows = re.search(r"\((\d+) windows of 1 s, stride 0.5 s\)", status)
    assert windows is not None and int(windows.group(1)) >= 3, status


def test_server_same_seed_same_audio(client):
    first = read(generate(client, seed=11, duration=1)[1])[0]
    again = read(generate(client, seed=11, duration=1)[1])[0]
    other = read(generate(client, seed=12, duration=1)[1])[0]
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_server_timeline_and_continuation(client, tmp_path):
    _, file, _, status = generate(client, text="", timeline="0: calm piano\n0.6: drums",
                               duration=1.2, window=1)
    wav, sr = read(file)
    assert wav.shape[0] == int(round(1.2 * sr)) and status.startswith("Done")
    prompt = tmp_path / "prompt.wav"
    sf.write(prompt, 0.1 * np.sin(np.arange(sr // 2) / 10), sr)
    _, file, _, _ = generate(client, prompt_audio=handle_file(str(prompt)), duration=1)
    assert read(file)[0].shape[0] == sr


def test_server_local_melody_model_follows_a_melody(client, tmp_path, model_root):
    from tiny_hf_models import save_tiny_musicgen
    save_tiny_musicgen(model_root / "tiny-melody", melody=True)  # a folder of a model root
    tune = tmp_path / "tune.wav"
    sf.write(tune, 0.3 * np.sin(2 * np.pi * 440 * np.arange(16000) / 16000), 16000)
    _, file, _, status = generate(client, model="tiny-melody", melody=handle_file(str(tune)),
                               duration=1)
    wav, sr = read(file)
    assert wav.shape[0] == sr and status.startswith("Done")
    with pytest.raises(ClientAppError, match="cannot follow a melody"):
        generate(client, melody=handle_file(str(tune)), model="debug")


@pytest.mark.parametrize("changes, message", [
    ({"timeline": "0: intro\ndrums later"}, "Timeline line 2"),
    ({"model": "no-such-model"}, "The model 'no-such-model' is not available on this server"),
    ({"duration": -1}, "The duration must be more than 0 seconds"),
    ({"duration": 0.5, "prompt_audio": "PROMPT"}, "is not shorter than the duration"),
    ({"prompt_audio": "BROKEN"}, "Cannot read the audio prompt file"),
    ({"window": 100}, "must be at most the model's"),
    ({"window": 1, "stride": 1}, "A stride of 0 and an empty CFG coefficient"),
    ({"cfg_coef": "3,6"}, "cfg_coef has 2 values but the model has 4 codebooks"),
    ({"window": 0.001}, "at least one frame"),
])
def test_server_bad_request_then_good_one(client, tmp_path, changes, message):
    (tmp_path / "broken.wav").write_bytes(b"RIFF not really audio")
    sf.write(tmp_path / "prompt.wav", np.zeros(16000), 16000)
    files = {"BROKEN": tmp_path / "broken.wav", "PROMPT": tmp_path / "prompt.wav"}
    changes = {k: handle_file(str(files[v])) if v in files else v for k, v in changes.items()}
    job = client.submit(*form(**changes), api_name="/generate")
    with pytest.raises(ClientAppError, match=message):
        job.result(timeout=60)
    assert job.outputs()[-1][3].startswith("Not generated: ")  # the status says why
    _, file, _, status = generate(client, duration=1)  # the server is still up
    assert read(file)[0].shape[0] > 0 and status.startswith("Done")


def test_server_stop_button_interrupts(client):
    assert client.predict(api_name="/stop") == "Nothing is being generated."
    job = client.submit(*form(duration=60, window=1), api_name="/generate")
    deadline = time.time() + 60
    while not any(re.match(r"Generating: [1-9]", str(out[3])) for out in job.outputs()):
        assert time.time() < deadline and not job.done(), "no progress reported"
        time.sleep(0.05)
    assert client.predict(api_name="/stop").startswith("Stopping")
    _, file, _, status = job.result(timeout=60)
    wav, sr = read(file)
    assert status.startswith("Stopped:")
    assert 0 < wav.shape[0] < 60 * sr


def test_server_endpoint_outputs_are_named(client):
    endpoint = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    generate_api = endpoint["/generate"]
    assert [r["label"] for r in generate_api["returns"]] == [
        "Output (plays while it is made)", "Download (the audio with its settings as tags)",
        "Waveform video (MP4, settings in its tags)", "Status"]
    names = [p["parameter_name"] for p in generate_api["parameters"]]
    assert names == list(FORM)
    # Every field is optional for an API client (the form's defaults; no uploads).
    assert all(p["parameter_has_default"] for p in generate_api["parameters"])
    _, file, _, status = client.predict(text="calm piano", duration=1, api_name="/generate")
    assert status.startswith("Done: 1.0 s") and read(file)[0].shape[0] > 0
    assert set(endpoint) == {"/generate", "/stop"}  # the UI's own events stay private


def test_server_refused_request_is_one_log_line(client, caplog, capfd):
    caplog.set_level("INFO", logger="audiocraft.app")
    with pytest.raises(ClientAppError, match="The description is empty"):
        generate(client, text="")
    refused = [r.getMessage() for r in caplog.records if r.name == "audiocraft.app"]
    assert refused == ["request not generated: The description is empty: describe the "
                       "music (e.g. 'calm piano'), write a timeline, or tick "
                       "'Unconditional' to generate without one."]
    assert "Traceback" not in capfd.readouterr().err
    _, file, _, status = generate(client, text="", unconditional=True)
    assert read(file)[0].shape[0] > 0 and status.startswith("Done")
