"""The Gradio app in a real browser: Debian's chromium driven by playwright.

The app runs in this process on 127.0.0.1 with the shipped ``toy`` model; the browser
enters a prompt, generates, checks the streamed audio, the download, the video and the
history, reuses a generation's settings, stops a long generation and checks the partial
file, and tries bad inputs. Screenshots go to ``test-artifacts/browser/`` (gitignored).

The browser is the system's ``chromium`` (``apt-get install chromium``) driven by the
PyPI ``playwright`` package (the dev extra); playwright's own browser download is never
used. Without them the tests fail when ``CI`` is set (``.ci/run`` installs both) and
are skipped with the reason otherwise.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
import torch

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts" / "browser"
sys.path.insert(0, str(ROOT))
import app  # noqa: E402  (the top-level app.py)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:'future.no_silent_downcasting' is deprecated"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]

TIMEOUT_MS = 60_000  # for one generation to finish (a few seconds here)


def _browser_or_reason() -> tuple[Any, str | None]:
    """playwright's ``sync_playwright`` and the chromium path, or why they are missing."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None, "the playwright package is missing (pip install -e '.[dev]')"
    if shutil.which("chromium") is None:
        return None, "the chromium browser is missing (apt-get install -y chromium)"
    return sync_playwright, None


def test_a_missing_browser_is_named(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    found, reason = _browser_or_reason()
    assert found is None and reason is not None
    assert "apt-get install -y chromium" in reason or "pip install" in reason


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def model_root(tmp_path_factory) -> Path:
    """The server's model root: the page may name the model folders in it."""
    return tmp_path_factory.mktemp("browser_models")


@pytest.fixture(scope="module")
def server(tmp_path_factory, model_root) -> Iterator[tuple[str, Path]]:
    torch.set_num_threads(1)
    output_dir = tmp_path_factory.mktemp("browser_out")
    studio = app.MusicGenApp(device="cpu", output_dir=output_dir, stream=True,
                             model_roots=[model_root])
    demo = app.build_ui(studio)
    app.launch(demo, port=free_port(), prevent_thread_lock=True, quiet=True)
    try:
        yield demo.local_url, output_dir
    finally:
        demo.close()


@pytest.fixture(scope="module")
def page(server) -> Iterator[Any]:
    sync_playwright, reason = _browser_or_reason()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"The browser test cannot run in CI: {reason}.")
        pytest.skip(f"{reason}; CI installs it (set CI=1 to make this a failure)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"))
        tab = browser.new_page(viewport={"width": 1400, "height": 1100})
        tab.set_default_timeout(TIMEOUT_MS)
        tab.goto(server[0])
        tab.locator("#generate").wait_for()
        try:
            yield tab
        finally:
            browser.close()


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def fill(page: Any, elem_id: str, value: Any) -> None:
    page.locator(f"#{elem_id} textarea, #{elem_id} input").first.fill(str(value))


def open_settings(page: Any) -> None:
    if not page.locator("#seed").is_visible():
        page.get_by_text("Sampling and output").click()
        page.locator("#seed").wait_for()


def status(page: Any) -> str:
    return str(page.locator("#status").inner_text())


def wait_status(page: Any, pattern: str) -> str:
    page.wait_for_function(
        "re => new RegExp(re).test(document.querySelector('#status').innerText)", arg=pattern)
    return status(page)


def media(page: Any, elem_id: str) -> dict[str, Any]:
    """The ``<audio>``/``<video>`` element under ``#elem_id``: source, duration, ready."""
    return page.evaluate("""id => {
        const el = document.querySelector(`#${id} audio, #${id} video`);
        return el ? {src: el.currentSrc || el.src, duration: el.duration,
                     ready: el.readyState, error: el.error && el.error.code} : null;
    }""", elem_id)


