"""The Gradio app's server side: the model cache (the last loaded model, kept between
requests, with the thread count chosen per model as the CLI does) and the launch with
the server's limits. Importing it loads neither torch nor gradio."""

import logging
import threading
from typing import Any

from app_inputs import MAX_UPLOAD_MB, QUEUE_SIZE, AppError

logger = logging.getLogger("audiocraft.app")


class ModelCache:
    """The last loaded model, kept between requests (one at a time bounds memory).

    Args:
        device: cpu or cuda (None: cuda if available).
        threads: torch threads; None chooses them for each model as the CLI does
            (``audiocraft.models.precision.suggested_threads``: 1 for small models such
            as toy, torch's default for larger ones).
    """

    def __init__(self, device: str | None = None, threads: int | None = None):
        self.device = device
        self.threads = threads
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
            # Lazy: importing app loads neither torch nor gradio.
            from audiocraft.models.musicgen import MusicGen
            from audiocraft.models.precision import use_suggested_threads
            try:
                model = MusicGen.get_pretrained(name, device=self.device, precision=precision)
            except (FileNotFoundError, ValueError, OSError, RuntimeError, KeyError) as err:
                raise AppError(f"Could not load the model '{name}': {err}") from err
            if self.threads is None:
                threads = use_suggested_threads(model.lm)
                logger.info("%s in %s: %d torch thread(s)", name, precision, threads)
            self._name, self._model = (name, precision), model
            return model


def supports_melody(model: Any) -> bool:
    """Whether ``model`` takes a melody (a chroma or style conditioner on its melody
    attribute: ``BaseGenModel.melody_conditioner``)."""
    return model.melody_conditioner() is not None


def launch(demo: Any, listen: str = "127.0.0.1", port: int = 7860, share: bool = False,
           inbrowser: bool = False, queue_size: int = QUEUE_SIZE,
           max_upload_mb: float = MAX_UPLOAD_MB, allowed_paths: list[str] | None = None,
           **launch_options: Any) -> Any:
    """Queue and launch ``demo`` with the server's limits, set here only: one generation
    at a time (``default_concurrency_limit``), at most ``queue_size`` waiting requests
    (more are refused with "queue is full"), uploads up to ``max_upload_mb``.
    ``launch_options`` go to ``Blocks.launch`` (e.g. ``prevent_thread_lock``)."""
    demo.queue(default_concurrency_limit=1, max_size=queue_size)
    return demo.launch(server_name=listen, server_port=port, share=share,
                       inbrowser=inbrowser, allowed_paths=allowed_paths,
                       max_file_size=int(max_upload_mb * 1024 * 1024), **launch_options)
