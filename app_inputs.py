"""Validation and parsing of the Gradio app's requests (``app.py``, beside it).

Every value the form (or an API client) sends is checked here, cheaply: nothing reads a
file or loads a model until ``read_audio_input``. Every bad input becomes an ``AppError``
whose message says what to do; the UI shows it and the server keeps running. ``app.py``
imports these names back, so ``app.check_inputs``, ``app.AppError`` etc. still work.

Like the app, this module uses only the package's model-layer functions (timeline
parsing, guidance parsing, the melody policies, audio reading). It imports them where
they are used, so that ``import app`` stays cheap (no torch until a request comes).

A browser is untrusted: model names are an allow-list (``KNOWN_MODELS`` and folders under
the model roots the server was started with, ``--model-root`` or
``AUDIOCRAFT_APP_MODEL_ROOTS``), so an uploaded file's server path is never a model; what
the client sees of an error goes through ``public_message`` (no server paths, no
environment values, bounded length).
"""

import argparse
import math
import os
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAX_DURATION = 600.0  # seconds: the default cap on one request (--max-duration)
MAX_TEXT_CHARS = 2000
MAX_TIMELINE_CHARS = 20000
MAX_SEED = 2**63 - 1
MAX_UPLOAD_MB = 50.0  # the default size limit of one uploaded file (--max-upload-mb)
QUEUE_SIZE = 16  # requests waiting at most (--queue-size); more are refused with a message
MAX_MESSAGE_CHARS = 600
MODEL_ROOTS_ENV = "AUDIOCRAFT_APP_MODEL_ROOTS"  # folders of models, os.pathsep-separated
KNOWN_MODELS = ("toy", "debug") + tuple(
    f"facebook/musicgen-{size}" for size in (
        "small", "medium", "large", "melody", "melody-large", "stereo-small",
        "stereo-medium", "stereo-large", "stereo-melody", "stereo-melody-large"))
_MAX_NAME_CHARS = 1000
_MODEL_FILES = ("state_dict.bin", "config.json")  # a folder holding one of them is a model
_ROOT_NAME = re.compile(r"^[\w][\w.\-]*(/[\w][\w.\-]*)*$")  # relative, no "..", no "~"


class AppError(ValueError):
    """A problem with a request that the user can fix; the message says how."""


@dataclass(frozen=True)
class GenerationSettings:
    """One checked request. ``timeline`` replaces ``text`` when given; ``seed`` is drawn
    when the user left it random; ``window``/``stride`` None mean the model's defaults."""

    model: str
    text: str | None
    timeline: list[tuple[float, str | None]] | None
    melody: str | None
    prompt_audio: str | None
    duration: float
    top_k: int
    top_p: float
    temperature: float
    cfg_coef: float | list[float] | None  # None: the model's own
    seed: int
    window: float | None = None
    stride: float | None = None
    melody_policy: str = "loop"
    warnings: list[str] = field(default_factory=list)
    model_source: str | None = None  # what loads (a root folder's path); None: ``model``


@dataclass
class Step:
    """What one step of a generation shows: a streamed chunk ``(sample_rate, int16
    [n, C])``, the finished file (and its waveform video), a status line, and the
    settings written into the file (``metadata``, on the last step)."""

    status: str
    chunk: tuple[int, Any] | None = None
    path: Path | None = None
    video: Path | None = None
    metadata: dict[str, Any] | None = None


# ---- checking inputs ----

def _number(value: Any, name: str, hint: str) -> float:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise AppError(f"{name} is empty: {hint}.")
    try:
        number = float(value)
    except (TypeError, ValueError) as err:
        raise AppError(f"{name} must be a number, got {value!r}: {hint}.") from err
    if not math.isfinite(number):
        raise AppError(f"{name} must be a finite number, got {value!r}: {hint}.")
    return number


def parse_cfg_coef(value: Any) -> float | list[float] | None:
    """Empty: None (the model's own guidance); a number, or numbers separated by commas
    (one per codebook), each >= 0."""
    hint = "leave it empty for the model's own, or give e.g. 3, or 3,6,6,6 (one per codebook)"
    if isinstance(value, str):  # the form's text: empty, one number or one per codebook
        from audiocraft.models.sampling import parse_guidance_coef
        try:
            return parse_guidance_coef(value)
        except ValueError as err:
            raise AppError(f"The CFG coefficient: {err} ({hint})") from err
    if value is None:
        return None
    cfg = _number(value, "The CFG coefficient", hint)
    if cfg < 0:
        raise AppError(f"The CFG coefficient must be >= 0 ({hint}), got {cfg:g}.")
    return cfg