def history_text(page: Any, text: str) -> str:
    """The history table's text (a cell per line, newest row first) once it contains
    ``text``."""
    page.wait_for_function("text => document.querySelector('#history').innerText"
                           ".includes(text)", arg=text)
    return str(page.locator("#history").inner_text())


def upload(page: Any, box: str, path: Path, tries: int = 3) -> None:
    """Drop ``path`` into the file box ``#box`` and wait until the box shows its name. A
    page busy re-rendering (a status update just landed) can drop the file input's
    change: the file is given again, up to ``tries`` times."""
    for attempt in range(tries):
        page.locator(f"#{box} input[type=file]").set_input_files(str(path))
        try:
            page.locator(f"#{box}").get_by_text(path.name).wait_for(timeout=TIMEOUT_MS / tries)
            return
        except Exception:  # noqa: BLE001  (playwright's TimeoutError: give it again)
            if attempt == tries - 1:
                raise


def files(folder: Path, suffix: str) -> set[Path]:
    return set(folder.glob(f"*{suffix}"))


def test_generate_streams_and_records_the_history(page, server):
    output_dir = server[1]
    assert not page.locator("#melody").is_visible()  # toy cannot follow a melody
    fill(page, "description", "calm piano")
    fill(page, "duration", 3)
    open_settings(page)
    fill(page, "seed", 7)
    page.locator("#generate").click()
    page.wait_for_timeout(300)
    shot(page, "01-generating")
    done = wait_status(page, "^Done: 3.0 s")
    assert "seed 7" in done
    page.wait_for_function("() => { const a = document.querySelector('#output-audio audio');"
                           " return a && a.duration > 0 && isFinite(a.duration); }")
    audio = media(page, "output-audio")
    assert audio["src"] and audio["error"] is None and audio["duration"] > 2.5
    page.wait_for_function("() => { const v = document.querySelector('#video video');"
                           " return v && v.readyState >= 1; }")
    video = media(page, "video")
    assert video["error"] is None and abs(video["duration"] - 3) < 0.2
    wavs = files(output_dir, ".wav")
    assert len(wavs) == 1
    wav_name = next(iter(wavs)).name
    shown = page.locator("#download").inner_text().replace("\n", "")  # name, size, link
    assert wav_name in shown, shown
    with sf.SoundFile(next(iter(wavs))) as written:
        assert written.frames == 3 * written.samplerate
        assert '"seed": 7' in written.comment and written.title == "calm piano"
    table = history_text(page, "calm piano")
    assert "\ntoy\n3 s\n3.0 s\n7\n250\n" in table, table
    shot(page, "02-generated")


def test_reuse_puts_a_generation_back_in_the_form(page):
    fill(page, "description", "something else")
    fill(page, "seed", 123)
    page.locator("#reuse").click()
    page.wait_for_function(
        "() => document.querySelector('#description textarea').value === 'calm piano'")
    assert page.locator("#seed input").input_value() == "7"
    assert page.locator("#duration input").input_value() == "3"
    # The chosen generation's files can be downloaded again.
    page.wait_for_function("() => /calm-piano_7_.*\\.wav/.test("
                           "document.querySelector('#history-files').innerText"
                           ".replace(/\\n/g, ''))")
    shot(page, "03-reused")


