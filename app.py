"""The Gradio app: MusicGen of any length in the browser.

    python app.py [--model toy] [--listen 127.0.0.1] [--server-port 7860] [--share]
                  [--inbrowser] [--threads N]

It uses only the public API (``MusicGen.get_pretrained``, ``set_generation_params``,
``generate_stream``, ``audio_read``/``audio_write``). The shipped ``toy`` model is the
default, so it works offline. Importing this module loads neither gradio nor a model:
``build_ui()`` makes the Blocks, ``MusicGenApp`` holds the logic (tested without a
browser). Inputs a user can get wrong raise ``AppError`` with a message saying what to
do; the UI shows it and the server keeps running.
"""

import argparse
import logging
import random
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

# Checking and parsing the form's values lives beside this file (app_inputs.py); these
# names stay importable from here (``app.check_inputs``, ``app.AppError``, ...).
from app_inputs import (  # noqa: F401  (re-exported for app.* users)
    MAX_DURATION,
    AppError,
    GenerationSettings,
    Step,
    _slug,
    check_inputs,
    parse_seed,
    read_audio_input,
    to_int16,
)

logger = logging.getLogger("audiocraft.app")

DEFAULT_MODEL = "toy"
MODEL_CHOICES = ["toy", "toy-melody", "debug", "facebook/musicgen-small",
                 "facebook/musicgen-medium", "facebook/musicgen-large", "facebook/musicgen-melody"]
PRECISIONS = ["float32", "bfloat16", "float16", "int8"]  # audiocraft.models.precision
PROGRESS_INTERVAL = 0.25  # seconds between progress bar updates


# ---- models ----

class ModelCache:
    """The last loaded model, kept between requests (one at a time bounds memory)."""

    def __init__(self, device: str | None = None):
        self.device = device
        self._lock = threading.Lock()
        self._name: tuple[str, str] | None = None
        self._model: Any = None

    def get(self, name: str, precision: str = "float32") -> Any:
        """The ``MusicGen`` model called ``name`` in ``precision``, loaded once; an
        ``AppError`` that says what went wrong (missing weights, no network, a bad
        checkpoint, a precision the device lacks) otherwise."""
        with self._lock:
            if self._name == (name, precision) and self._model is not None:
                return self._model
            from audiocraft.models.musicgen import MusicGen
            try:
                model = MusicGen.get_pretrained(name, device=self.device, precision=precision)
            except (FileNotFoundError, ValueError, OSError, RuntimeError, KeyError) as err:
                raise AppError(f"Could not load the model '{name}': {err}") from err
            self._name, self._model = (name, precision), model
            return model


def supports_melody(model: Any) -> bool:
    """Whether ``model`` has a chroma (melody) conditioner."""
    provider = getattr(model.lm, "condition_provider", None)
    return "self_wav" in getattr(provider, "conditioners", {})


# ---- the app ----