def _optional_seconds(value: Any, name: str) -> float | None:
    """None (or 0/empty) means the model's default; otherwise > 0 seconds."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    seconds = _number(value, name, "leave it at 0 for the model's default")
    if seconds < 0:
        raise AppError(f"{name} must be > 0 seconds (or 0 for the model's default), "
                       f"got {seconds:g}.")
    return seconds or None


def parse_timeline(text: str | None) -> list[tuple[float, str | None]] | None:
    """The timeline box: ``TIME: text`` lines (see
    ``audiocraft.models.timeline.parse_timeline_text``), or None when it holds no entry."""
    from audiocraft.models.timeline import TimelineError, parse_timeline_text
    if text is None or not text.strip():
        return None
    if len(text) > MAX_TIMELINE_CHARS:
        raise AppError(f"The timeline is {len(text)} characters long: keep it under "
                       f"{MAX_TIMELINE_CHARS}.")
    try:
        return parse_timeline_text(text) or None
    except TimelineError as err:
        raise AppError(str(err)) from err


def parse_seed(value: Any) -> int:
    """-1 or empty: a random seed; otherwise an integer in [0, 2**63 - 1]."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return random.randrange(2**31)
    seed = _number(value, "The seed", "use a whole number, or -1 for a random one")
    if seed != int(seed):
        raise AppError(f"The seed must be a whole number, got {value!r}.")
    if seed == -1:
        return random.randrange(2**31)
    if not 0 <= seed <= MAX_SEED:
        raise AppError(f"The seed must be between 0 and {MAX_SEED} (or -1 for a random one), "
                       f"got {int(seed)}.")
    return int(seed)


# ---- models: an allow-list ----

def configured_model_roots(given: Iterable[str | Path] = ()) -> list[Path]:
    """The folders whose sub-folders the app may load as models: ``given`` (``--model-root``)
    then ``AUDIOCRAFT_APP_MODEL_ROOTS`` (separated by ``os.pathsep``), resolved; a root that
    is not an existing folder raises ``AppError``."""
    env = [p for p in os.environ.get(MODEL_ROOTS_ENV, "").split(os.pathsep) if p.strip()]
    roots: list[Path] = []
    for entry in [*given, *env]:
        root = Path(entry).expanduser().resolve()
        if not root.is_dir():
            raise AppError(f"The model root {entry} is not a folder: create it or fix "
                           f"--model-root / {MODEL_ROOTS_ENV}.")
        if root not in roots:
            roots.append(root)
    return roots


def root_models(roots: Sequence[Path], limit: int = 50) -> list[str]:
    """Names (relative to their root) of the model folders directly under ``roots``."""
    names: list[str] = []
    for root in roots:
        for child in sorted(root.iterdir()):
            inside = child.resolve().is_relative_to(root)  # not a symlink leading out
            if inside and child.is_dir() and any((child / f).is_file() for f in _MODEL_FILES):
                names.append(child.name)
                if len(names) >= limit:
                    return names
    return names


def resolve_model(value: Any, roots: Sequence[Path] = ()) -> tuple[str, str]:
    """``(name shown, what loads)`` for the model box's ``value``: one of ``KNOWN_MODELS``,
    or a folder under one of ``roots``, given by its name relative to the root (or its
    path). Anything else, an uploaded file's path included, raises ``AppError`` (whose
    message names no server path)."""
    name = str(value or "").strip()
    shown = name if len(name) <= 80 else name[:77] + "..."
    choices = ", ".join(KNOWN_MODELS[:3]) + ", facebook/musicgen-*"
    if not name:
        raise AppError(f"Choose a model: {choices}, or a folder under the server's model "
                       "roots.")
    if name in KNOWN_MODELS:
        return name, name
    for root in roots if len(name) <= _MAX_NAME_CHARS and "\0" not in name else ():
        path = Path(name)
        try:
            if path.is_absolute():
                candidate = path.resolve()
            elif _ROOT_NAME.match(name) and ".." not in path.parts:
                candidate = (root / path).resolve()  # symlinks followed: must stay inside
            else:
                continue
            if candidate != root and candidate.is_relative_to(root) and candidate.is_dir() \
                    and any((candidate / f).is_file() for f in _MODEL_FILES):
                return candidate.relative_to(root).as_posix(), str(candidate)
        except (OSError, RuntimeError):  # a name too long, a symlink loop: not a model
            continue
    folders = root_models(roots, limit=10)
    listed = f" Folders here: {', '.join(folders)}." if folders else ""
    raise AppError(f"The model {shown!r} is not available on this server: choose {choices}, "
                   f"or a model folder under the server's model roots (the server adds roots "
                   f"with --model-root).{listed}")


