"""A hostile client against the real app on 127.0.0.1 (toy model, small limits): model
names outside the allow-list, interpolations, uploads named as models, server paths sent
as files, oversized and overlong uploads, bad values of every form field, many requests
at once. Each is refused (or queued) with a message; no message carries a server path,
an environment value or a file's contents; the server answers afterwards. Bounded: a
few dozen requests, each ending in seconds."""

from __future__ import annotations

import json
import os
import socket
import sys
import time
import uuid
from pathlib import Path

import httpx
import numpy as np
import pytest
import soundfile as sf
import torch
from gradio_client import Client
from omegaconf import OmegaConf

from audiocraft.models import builders, loaders

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import app  # noqa: E402  (the top-level app.py)

pytestmark = [  # gradio's queue under pandas 3; not ours
    pytest.mark.filterwarnings("ignore:'future.no_silent_downcasting' is deprecated"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
    pytest.mark.timeout(300),
]

SECRET_VAR, SECRET = "AUDIOCRAFT_HOSTILE_SECRET", "hostile-s3cr3t-4711"
CONTENT = "private-file-content-0815"  # a file's first line, in no environment variable
MAX_SECONDS = 5.0  # the server's --max-duration
MAX_UPLOAD_MB = 2.0  # the server's --max-upload-mb
QUEUE_SIZE = 2
SENT = {"requests": 0}  # what this module sends, for the closing figure
FIELDS = ["model", "text", "timeline", "melody", "prompt_audio", "duration", "top_k",
          "top_p", "temperature", "cfg_coef", "seed", "window", "stride", "melody_policy",
          "precision", "unconditional", "audio_format", "video"]
FORM = {"model": "toy", "text": "calm piano", "timeline": "", "melody": None,
        "prompt_audio": None, "duration": 0.5, "top_k": 250, "top_p": 0.0,
        "temperature": 1.0, "cfg_coef": "", "seed": 7, "window": 0, "stride": 0,
        "melody_policy": "loop", "precision": "float32", "unconditional": False,
        "audio_format": "wav", "video": False}


def form(**changes):
    values = {**FORM, **changes}
    return [values[name] for name in FIELDS]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def hub_folder(folder: Path, **lm_changes) -> Path:
    """A debug model in hub format whose LM config has ``lm_changes`` (dotted keys)."""
    cfg = OmegaConf.create(builders.DEBUG_LM_CFG)
    for key, value in lm_changes.items():
        OmegaConf.update(cfg, key, value)
    loaders.export_lm(builders.get_debug_lm_model(), cfg, folder)
    loaders.export_compression(builders.get_debug_compression_model(), folder)
    return folder


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    torch.set_num_threads(1)
    os.environ[SECRET_VAR] = SECRET
    root = tmp_path_factory.mktemp("model_root")
    hub_folder(root / "env-config", **{"transformer_lm.dim": f"${{oc.env:{SECRET_VAR}}}"})
    hub_folder(root / "huge", **{"transformer_lm.dim": 2**20})
    (root / "text-file").mkdir()
    (root / "text-file" / "state_dict.bin").write_text(f"{CONTENT} first line\n")
    studio = app.MusicGenApp(device="cpu", output_dir=tmp_path_factory.mktemp("out"),
                             max_duration=MAX_SECONDS, model_roots=[root],
                             max_upload_mb=MAX_UPLOAD_MB)
    demo = app.build_ui(studio)
    app.launch(demo, port=free_port(), queue_size=QUEUE_SIZE, max_upload_mb=MAX_UPLOAD_MB,
               prevent_thread_lock=True, quiet=True)
    dependencies = httpx.get(demo.local_url + "config").json()["dependencies"]
    fn_index = next(i for i, d in enumerate(dependencies) if d.get("api_name") == "generate")
    try:
        yield {"url": demo.local_url, "client": Client(demo.local_url, verbose=False),
               "root": root, "cache": demo.GRADIO_CACHE, "fn_index": fn_index}
    finally:
        demo.close()
        del os.environ[SECRET_VAR]


def leaks(text: str, server) -> list[str]:
    """The secrets ``text`` shows: the environment value, server paths, file contents."""
    hostname = Path("/etc/hostname").read_text().strip() if Path("/etc/hostname").exists() \
        else "\0"
    found = [s for s in (SECRET, CONTENT, str(server["root"]), os.getcwd(), str(Path.home()),
                         server["cache"], "root:x:0:0") if s and s in text]
    if len(hostname) >= 6 and hostname in text:
        found.append("hostname")
    return found


def raw_generate(server, values: list) -> tuple[bool, str, str]:
    """Call /generate over plain HTTP, as any client can (no gradio_client processing of
    files or numbers): ``(success, error message, everything the server sent)``."""
    SENT["requests"] += 1
    url, session = server["url"], uuid.uuid4().hex[:12]
    body = {"data": [*values, None], "fn_index": server["fn_index"], "session_hash": session,
            "event_data": None, "trigger_id": None}
    joined = httpx.post(url + "gradio_api/queue/join", timeout=30,
                        content=json.dumps(body, allow_nan=True),
                        headers={"content-type": "application/json"})
    if joined.status_code != 200:
        return False, joined.text, joined.text
    transcript = []
    with httpx.stream("GET", url + f"gradio_api/queue/data?session_hash={session}",
                      timeout=60) as stream:
        for line in stream.iter_lines():
            if not line.startswith("data:"):
                continue
            transcript.append(line)
            message = json.loads(line[5:])
            if message.get("msg") == "process_completed":
                output = message.get("output") or {}
                return bool(message.get("success")), str(output.get("error") or ""), \
                    "\n".join(transcript)
    return False, "", "\n".join(transcript)


def refused(server, **changes) -> str:
    """Send the form over HTTP and return the error message (failing if it generated, or
    if anything the server sent shows a secret)."""
    success, message, transcript = raw_generate(server, form(**changes))
    assert not success, transcript[-500:]
    assert not leaks(transcript, server), (leaks(transcript, server), transcript[-2000:])
    return message


def upload(server, name: str, data: bytes) -> httpx.Response:
    SENT["requests"] += 1
    return httpx.post(server["url"].rstrip("/") + "/gradio_api/upload",
                      files=[("files", (name, data))], timeout=30)


def uploaded(server, path: Path) -> dict:
    """Upload ``path`` as a browser does; the file data to send for it."""
    response = upload(server, path.name, path.read_bytes())
    assert response.status_code == 200, response.text
    return {"path": response.json()[0], "meta": {"_type": "gradio.FileData"}}


def server_is_up(server) -> None:
    _, file, _, status = server["client"].predict(*form(duration=0.5), api_name="/generate")
    assert status.startswith("Done") and sf.info(file).frames > 0


# ---- model names ----

@pytest.mark.parametrize("name", [
    "/etc/passwd", "../../etc", "~/.ssh", "toy/../..", "env-config/../../..",
    "facebook/musicgen-nonexistent", "${oc.env:AUDIOCRAFT_HOSTILE_SECRET}",
    "$AUDIOCRAFT_HOSTILE_SECRET", "C:\\Windows\\system32", "http://127.0.0.1:1/model",
    "file:///etc/passwd", "x" * 5000, "text-file/state_dict.bin",
])
def test_model_names_outside_the_allow_list_are_refused(server, name):
    assert "is not available on this server" in refused(server, model=name)


def test_uploads_named_as_models_are_refused(server, tmp_path):
    hub = hub_folder(tmp_path / "hub", **{"transformer_lm.dim": f"${{oc.env:{SECRET_VAR}}}"})
    for file in ("state_dict.bin", "compression_state_dict.bin"):
        response = upload(server, file, (hub / file).read_bytes())
        assert response.status_code == 200, response.text
        (path,) = response.json()  # the server path gradio hands back
        for name in (path, str(Path(path).parent)):
            assert "is not available on this server" in refused(server, model=name)
    text = upload(server, "notes.txt", f"{CONTENT}\n".encode()).json()[0]
    assert "is not available" in refused(server, model=text)


def test_root_models_with_interpolations_or_huge_configs_fail_cleanly(server):
    message = refused(server, model="env-config")  # dim: ${oc.env:...} stays text
    assert "transformer_lm.dim must be a whole number" in message
    assert "over the cap of 4e+09" in refused(server, model="huge")
    assert "Could not load the model" in refused(server, model="text-file")


# ---- files ----

def test_server_paths_sent_as_files_are_refused(server):
    """gradio refuses file data outside its upload folder (a bare "Error"); a plain path
    string reaches the app, whose own check refuses it."""
    paths = ["/etc/passwd", "/etc/hostname", str(server["root"] / "huge" / "state_dict.bin"),
             server["cache"]]
    for path in paths:
        for field in ("melody", "prompt_audio"):
            for payload in ({"path": path, "meta": {"_type": "gradio.FileData"}},
                            {"path": path}):
                refused(server, **{field: payload})
    refused(server, prompt_audio=str(server["root"] / "huge" / "state_dict.bin"))
    studio_check = app.check_inputs(*form(prompt_audio=None)[:14])  # the app-level check
    assert studio_check.prompt_audio is None
    with pytest.raises(app.AppError, match="must be a file uploaded to this app"):
        app.check_inputs(*form(prompt_audio="/etc/passwd")[:14], upload_dirs=[server["cache"]])


def test_oversized_and_overlong_uploads_are_refused(server, tmp_path):
    noise = (0.1 * np.random.default_rng(0).standard_normal(600_000)).astype(np.float32)
    big = tmp_path / "big.wav"
    sf.write(big, noise, 16000, subtype="FLOAT")  # 2.4 MB > 2 MB
    response = upload(server, "big.wav", big.read_bytes())
    assert response.status_code == 413 and "maximum allowed size" in response.text
    long_silence = tmp_path / "long.flac"  # 10 minutes of silence: a few KB
    sf.write(long_silence, np.zeros(600 * 8000, dtype=np.float32), 8000)
    assert long_silence.stat().st_size < 200_000
    message = refused(server, duration=5, prompt_audio=uploaded(server, long_silence))
    assert "longer than this app's limit of 5 s" in message
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(CONTENT.encode() * 10)
    message = refused(server, prompt_audio=uploaded(server, garbage))
    assert "Cannot read the audio prompt file garbage.wav" in message


# ---- values ----

NAN, INF = float("nan"), float("inf")


# "": gradio itself refuses the value (its type checks of whole-number fields, files and
# dropdowns) with a bare "Error"; the app's checks of the same values are in test_app.py.
@pytest.mark.parametrize("changes, message", [
    ({"model": ""}, "Choose a model"), ({"model": 42}, "is not available"),
    ({"text": "x" * 3000}, "keep it under 2000"),
    ({"timeline": "0: a\nlater: b"}, "line 2"),
    ({"timeline": "nan: a"}, "line 1"), ({"timeline": "x" * 30000}, "keep it under 20000"),
    ({"melody": 5}, ""),  # gradio's own refusal (a bare "Error")
    ({"prompt_audio": "/etc/passwd"}, ""),  # gradio's own refusal
    ({"duration": NAN}, "finite"), ({"duration": INF}, "finite"), ({"duration": "inf"}, "finite"),
    ({"duration": -1}, "more than 0"), ({"duration": 1e12}, "over this app's limit"),
    ({"duration": "ten"}, "must be a number"),
    ({"top_k": NAN}, ""), ({"top_k": -5}, "whole number >= 0"), ({"top_k": "x"}, ""),
    ({"top_p": NAN}, "finite"), ({"top_p": 2}, "between 0 and 1"), ({"top_p": -INF}, "finite"),
    ({"temperature": INF}, "finite"), ({"temperature": -1}, ">= 0"),
    ({"cfg_coef": "nan"}, "number >= 0"), ({"cfg_coef": f"${{oc.env:{SECRET_VAR}}}"},
                                            "Cannot read the guidance coefficient"),
    ({"cfg_coef": "1e400"}, "number >= 0"), ({"cfg_coef": "3,6"}, "4 codebooks"),
    ({"seed": NAN}, ""), ({"seed": 2**70}, "between 0 and"), ({"seed": -2}, "between 0"),
    ({"window": NAN}, "finite"), ({"window": -1}, "window must be > 0"),
    ({"window": 100}, "must be at most the model's"), ({"window": 1e-3}, "at least one frame"),
    ({"stride": INF}, "finite"), ({"stride": -2}, "stride must be > 0"),
    ({"melody_policy": "../../etc"}, "not in the list of choices"),  # gradio's dropdown
    ({"precision": "float64"}, "not in the list of choices"),
])
def test_every_form_value_is_checked_over_http(server, changes, message):
    got = refused(server, **changes)
    assert message in got, got


def test_interpolations_in_the_description_are_plain_text(server):
    text = f"${{oc.env:{SECRET_VAR}}} and $HOME"
    _, file, _, status = server["client"].predict(*form(text=text), api_name="/generate")
    settings = Path(f"{file}.json").read_text() if Path(f"{file}.json").exists() else ""
    assert status.startswith("Done") and SECRET not in status + settings
    assert json.loads(settings)["prompt"] == text if settings else True


# ---- load ----

def test_many_concurrent_requests_are_queued_or_refused(server):
    client = server["client"]
    count = 12
    started = time.monotonic()
    SENT["requests"] += count
    jobs = [client.submit(*form(duration=0.5, seed=i), api_name="/generate")
            for i in range(count)]
    done, refused_full, other = 0, 0, []
    for job in jobs:
        try:
            _, file, _, status = job.result(timeout=120)
            assert status.startswith("Done")
            done += 1
        except Exception as err:  # noqa: BLE001  (we count what each request got)
            text = str(err)
            assert not leaks(text, server), text
            if "queue is full" in text.lower():
                refused_full += 1
            else:
                other.append(text)
    elapsed = time.monotonic() - started
    print(f"{count} concurrent requests: {done} generated, {refused_full} refused "
          f"(queue full), in {elapsed:.1f} s")
    assert other == [] and done + refused_full == count
    assert done >= 1 and refused_full >= 1  # the queue bounded the work
    server_is_up(server)


def test_the_server_still_answers(server):
    server_is_up(server)
    assert server["client"].predict(api_name="/stop") == "Nothing is being generated."
    print(f"hostile client: {SENT['requests']} requests and uploads sent")