def test_stop_keeps_the_partial_piece(page, server):
    output_dir = server[1]
    before = files(output_dir, ".wav")
    fill(page, "description", "a long piece to interrupt")
    fill(page, "duration", 120)
    fill(page, "window", 1)
    page.locator("#generate").click()
    wait_status(page, r"^Generating: [1-9][\d.]* of 120 s")
    # Streaming: the player has its source while the piece is still being made.
    page.wait_for_function("() => { const a = document.querySelector('#output-audio audio');"
                           " return a && (a.currentSrc || a.src); }")
    # One progress bar (on the download box), which names the phase.
    page.wait_for_function("() => [...document.querySelectorAll('.progress-level')]"
                           ".some(e => e.innerText.startsWith('Generating: '))")
    counts = page.evaluate("""async () => {
        const counts = [];  // progress bars on the page, every 50 ms for a second
        for (let i = 0; i < 20; i++) {
            counts.push(document.querySelectorAll('.progress-bar').length);
            await new Promise(done => setTimeout(done, 50));
        }
        return counts;
    }""")
    assert max(counts) == 1, counts
    assert status(page).startswith("Generating")
    shot(page, "04-streaming-with-progress")
    page.locator("#stop").click()
    stopped = wait_status(page, "^Stopped: ")
    page.wait_for_function("() => { const a = document.querySelector('#output-audio audio');"
                           " return a && a.duration > 0 && isFinite(a.duration); }")
    shot(page, "05-stopped")
    made = float(re.match(r"Stopped: ([\d.]+) of 120 s", stopped).group(1))  # type: ignore
    new = files(output_dir, ".wav") - before
    assert len(new) == 1
    wav, sr = sf.read(next(iter(new)))
    assert 0 < len(wav) < 120 * sr and abs(len(wav) / sr - made) < 0.1
    sidecar = json.loads(Path(f"{next(iter(new))}.json").read_text())
    assert sidecar["interrupted"] is True
    assert f"{made:.1f} s (stopped)" in history_text(page, "a long piece to interrupt")
    fill(page, "window", 0)


def test_bad_inputs_give_messages(page, server, tmp_path):
    output_dir = server[1]
    before = files(output_dir, ".wav")
    fill(page, "duration", 2)
    fill(page, "description", "")
    page.locator("#generate").click()
    message = wait_status(page, "^Not generated: The description is empty")
    assert "Unconditional" in message
    shot(page, "06-empty-description")

    notes = tmp_path / "notes.txt"
    notes.write_text("not music")
    fill(page, "description", "calm piano")
    upload(page, "prompt-audio", notes)
    page.locator("#generate").click()
    message = wait_status(page, "^Not generated: Cannot read the audio prompt")
    assert "Cannot read the audio prompt file notes.txt: it is not audio" in message
    assert "/tmp" not in message and "manifest" not in message
    shot(page, "07-text-file-as-audio")
    page.locator("#prompt-audio button[aria-label='Clear']").click()

    fill(page, "duration", -1)
    page.locator("#generate").click()
    wait_status(page, "^Not generated: The duration must be more than 0 seconds")
    assert files(output_dir, ".wav") == before  # nothing was generated
    shot(page, "08-negative-duration")


def test_melody_box_follows_the_model(page, tmp_path, model_root):
    from tiny_hf_models import save_tiny_musicgen
    save_tiny_musicgen(model_root / "tiny-melody", melody=True)
    tune = tmp_path / "tune.wav"
    sf.write(tune, 0.3 * np.sin(2 * np.pi * 440 * np.arange(16000) / 16000), 16000)
    assert not page.locator("#melody").is_visible()
    model = page.locator("#model input")
    model.fill("tiny-melody")  # a folder of the server's model root, by name
    model.press("Enter")
    page.locator("#melody").wait_for(state="visible")
    wait_status(page, "can follow a melody")
    # A text file dropped as melody reaches the server, which refuses it: the piece is
    # not made without the melody the user meant to give.
    notes = tmp_path / "notes.txt"
    notes.write_text("not music")
    fill(page, "duration", 1)
    upload(page, "melody", notes)
    page.locator("#generate").click()
    message = wait_status(page, "^Not generated: Cannot read the melody file notes.txt")
    assert "it is not audio" in message and str(tmp_path) not in message
    shot(page, "09-melody-model-text-file")
    page.locator("#melody button[aria-label='Clear']").click()
    upload(page, "melody", tune)
    page.locator("#generate").click()
    wait_status(page, "^Done: 1.0 s")
    model.fill("toy")
    model.press("Enter")
    page.locator("#melody").wait_for(state="hidden")