# ---- uploads ----

def check_upload(value: Any, what: str, upload_dirs: Sequence[str | Path] | None = None,
                 max_mb: float | None = MAX_UPLOAD_MB) -> str | None:
    """The server path of an uploaded file, or None when empty. A client can send any
    path as a file: with ``upload_dirs`` (the server's upload folders) it must be a file
    inside one of them, so no other server file is ever read; it must also be at most
    ``max_mb``. Raises ``AppError`` (naming no server path)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, dict):  # a FileData sent as JSON
        value = value.get("path")
    if not isinstance(value, (str, os.PathLike)):
        raise AppError(f"The {what} must be an uploaded audio file.")
    path = Path(value)
    if upload_dirs is not None:
        real = path.resolve()
        inside = any(real.is_relative_to(Path(d).resolve()) for d in upload_dirs)
        if not inside or not real.is_file():
            raise AppError(f"The {what} must be a file uploaded to this app: upload it "
                           "again.")
    if max_mb is not None and path.is_file() and path.stat().st_size > max_mb * 1024 * 1024:
        raise AppError(f"The {what} file is larger than this app's limit of {max_mb:g} MB: "
                       "upload a shorter or more compressed excerpt.")
    return str(path)


# ---- what the client sees of an error ----

_PATH = re.compile(r"(?<![\w.:/~])(?:[A-Za-z]:)?(?:[\\/]|~/)[^\s'\"`,;()<>\[\]{}]*")
_SECRET_MIN_CHARS = 8


def public_message(text: str) -> str:
    """``text`` made fit for a client: absolute paths become their last part (``.../x.wav``),
    the values of environment variables (8 characters or more) are hidden, and the
    length is capped. The server's log keeps the full text."""
    def short(match: re.Match[str]) -> str:
        path = match.group(0).rstrip(".:")
        tail = match.group(0)[len(path):]
        last = re.split(r"[\\/]", path.rstrip("/\\"))[-1]
        return (f".../{last}" if last else "...") + tail

    out = _PATH.sub(short, str(text))
    for value in sorted(set(os.environ.values()), key=len, reverse=True):
        # Plain lowercase words ("generation") are no secrets and would garble the text.
        if len(value) >= _SECRET_MIN_CHARS and not value.isalpha() and value in out:
            out = out.replace(value, "***")
    if len(out) > MAX_MESSAGE_CHARS:
        out = out[:MAX_MESSAGE_CHARS - 3] + "..."
    return out


# ---- the whole form ----