class MusicGenApp:
    """Generation behind the UI: checks a request, loads (and caches) the model, streams
    the piece window by window, writes it with ``audio_write``. ``stop(session)`` ends
    that session's generation after the current step, keeping what was made.

    Args:
        default_model: the model the form starts with.
        device: cpu or cuda (None: cuda if available).
        max_duration: the longest piece one request may ask for, in seconds.
        output_dir: where generated files go (a new temporary folder if None).
        stream: hand out each window's audio as it is made (``Step.chunk``).
    """

    def __init__(self, default_model: str = DEFAULT_MODEL, device: str | None = None,
                 max_duration: float = MAX_DURATION, output_dir: str | Path | None = None,
                 stream: bool = False):
        self.default_model = default_model
        self.max_duration = float(max_duration)
        self.output_dir = Path(output_dir or tempfile.mkdtemp(prefix="audiocraft-app-"))
        self.stream = stream
        self.models = ModelCache(device)
        self._stops: dict[str, threading.Event] = {}
        self._stops_lock = threading.Lock()
        # The model's layers keep streaming state: one generation at a time.
        self._generation_lock = threading.Lock()

    def stop(self, session: str) -> bool:
        """Stop ``session``'s generation after its current step; False if none runs."""
        with self._stops_lock:
            event = self._stops.get(session)
        if event is None:
            return False
        event.set()
        return True

    def run(self, settings: GenerationSettings, session: str = "local",
            progress: Callable[[float, str], Any] | None = None,
            precision: str = "float32") -> Iterator[Step]:
        """Generate ``settings``: a status step, one step per finished window (with its
        chunk when streaming), then a last step with the written file. ``precision``:
        the LM's (``PRECISIONS``; float32 is exact, the others faster)."""
        stop = threading.Event()
        with self._stops_lock:
            self._stops[session] = stop
        try:
            yield Step(f"Loading {settings.model}...")
            with self._generation_lock:
                yield from self._run(settings, stop, progress, precision)
        except AppError:
            raise
        except Exception as err:  # the server stays up; the log has the traceback
            logger.exception("generation failed")
            raise AppError(f"Generation failed ({type(err).__name__}: {err}). Check the "
                           "settings and try again.") from err
        finally:
            stop.set()  # a dropped request (closed tab) ends its generation too
            with self._stops_lock:
                if self._stops.get(session) is stop:
                    del self._stops[session]

    def _prepare(self, settings: GenerationSettings,
                 precision: str = "float32") -> tuple[Any, dict[str, Any]]:
        from audiocraft.models.musicgen import MusicGen
        base = self.models.get(settings.model, precision)
        window = settings.window or base.max_duration
        if window > base.max_duration:
            raise AppError(f"The window ({window:g} s) must be at most the model's "
                           f"{base.max_duration:g} s: set it to 0 for the model's own.")
        # A per-request view of the cached weights: settings never leak between requests.
        model = MusicGen(base.name, base.compression_model, base.lm, max_duration=window)
        try:
            model.set_generation_params(
                top_k=settings.top_k, top_p=settings.top_p, temperature=settings.temperature,
                cfg_coef=settings.cfg_coef, duration=settings.duration,
                extend_stride=settings.stride, melody_policy=settings.melody_policy)  # type: ignore[arg-type]
        except ValueError as err:
            raise AppError(f"{err} (A stride of 0 and an empty CFG coefficient give the "
                           "model's defaults.)") from err
        inputs: dict[str, Any] = {"seed": settings.seed}
        if settings.timeline is not None:
            inputs["timelines"] = [settings.timeline]
        else:
            inputs["descriptions"] = [settings.text]
        if settings.melody is not None:
            if not supports_melody(model):
                raise AppError(f"The model '{settings.model}' cannot follow a melody (it has "
                               "no chroma conditioner): remove the melody, or choose a melody "
                               "model: toy-melody (shipped) or facebook/musicgen-melody.")
            melody, melody_sr = read_audio_input(settings.melody, "melody")
            inputs.update(melody_wavs=[melody], melody_sample_rate=melody_sr)
        if settings.prompt_audio is not None:
            prompt, prompt_sr = read_audio_input(settings.prompt_audio, "audio prompt")
            prompt_seconds = prompt.shape[-1] / prompt_sr
            if prompt_seconds >= settings.duration:
                raise AppError(f"The audio prompt ({prompt_seconds:.1f} s) is not shorter than "
                               f"the duration ({settings.duration:g} s): the piece includes "
                               "the prompt, so ask for a longer duration.")
            inputs.update(prompt=prompt[None], prompt_sample_rate=prompt_sr)
        return model, inputs

    def _run(self, settings: GenerationSettings, stop: threading.Event,
             progress: Callable[[float, str], Any] | None,
             precision: str = "float32") -> Iterator[Step]:
        from audiocraft import __version__
        from audiocraft.data.audio import audio_write
        model, inputs = self._prepare(settings, precision)
        prompt_seconds = (inputs["prompt"].shape[-1] / inputs["prompt_sample_rate"]
                          if "prompt" in inputs else 0.0)
        try:
            windows = len(model.window_plan(prompt_seconds))
        except ValueError as err:
            raise AppError(f"{err} Set the window and stride to 0 for the model's own.") from err
        total, sr = settings.duration, model.sample_rate
        last_report = [0.0]

        def report(made: int, wanted: int) -> None:
            now = time.monotonic()
            if progress is not None and now - last_report[0] >= PROGRESS_INTERVAL:
                last_report[0] = now
                progress(made / max(wanted, 1),
                         f"{made / model.frame_rate:.1f} of {wanted / model.frame_rate:.1f} s")

        model.set_custom_progress_callback(report)
        started = time.time()
        try:
            stream = model.generate_stream(stop=stop, **inputs)
        except ValueError as err:
            raise AppError(str(err)) from err
        chunks = []
        made = 0.0
        for chunk in stream:
            wav = chunk.wav[0].cpu()  # [C, n]
            chunks.append(wav)
            made += wav.shape[-1] / sr
            status = (f"Generating: {made:.1f} of {total:g} s (window {chunk.window + 1} "
                      f"of {windows}), seed {settings.seed}.")
            yield Step(status, chunk=(sr, to_int16(wav)) if self.stream else None)
        elapsed = time.time() - started
        if not chunks:
            yield Step(f"Stopped before the first window finished: no audio (seed "
                       f"{settings.seed}).")
            return
        import torch
        audio = torch.cat(chunks, dim=-1)  # [C, T]
        metadata = {
            "title": settings.text or (settings.timeline[0][1] if settings.timeline else None)
            or "audiocraft",
            "software": f"audiocraft {__version__} (app)", "model": settings.model,
            "precision": precision,
            "prompt": settings.text, "timeline": settings.timeline,
            "duration": settings.duration, "seed": settings.seed, "top_k": settings.top_k,
            "top_p": settings.top_p, "temperature": settings.temperature,
            "cfg_coef": model.generation_params["cfg_coef"],
            "extend_stride": model.extend_stride,
            "window": model.max_duration, "melody_policy": settings.melody_policy,
            "melody": Path(settings.melody).name if settings.melody else None,
            "prompt_audio": Path(settings.prompt_audio).name if settings.prompt_audio else None,
            "sample_rate": sr, "generated_seconds": audio.shape[-1] / sr,
            "interrupted": stream.interrupted,
        }
        stem = self.output_dir / f"{_slug(str(metadata['title']))}_{settings.seed}_" \
                                 f"{time.strftime('%Y%m%d-%H%M%S')}_{random.randrange(10**6):06d}"
        path = audio_write(stem, audio, sr, format="wav", metadata=metadata)
        done = audio.shape[-1] / sr
        if stream.interrupted:
            status = (f"Stopped: {done:.1f} of {total:g} s made in {elapsed:.1f} s, "
                      f"seed {settings.seed}.")
        else:
            status = (f"Done: {done:.1f} s in {elapsed:.1f} s ({windows} window"
                      f"{'s' if windows > 1 else ''} of {model.max_duration:g} s, stride "
                      f"{model.extend_stride:g} s), seed {settings.seed}.")
        yield Step(status, path=path)


