"""Validation and parsing of the Gradio app's requests (``app.py``, beside it).

Every value the form (or an API client) sends is checked here, cheaply: nothing reads a
file or loads a model until ``read_audio_input``. Every bad input becomes an ``AppError``
whose message says what to do; the UI shows it and the server keeps running. ``app.py``
imports these names back, so ``app.check_inputs``, ``app.AppError`` etc. still work.

Like the app, this module uses only the package's model-layer functions (timeline
parsing, guidance parsing, the melody policies, audio reading). It imports them where
they are used, so that ``import app`` stays cheap (no torch until a request comes).
"""

import math
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAX_DURATION = 600.0  # seconds: the default cap on one request (--max-duration)
MAX_TEXT_CHARS = 2000
MAX_TIMELINE_CHARS = 20000
MAX_SEED = 2**63 - 1


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


def check_inputs(model: Any, text: Any, timeline: Any, melody: Any, prompt_audio: Any,
                 duration: Any, top_k: Any, top_p: Any, temperature: Any, cfg_coef: Any,
                 seed: Any, window: Any = None, stride: Any = None, melody_policy: Any = "loop",
                 max_duration: float = MAX_DURATION) -> GenerationSettings:
    """Check the form's values (as the UI or an API client sends them); raise ``AppError``
    with what to change. Cheap: reads no file and loads no model."""
    name = str(model or "").strip()
    if not name:
        raise AppError("Choose a model: 'toy' (shipped, works offline), 'debug', a "
                       "facebook/musicgen-* name from the Hugging Face cache, or a local folder.")
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
        model=name, text=None if entries is not None else description, timeline=entries,
        melody=str(melody) if melody else None,
        prompt_audio=str(prompt_audio) if prompt_audio else None,
        duration=seconds, top_k=int(k), top_p=p, temperature=temp, cfg_coef=cfg,
        seed=parse_seed(seed), window=_optional_seconds(window, "The window"),
        stride=_optional_seconds(stride, "The stride"), melody_policy=policy,
        warnings=warnings)


def read_audio_input(path: str, what: str) -> tuple[Any, int]:
    """``(wav [C, T], sample_rate)`` of an uploaded file, or an ``AppError``."""
    from audiocraft.data.audio import audio_read
    try:
        wav, sample_rate = audio_read(path)
    except FileNotFoundError as err:
        raise AppError(f"The {what} file was not found ({Path(path).name}): upload it "
                       "again.") from err
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
