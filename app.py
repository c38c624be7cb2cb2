"""The Gradio app: MusicGen of any length in the browser.

    python app.py [--model toy] [--listen 127.0.0.1] [--server-port 7860] [--share]
                  [--inbrowser] [--threads N] [--model-root DIR ...] [--max-params N]
                  [--max-upload-mb MB] [--queue-size N]

It uses only the public API (``MusicGen.get_pretrained``, ``set_generation_params``,
``generate_stream``, ``audio_read``/``audio_write``). The shipped ``toy`` model is the
default, so it works offline. Importing this module loads neither gradio nor a model:
``build_ui()`` makes the Blocks, ``MusicGenApp`` holds the logic (tested without a
browser). Inputs a user can get wrong raise ``AppError`` with a message saying what to
do; the UI shows it and the server keeps running. Beside this file: ``app_inputs.py``
checks a request, ``app_events.py`` holds what the buttons do, ``app_media.py`` encodes
the streamed audio and draws the waveform video, ``app_history.py`` keeps the page's
history."""

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

from app_events import (  # noqa: F401  (require_description re-exported)
    chosen_files,
    generate_handler,
    model_handler,
    require_description,
    reuse_settings,
    show_history,
)
from app_history import HISTORY_HEADERS, REUSED_FIELDS

# Checking and parsing the form's values lives beside this file (app_inputs.py); these
# names stay importable from here (``app.check_inputs``, ``app.AppError``, ...).
from app_inputs import (  # noqa: F401  (re-exported for app.* users)
    MAX_DURATION,
    MAX_UPLOAD_MB,
    QUEUE_SIZE,
    AppError,
    GenerationSettings,
    Step,
    _slug,
    check_args,
    check_inputs,
    configured_model_roots,
    parse_seed,
    public_message,
    read_audio_input,
    resolve_model,
    root_models,
    to_int16,
)
from app_media import use_pyav_for_streaming, waveform_video
from app_server import ModelCache, launch, supports_melody

logger = logging.getLogger("audiocraft.app")

DEFAULT_MODEL = "toy"
MODEL_CHOICES = ["toy", "toy-melody", "debug", "facebook/musicgen-small",
                 "facebook/musicgen-medium", "facebook/musicgen-large", "facebook/musicgen-melody"]