# ---- the UI ----

INTRO = """# MusicGen of any length
Describe the music, or write a timeline of descriptions, and press **Generate**. Pieces
longer than the model's window are made by chaining windows. The default `toy` model
ships with the project and works offline; it is small and trained on synthetic music."""

TIMELINE_HELP = "One 'TIME: text' line per change, e.g.\n0: calm piano\n30: energetic drums"


def build_ui(app: MusicGenApp | None = None, **options: Any) -> Any:
    """The ``gr.Blocks`` of the app (not launched). ``options`` go to ``MusicGenApp``
    when ``app`` is None; streaming defaults to on when ffmpeg (which gradio needs to
    stream audio) is installed."""
    import gradio as gr

    from audiocraft.models.longform import MELODY_POLICIES
    if app is None:
        options.setdefault("stream", shutil.which("ffmpeg") is not None)
        app = MusicGenApp(**options)
    studio = app

    with gr.Blocks(title="audiocraft: MusicGen of any length") as demo:
        gr.Markdown(INTRO)
        with gr.Row():
            with gr.Column():
                model = gr.Dropdown(MODEL_CHOICES, value=studio.default_model,
                                    allow_custom_value=True, label="Model (name or local path)")
                text = gr.Textbox(label="Description", lines=2,
                                  placeholder="A relaxed lofi track with electric piano")
                timeline = gr.Textbox(label="Timeline (optional; replaces the description)",
                                      lines=3, placeholder=TIMELINE_HELP)
                duration = gr.Number(value=10, label="Duration (s, any length)")
                with gr.Row():
                    melody = gr.Audio(type="filepath", sources=["upload", "microphone"],
                                      format=None,
                                      label="Melody (optional; melody models only)")
                    prompt_audio = gr.Audio(type="filepath", sources=["upload", "microphone"],
                                            format=None,
                                            label="Audio prompt to continue (optional)")
                with gr.Accordion("Sampling", open=False):
                    with gr.Row():
                        top_k = gr.Number(value=250, precision=0, label="Top-k (0: off)")
                        top_p = gr.Number(value=0.0, label="Top-p (0: off)")
                        temperature = gr.Number(value=1.0, label="Temperature")
                        cfg_coef = gr.Textbox(
                            value="", label="CFG coefficient (empty: the model's own; "
                            "e.g. 3, or 3,6,6,6: one per codebook)")
                    with gr.Row():
                        seed = gr.Number(value=-1, precision=0, label="Seed (-1: random)")
                        window = gr.Number(value=0, label="Window (s; 0: the model's)")
                        stride = gr.Number(value=0, label="Stride (s; 0: the default)")
                        melody_policy = gr.Dropdown(list(MELODY_POLICIES), value="loop",
                                                    label="Past the melody's end")
                        precision = gr.Dropdown(PRECISIONS, value="float32",
                                                label="Precision (float32 exact; others faster)")
                with gr.Row():
                    generate = gr.Button("Generate", variant="primary")
                    stop = gr.Button("Stop", variant="stop")
            with gr.Column():
                audio = gr.Audio(label="Output", type="filepath", autoplay=studio.stream,
                                 streaming=studio.stream, interactive=False)
                file = gr.File(label="Download (WAV with its settings as tags)",
                               interactive=False)
                status = gr.Markdown()

        tracker = gr.Progress()  # gradio fills it in per request

        def on_generate(model_name: Any, text_value: Any, timeline_value: Any, melody_path: Any,
                        prompt_path: Any, duration_value: Any, top_k_value: Any,
                        top_p_value: Any, temperature_value: Any, cfg_value: Any,
                        seed_value: Any, window_value: Any, stride_value: Any,
                        policy_value: Any, precision_value: Any, request: gr.Request,
                        progress: gr.Progress = tracker) -> Iterator[tuple[Any, ...]]:
            try:
                settings = check_inputs(
                    model_name, text_value, timeline_value, melody_path, prompt_path,
                    duration_value, top_k_value, top_p_value, temperature_value, cfg_value,
                    seed_value, window_value, stride_value, policy_value,
                    max_duration=studio.max_duration)
                for message in settings.warnings:
                    gr.Warning(message)
                session = getattr(request, "session_hash", None) or "local"
                if precision_value not in PRECISIONS:
                    raise AppError(f"Choose a precision among {PRECISIONS}, not "
                                   f"{precision_value!r}.")
                for step in studio.run(settings, session,
                                       lambda done, desc: progress(done, desc=desc),
                                       precision=str(precision_value)):
                    path = str(step.path) if step.path is not None else None
                    shown = step.chunk if studio.stream else path
                    yield shown, path, step.status
            except AppError as err:
                yield None, None, f"Not generated: {err}"  # the status keeps the reason
                raise gr.Error(str(err)) from err

        def on_stop(request: gr.Request) -> str:
            session = getattr(request, "session_hash", None) or "local"
            if studio.stop(session):
                return "Stopping after the current step..."
            return "Nothing is being generated."

        inputs = [model, text, timeline, melody, prompt_audio, duration, top_k, top_p,
                  temperature, cfg_coef, seed, window, stride, melody_policy, precision]
        generate.click(on_generate, inputs, [audio, file, status], api_name="generate",
                       concurrency_limit=1)
        stop.click(on_stop, None, status, api_name="stop", concurrency_limit=None)
    return demo


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="The audiocraft Gradio app.")
    parser.add_argument("--listen", default="127.0.0.1",
                        help="host to listen on (0.0.0.0 for every interface; default "
                             "127.0.0.1)")
    parser.add_argument("--server-port", type=int, default=7860, help="port (default 7860)")
    parser.add_argument("--share", action="store_true",
                        help="also make a public gradio.live link (off by default)")
    parser.add_argument("--inbrowser", action="store_true", help="open a browser tab")
    parser.add_argument("--model", default=DEFAULT_MODEL,
                        help="model the form starts with: toy (default), debug, "
                             "facebook/musicgen-* or a local path")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda if there)")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads for torch (small models run fastest on 1; "
                             "default torch's)")
    parser.add_argument("--max-duration", type=float, default=MAX_DURATION,
                        help=f"longest piece one request may ask for, seconds "
                             f"(default {MAX_DURATION:g})")
    parser.add_argument("--output-dir", default=None,
                        help="where generated files go (default: a new temporary folder)")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if not 0 < args.server_port < 65536:
        build_parser().error(f"--server-port must be in 1..65535, got {args.server_port}")
    if not args.max_duration > 0:
        build_parser().error(f"--max-duration must be > 0, got {args.max_duration}")
    if args.threads is not None:
        if args.threads < 1:
            build_parser().error(f"--threads must be >= 1, got {args.threads}")
        import torch
        torch.set_num_threads(args.threads)
    demo = build_ui(default_model=args.model, device=args.device,
                    max_duration=args.max_duration, output_dir=args.output_dir)
    allowed = [str(Path(args.output_dir).resolve())] if args.output_dir else None
    demo.queue().launch(server_name=args.listen, server_port=args.server_port,
                        share=args.share, inbrowser=args.inbrowser, allowed_paths=allowed)


if __name__ == "__main__":
    main()
