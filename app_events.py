"""What the Gradio app's buttons do (``app.py`` lays out the page and wires these).

Each ``*_handler(studio)`` returns the function gradio calls for one event, bound to the
app's ``MusicGenApp``; gradio reads their signatures (the ``/generate`` endpoint's
keyword names, ``gr.Request``, ``gr.Progress``). A request the user can fix ends with a
``gr.Error`` (``refuse``) and one log line, never a traceback.
"""

import contextvars
import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from app_history import (
    add_entry,
    entry_files,
    history_choices,
    history_entry,
    history_rows,
    reuse,
)
from app_inputs import AppError, GenerationSettings, check_inputs, public_message
from app_media import wav_chunk

if TYPE_CHECKING:  # app imports this module: no import back at run time
    from app import MusicGenApp

logger = logging.getLogger("audiocraft.app")


def require_description(settings: GenerationSettings, unconditional: bool) -> None:
    """An empty description and timeline is an ``AppError`` unless ``unconditional``:
    music without a description is a choice, not what an empty box silently gives."""
    if settings.text is None and settings.timeline is None and not unconditional:
        raise AppError("The description is empty: describe the music (e.g. 'calm piano'), "
                       "write a timeline, or tick 'Unconditional' to generate without one.")


def refuse(err: AppError) -> Exception:
    """The ``gr.Error`` for a refused request, logged as one line (it is the user's to
    fix, not a server fault: no traceback)."""
    import gradio as gr  # optional dependency (the app extra)
    logger.info("request not generated: %s", err)
    return gr.Error(str(err), print_exception=False)


def generate_handler(studio: "MusicGenApp") -> Callable[..., Iterator[tuple[Any, ...]]]:
    """The Generate button: yields ``(audio, file, video, status, history)`` per step;
    ``audio`` is a WAV chunk when ``studio.stream``, else the file."""
    import gradio as gr

    tracker = gr.Progress()  # gradio fills it in per request

    # The parameters' names are the /generate endpoint's keyword names. The defaults are
    # the form's (gradio_client takes the component's value), except that a default of
    # None lets API clients leave out the two uploads.
    def on_generate(model: Any, text: Any, timeline: Any, melody: Any = None,
                    prompt_audio: Any = None, duration: Any = 10, top_k: Any = 250,
                    top_p: Any = 0.0, temperature: Any = 1.0, cfg_coef: Any = "",
                    seed: Any = -1, window: Any = 0, stride: Any = 0,
                    melody_policy: Any = "loop", precision: Any = "float32",
                    unconditional: Any = False, audio_format: Any = "wav", video: Any = True,
                    history: list[dict[str, Any]] | None = None,
                    request: gr.Request | None = None,
                    progress: gr.Progress = tracker) -> Iterator[tuple[Any, ...]]:
        try:
            # Only the checked name is shown (a refused one may be a server path).
            progress(0, desc="Checking the request")
            settings = check_inputs(model, text, timeline, melody, prompt_audio, duration,
                                    top_k, top_p, temperature, cfg_coef, seed, window, stride,
                                    melody_policy, max_duration=studio.max_duration,
                                    model_roots=studio.model_roots,
                                    upload_dirs=studio.upload_dirs,
                                    max_upload_mb=studio.max_upload_mb)
            require_description(settings, bool(unconditional))
            for message in settings.warnings:
                gr.Warning(message)
            session = getattr(request, "session_hash", None) or "local"
            # The engine reports progress from its own thread: gradio finds the request's
            # progress bar through context variables, so carry them over.
            context = contextvars.copy_context()
            last: list[Any] = [0.0, f"Loading the model '{settings.model}'"]  # the bar's state

            def report(done: float, desc: str) -> None:
                last[:] = [done, desc]
                context.copy().run(progress, done, desc=desc)

            for step in studio.run(settings, session, report, precision=str(precision),
                                   audio_format=str(audio_format or "wav"),
                                   video=bool(video)):
                path = str(step.path) if step.path is not None else None
                if step.metadata is not None:
                    form = {"precision": precision, "cfg_coef": cfg_coef,
                            "unconditional": bool(unconditional),
                            "audio_format": audio_format, "video": video}
                    number = max([e["number"] for e in history or []], default=0) + 1
                    history = add_entry(history, history_entry(
                        number, settings, form, step.metadata, step.path, step.video))
                shown: bytes | str | None = path
                if studio.stream:
                    shown = wav_chunk(*step.chunk) if step.chunk is not None else None
                if path is None:  # the file box keeps the (one) progress bar
                    yield shown, gr.skip(), gr.skip(), step.status, history
                    # A yield clears the bar in the page: show it again at once.
                    progress(float(last[0]), desc=str(last[1]))
                else:
                    movie = str(step.video) if step.video is not None else None
                    yield shown, path, movie, step.status, history
        except AppError as err:  # the status keeps the reason
            message = public_message(str(err))  # no server path or environment value
            yield None, None, None, f"Not generated: {message}", history
            raise refuse(AppError(message)) from None

    return on_generate


def model_handler(studio: "MusicGenApp") -> Callable[[Any], tuple[Any, ...]]:
    """A model chosen in the page: load it, show the melody box (and its policy) only if
    it can follow a melody, and say so in the status."""
    import gradio as gr

    def on_model(name: Any) -> tuple[Any, ...]:
        try:
            shown = studio.can_follow_melody(str(name or "").strip())
            message = f"Model '{name}' ready" + (" (it can follow a melody)." if shown else ".")
        except AppError as err:
            shown, message = False, public_message(str(err))
        return gr.update(visible=shown), gr.update(visible=shown), message

    return on_model


def show_history(history: list[dict[str, Any]]) -> tuple[Any, ...]:
    """The history table and the reuse selector (newest chosen) for ``history``."""
    import gradio as gr
    choices = history_choices(history)
    return history_rows(history), gr.update(choices=choices,
                                            value=choices[0] if choices else None)


def reuse_settings(history: list[dict[str, Any]], choice: Any) -> list[Any]:
    """"Reuse these settings": the chosen entry's form values (``REUSED_FIELDS``)."""
    try:
        return reuse(history, choice)
    except AppError as err:
        raise refuse(err) from err


def chosen_files(history: list[dict[str, Any]], choice: Any) -> list[str] | None:
    """The chosen generation's files, to download again (None: nothing chosen)."""
    return entry_files(history, choice) or None