PRECISIONS = ["float32", "bfloat16", "float16", "int8"]  # audiocraft.models.precision
PROGRESS_INTERVAL = 0.25  # seconds between progress bar updates
AUDIO_FORMATS = ("wav", "flac", "mp3", "ogg", "m4a")  # audio_write's, all with tags


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
        model_roots: folders whose model folders a request may name (besides the known
            names); ``AUDIOCRAFT_APP_MODEL_ROOTS`` adds more.
        max_upload_mb: size limit of an uploaded melody or prompt (``launch`` sets the
            same limit on gradio's uploads).
        threads: torch threads (set by the caller); None chooses them for each loaded
            model (see ``ModelCache``).
    """

    def __init__(self, default_model: str = DEFAULT_MODEL, device: str | None = None,
                 max_duration: float = MAX_DURATION, output_dir: str | Path | None = None,
                 stream: bool = False, model_roots: list[str | Path] | None = None,
                 max_upload_mb: float = MAX_UPLOAD_MB, threads: int | None = None):
        self.model_roots = configured_model_roots(model_roots or [])
        self.max_upload_mb = max_upload_mb
        # Where uploads may come from (gradio's upload folder, set by build_ui); None: any
        # readable file (direct calls from Python).
        self.upload_dirs: list[str] | None = None
        self.default_model = default_model
        self.max_duration = float(max_duration)
        self.output_dir = Path(output_dir or tempfile.mkdtemp(prefix="audiocraft-app-"))
        self.stream = stream
        self.models = ModelCache(device, threads)
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

    def can_follow_melody(self, name: str) -> bool:
        """Whether the model ``name`` has a melody (chroma) conditioner; loads it (it is
        kept for the next request). ``AppError`` if it cannot be loaded."""
        return supports_melody(self.models.get(resolve_model(name, self.model_roots)[1]))

    def run(self, settings: GenerationSettings, session: str = "local",
            progress: Callable[[float, str], Any] | None = None,
            precision: str = "float32", audio_format: str = "wav",
            video: bool = False) -> Iterator[Step]:
        """Generate ``settings``: status steps (loading, generating, writing), one step per
        finished window (with its chunk when streaming), then a last step with the written
        file, its waveform video when ``video``, and the settings written into it.
        ``precision``: the LM's (``PRECISIONS``; float32 is exact, the others faster);
        ``audio_format``: one of ``AUDIO_FORMATS``. A stop keeps what was made."""
        if precision not in PRECISIONS:
            raise AppError(f"Choose a precision among {', '.join(PRECISIONS)}, not "
                           f"{precision!r}.")
        if audio_format not in AUDIO_FORMATS:
            raise AppError(f"Choose a file format among {', '.join(AUDIO_FORMATS)}, not "
                           f"{audio_format!r}.")
        stop = threading.Event()
        with self._stops_lock:
            self._stops[session] = stop
        try:
            yield Step(f"Loading the model '{settings.model}'...")
            with self._generation_lock:
                yield from self._run(settings, stop, progress, precision, audio_format, video)
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
        from audiocraft.models.musicgen import MELODY_MODELS, MusicGen
        base = self.models.get(settings.model_source or settings.model, precision)
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
                               "no melody conditioner): remove the melody, or choose a model "
                               f"that takes one: {', '.join(MELODY_MODELS)}.")
            melody, melody_sr = read_audio_input(settings.melody, "melody", self.max_duration)
            inputs.update(melody_wavs=[melody], melody_sample_rate=melody_sr)
        if settings.prompt_audio is not None:
            prompt, prompt_sr = read_audio_input(settings.prompt_audio, "audio prompt",
                                                 self.max_duration)
            prompt_seconds = prompt.shape[-1] / prompt_sr
            if prompt_seconds >= settings.duration:
                raise AppError(f"The audio prompt ({prompt_seconds:.1f} s) is not shorter than "
                               f"the duration ({settings.duration:g} s): the piece includes "
                               "the prompt, so ask for a longer duration.")
            inputs.update(prompt=prompt[None], prompt_sample_rate=prompt_sr)
        return model, inputs

    def _run(self, settings: GenerationSettings, stop: threading.Event,
             progress: Callable[[float, str], Any] | None, precision: str,
             audio_format: str, video: bool) -> Iterator[Step]:
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
                progress(made / max(wanted, 1), f"Generating: {made / model.frame_rate:.1f} "
                                                f"of {wanted / model.frame_rate:.1f} s")

        model.set_custom_progress_callback(report)
        started = time.time()
        try:
            stream = model.generate_stream(stop=stop, **inputs)
        except ValueError as err:
            raise AppError(str(err)) from err
        yield Step(f"Generating: 0.0 of {total:g} s (window 1 of {windows}), seed "
                   f"{settings.seed}...")
        chunks = []
        made = 0.0
        for chunk in stream:
            wav = chunk.wav[0].cpu()  # [C, n]
            chunks.append(wav)
            made += wav.shape[-1] / sr
            status = (f"Generating: {made:.1f} of {total:g} s (window "
                      f"{min(chunk.window + 1, windows)} of {windows}), seed {settings.seed}.")
            streamed = (sr, to_int16(wav)) if self.stream and wav.shape[-1] else None
            yield Step(status, chunk=streamed)
        elapsed = time.time() - started
        if not sum(wav.shape[-1] for wav in chunks):
            yield Step(f"Stopped before any audio was made (seed {settings.seed}): nothing "
                       "to write.")
            return
        yield Step(f"Writing the {audio_format.upper()} file"
                   f"{' and the waveform video' if video else ''}...")
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
            "interrupted": stream.interrupted, "format": audio_format,
        }
        stem = self.output_dir / f"{_slug(str(metadata['title']))}_{settings.seed}_" \
                                 f"{time.strftime('%Y%m%d-%H%M%S')}_{random.randrange(10**6):06d}"
        path = audio_write(stem, audio, sr, format=audio_format, metadata=metadata)
        movie = self._video(stem, audio, sr, metadata) if video else None
        done = audio.shape[-1] / sr
        if stream.interrupted:
            status = (f"Stopped: {done:.1f} of {total:g} s made in {elapsed:.1f} s, "
                      f"seed {settings.seed}.")
        else:
            status = (f"Done: {done:.1f} s in {elapsed:.1f} s ({windows} window"
                      f"{'s' if windows > 1 else ''} of {model.max_duration:g} s, stride "
                      f"{model.extend_stride:g} s), seed {settings.seed}.")
        yield Step(status, path=path, video=movie, metadata=metadata)

    @staticmethod
    def _video(stem: Path, audio: Any, sample_rate: int, metadata: dict[str, Any]) -> Path:
        """The waveform video of ``audio [C, T]``, peak-normalised as the audio file is."""
        wav = audio.numpy()
        wav = wav / max(float(abs(wav).max()), 1e-9) * 0.89  # about -1 dB, as audio_write
        lines = [f"{metadata['model']}, {metadata['generated_seconds']:.1f} s, seed "
                 f"{metadata['seed']}" + (" (stopped early)" if metadata["interrupted"] else ""),
                 f"top-k {metadata['top_k']}, top-p {metadata['top_p']:g}, temperature "
                 f"{metadata['temperature']:g}, CFG {metadata['cfg_coef']}",
                 f"window {metadata['window']:g} s, stride {metadata['extend_stride']:g} s"]
        if metadata.get("timeline"):
            lines.append("timeline: " + " | ".join(f"{start:g}: {text or ''}" for start, text
                                                   in metadata["timeline"]))
        return waveform_video(stem.with_name(stem.name + ".mp4"), wav, sample_rate,
                              str(metadata["title"]), lines, metadata)


# ---- the UI ----

INTRO = """# MusicGen of any length
Describe the music, or write a timeline of descriptions, and press **Generate**. Pieces
longer than the model's window are made by chaining windows. The default `toy` model
ships with the project and works offline; it is small and trained on synthetic music."""

TIMELINE_HELP = "One 'TIME: text' line per change, e.g.\n0: calm piano\n30: energetic drums"


def build_ui(app: MusicGenApp | None = None, **options: Any) -> Any:
    """The ``gr.Blocks`` of the app (not launched). ``options`` go to ``MusicGenApp``
    when ``app`` is None; streaming defaults to on (chunks are encoded with PyAV)."""
    import gradio as gr

    from audiocraft.models.longform import MELODY_POLICIES
    if app is None:
        options.setdefault("stream", True)
        app = MusicGenApp(**options)
    studio = app
    if studio.stream and not use_pyav_for_streaming() and shutil.which("ffmpeg") is None:
        logger.warning("this gradio cannot stream audio without ffmpeg: streaming is off")
        studio.stream = False
    try:
        melody_shown = studio.can_follow_melody(studio.default_model)
    except AppError:
        melody_shown = False

    with gr.Blocks(title="audiocraft: MusicGen of any length") as demo:
        studio.upload_dirs = [str(demo.GRADIO_CACHE)]
        gr.Markdown(INTRO)
        history = gr.State([])  # this page's generations (app_history entries)
        with gr.Row():
            with gr.Column():
                model = gr.Dropdown(MODEL_CHOICES + root_models(studio.model_roots),
                                    value=studio.default_model, allow_custom_value=True,
                                    label="Model (a name, or a folder of the server's model "
                                    "roots)", elem_id="model")
                text = gr.Textbox("", label="Description", lines=2,
                                  placeholder="A relaxed lofi track with electric piano",
                                  elem_id="description")
                unconditional = gr.Checkbox(
                    False, label="Unconditional (no description: the model's free choice)",
                    elem_id="unconditional")
                timeline = gr.Textbox("", label="Timeline (optional; replaces the description)",
                                      lines=3, placeholder=TIMELINE_HELP, elem_id="timeline")
                duration = gr.Number(value=10, label="Duration (s, any length)",
                                     elem_id="duration")
                with gr.Row():
                    # Files, not gr.Audio: the browser's audio box drops a non-audio file
                    # with a passing toast, and the piece was then made without it. Here
                    # the server reads it and refuses it with a message.
                    melody = gr.File(label="Melody (WAV, FLAC, MP3, OGG; melody models)",
                                     visible=melody_shown, elem_id="melody")
                    prompt_audio = gr.File(label="Audio prompt to continue (optional)",
                                           elem_id="prompt-audio")
                with gr.Accordion("Sampling and output", open=False):
                    with gr.Row():
                        top_k = gr.Number(value=250, precision=0, label="Top-k (0: off)")
                        top_p = gr.Number(value=0.0, label="Top-p (0: off)")
                        temperature = gr.Number(value=1.0, label="Temperature")
                        cfg_coef = gr.Textbox(
                            value="", label="CFG coefficient (empty: the model's own; "
                            "e.g. 3, or 3,6,6,6: one per codebook)")
                    with gr.Row():
                        seed = gr.Number(value=-1, precision=0, label="Seed (-1: random)",
                                         elem_id="seed")
                        window = gr.Number(value=0, label="Window (s; 0: the model's)",
                                           elem_id="window")
                        stride = gr.Number(value=0, label="Stride (s; 0: the default)")
                        melody_policy = gr.Dropdown(list(MELODY_POLICIES), value="loop",
                                                    label="Past the melody's end",
                                                    visible=melody_shown)
                        precision = gr.Dropdown(PRECISIONS, value="float32",
                                                label="Precision (float32 exact; others faster)")
                    with gr.Row():
                        audio_format = gr.Dropdown(list(AUDIO_FORMATS), value="wav",
                                                   label="File format (settings as tags)")
                        video = gr.Checkbox(True, label="Waveform video (MP4)")
                with gr.Row():
                    generate = gr.Button("Generate", variant="primary", elem_id="generate")
                    stop = gr.Button("Stop", variant="stop", elem_id="stop")
            with gr.Column():
                status = gr.Markdown("Ready.", label="Status", elem_id="status")
                audio = gr.Audio(label="Output (plays while it is made)", type="filepath",
                                 autoplay=studio.stream, streaming=studio.stream,
                                 interactive=False, elem_id="output-audio",
                                 buttons=[] if studio.stream else None)
                file = gr.File(label="Download (the audio with its settings as tags)",
                               interactive=False, elem_id="download")
                movie = gr.Video(label="Waveform video (MP4, settings in its tags)",
                                 interactive=False, elem_id="video")
        with gr.Accordion("History of this page", open=True):
            table = gr.Dataframe(headers=HISTORY_HEADERS, value=[], interactive=False,
                                 wrap=True, label="Generations since the page was opened",
                                 elem_id="history")
            with gr.Row():
                chosen = gr.Dropdown([], label="Generation", elem_id="history-choice",
                                     scale=3)
                reuse_button = gr.Button("Reuse these settings", elem_id="reuse", scale=1)
            past_files = gr.File(label="Files of this generation", file_count="multiple",
                                 interactive=False, elem_id="history-files")

        def on_stop(request: gr.Request) -> str:
            session = getattr(request, "session_hash", None) or "local"
            if studio.stop(session):
                return "Stopping after the current step: what was made is kept..."
            return "Nothing is being generated."

        inputs = [model, text, timeline, melody, prompt_audio, duration, top_k, top_p,
                  temperature, cfg_coef, seed, window, stride, melody_policy, precision,
                  unconditional, audio_format, video]
        outputs = [audio, file, movie, status, history]
        generate.click(generate_handler(studio), [*inputs, history], outputs,
                       api_name="generate", concurrency_limit=1,
                       show_progress_on=[file]).then(
            show_history, history, [table, chosen], api_visibility="private",
            show_progress="hidden")
        stop.click(on_stop, None, status, api_name="stop", concurrency_limit=None)
        model.change(model_handler(studio), model, [melody, melody_policy, status],
                     api_visibility="private", show_progress_on=[status])
        reused = [model, text, timeline, duration, top_k, top_p, temperature, cfg_coef, seed,
                  window, stride, melody_policy, precision, unconditional, audio_format, video]
        assert len(reused) == len(REUSED_FIELDS)
        # Instant events show no progress bar: the generation's is the only one.
        reuse_button.click(reuse_settings, [history, chosen], reused, api_visibility="private",
                           show_progress="hidden")
        chosen.change(chosen_files, [history, chosen], past_files, api_visibility="private",
                      show_progress="hidden")
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
                        help="CPU threads for torch (default: chosen for each model as "
                             "the CLI does: 1 for small models such as toy, torch's "
                             "default for larger ones)")
    parser.add_argument("--max-duration", type=float, default=MAX_DURATION,
                        help=f"longest piece one request may ask for, seconds "
                             f"(default {MAX_DURATION:g})")
    parser.add_argument("--output-dir", default=None,
                        help="where generated files go (default: a new temporary folder)")
    # Limits for untrusted clients (see launch()).
    parser.add_argument("--model-root", action="append", default=[], metavar="DIR",
                        help="a folder whose model folders requests may name, besides toy, "
                             "debug and facebook/musicgen-* (repeatable; also "
                             "$AUDIOCRAFT_APP_MODEL_ROOTS, separated by ':')")
    parser.add_argument("--max-params", type=float, default=None,
                        help="the largest model (parameters, from its config) the server "
                             "builds (default: $AUDIOCRAFT_MAX_PARAMS or 4e9)")
    parser.add_argument("--max-upload-mb", type=float, default=MAX_UPLOAD_MB,
                        help=f"size limit of one uploaded file, MB (default {MAX_UPLOAD_MB:g})")
    parser.add_argument("--queue-size", type=int, default=QUEUE_SIZE,
                        help=f"requests that may wait; more are refused with a message "
                             f"(default {QUEUE_SIZE})")
    return parser


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    check_args(parser, args)
    if args.threads is not None:
        import torch
        torch.set_num_threads(args.threads)
    if args.max_params is not None:
        from audiocraft.models.model_size import set_max_params
        set_max_params(int(args.max_params))
    # The app's own log lines (one per refused request) and other libraries' warnings.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    logger.setLevel(logging.INFO)
    studio = MusicGenApp(default_model=args.model, device=args.device,
                         max_duration=args.max_duration, output_dir=args.output_dir,
                         stream=True, model_roots=args.model_root,
                         max_upload_mb=args.max_upload_mb, threads=args.threads)
    try:  # a model that cannot load fails here, not at the first click
        studio.models.get(resolve_model(args.model, studio.model_roots)[1])
    except AppError as err:
        parser.error(f"--model {args.model}: {err}")
    demo = build_ui(studio)
    allowed = [str(Path(args.output_dir).resolve())] if args.output_dir else None
    launch(demo, args.listen, args.server_port, args.share, args.inbrowser,
           args.queue_size, args.max_upload_mb, allowed)


if __name__ == "__main__":
    main()