def check_inputs(model: Any, text: Any, timeline: Any, melody: Any, prompt_audio: Any,
                 duration: Any, top_k: Any, top_p: Any, temperature: Any, cfg_coef: Any,
                 seed: Any, window: Any = None, stride: Any = None, melody_policy: Any = "loop",
                 max_duration: float = MAX_DURATION,
                 model_roots: Sequence[Path] = (),
                 upload_dirs: Sequence[str | Path] | None = None,
                 max_upload_mb: float | None = MAX_UPLOAD_MB) -> GenerationSettings:
    """Check the form's values (as the UI or an API client sends them); raise ``AppError``
    with what to change. Cheap: reads no file and loads no model. ``model_roots``: the
    folders whose model folders may be named (see ``resolve_model``); ``upload_dirs``:
    where uploaded files must be (None: anywhere, for direct Python use)."""
    name, source = resolve_model(model, model_roots)
    description = str(text or "").strip() or None
    if description is not None and len(description) > MAX_TEXT_CHARS:
        raise AppError(f"The description is {len(description)} characters long: keep it under "
                       f"{MAX_TEXT_CHARS}.")
    entries = parse_timeline(timeline)
    seconds = _number(duration, "The duration", "set how many seconds to make, e.g. 10")
    if seconds <= 0:
        raise AppError(f"The duration must be more than 0 seconds, got {seconds:g}.")
    if seconds > max_duration:
        raise AppError(f"The duration ({seconds:g} s) is over this app's limit of "
                       f"{max_duration:g} s: ask for less, or start the app with "
                       "--max-duration to raise the limit.")
    k = _number(top_k, "Top-k", "250 is the default, 0 turns it off")
    if k < 0 or k != int(k):
        raise AppError(f"Top-k must be a whole number >= 0 (0 turns it off), got {top_k!r}.")
    p = _number(top_p, "Top-p", "0 (off) is the default")
    if not 0 <= p <= 1:
        raise AppError(f"Top-p must be between 0 and 1 (0 turns it off), got {p:g}.")
    temp = _number(temperature, "The temperature", "1 is the default")
    if temp < 0:
        raise AppError(f"The temperature must be >= 0 (0 is greedy, 1 the default), "
                       f"got {temp:g}.")
    cfg = parse_cfg_coef(cfg_coef)
    from audiocraft.models.longform import MELODY_POLICIES
    policy = str(melody_policy or "loop")
    if policy not in MELODY_POLICIES:
        raise AppError(f"The melody policy must be one of {', '.join(MELODY_POLICIES)}, "
                       f"got {policy!r}.")
    warnings = []
    if entries is not None and description is not None:
        warnings.append("The timeline is used; the description is ignored (clear one of them).")
    late = [start for start, _ in (entries or []) if start >= seconds]
    if late:
        warnings.append(f"Timeline entries starting at {', '.join(f'{s:g}' for s in late)} s "
                        f"begin after the end of the piece ({seconds:g} s) and will not be "
                        "heard.")
    return GenerationSettings(
        model=name, model_source=source if source != name else None,
        text=None if entries is not None else description, timeline=entries,
        melody=check_upload(melody, "melody", upload_dirs, max_upload_mb),
        prompt_audio=check_upload(prompt_audio, "audio prompt", upload_dirs, max_upload_mb),
        duration=seconds, top_k=int(k), top_p=p, temperature=temp, cfg_coef=cfg,
        seed=parse_seed(seed), window=_optional_seconds(window, "The window"),
        stride=_optional_seconds(stride, "The stride"), melody_policy=policy,
        warnings=warnings)


def read_audio_input(path: str, what: str,
                     max_seconds: float = MAX_DURATION) -> tuple[Any, int]:
    """``(wav [C, T], sample_rate)`` of an uploaded file, or an ``AppError``. Files
    longer than ``max_seconds`` are refused from their header, before decoding."""
    from audiocraft.data.audio import AudioTooLongError, audio_read
    try:
        wav, sample_rate = audio_read(path, max_duration=max_seconds)
    except FileNotFoundError as err:
        raise AppError(f"The {what} file was not found ({Path(path).name}): upload it "
                       "again.") from err
    except AudioTooLongError as err:
        raise AppError(f"The {what} file {Path(path).name} is longer than this app's limit "
                       f"of {max_seconds:g} s: upload a shorter excerpt.") from err
    except (RuntimeError, ValueError, OSError) as err:
        # The reader's own message names the server's temporary path and gives advice
        # for data-set files: say it in the user's terms instead.
        raise AppError(f"Cannot read the {what} file {Path(path).name}: it is not audio, "
                       "or it is damaged. Upload a WAV, FLAC, MP3 or OGG file.") from err
    if wav.shape[-1] == 0:
        raise AppError(f"The {what} file {Path(path).name} holds no audio: upload another.")
    return wav, sample_rate


def to_int16(wav: Any) -> Any:
    """Float audio ``[C, T]`` (torch) to int16 ``[T, C]`` (numpy), clipped, not
    normalised: streamed chunks keep one gain from chunk to chunk."""
    return (wav.clamp(-1, 1) * 32767).round().short().T.contiguous().numpy()


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40].strip("-") or "audiocraft"


def check_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Exit with a usage message for a bad command-line value."""
    def positive(value: float | None) -> bool:
        return value is not None and math.isfinite(value) and value > 0

    if not 0 < args.server_port < 65536:
        parser.error(f"--server-port must be in 1..65535, got {args.server_port}")
    if not positive(args.max_duration):
        parser.error(f"--max-duration must be a finite number > 0, got {args.max_duration}")
    if args.threads is not None and args.threads < 1:
        parser.error(f"--threads must be >= 1, got {args.threads}")
    if not positive(args.max_upload_mb):
        parser.error(f"--max-upload-mb must be a finite number > 0, got {args.max_upload_mb}")
    if args.queue_size < 1:
        parser.error(f"--queue-size must be >= 1, got {args.queue_size}")
    if args.max_params is not None and not (positive(args.max_params)
                                            and args.max_params >= 1):
        parser.error(f"--max-params must be a finite number >= 1, got {args.max_params}")
    try:
        resolve_model(args.model, configured_model_roots(args.model_root))
    except AppError as err:
        parser.error(f"--model: {err}")
