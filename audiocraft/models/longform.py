"""The long-form engine: music of any length from a language model with a fixed window.

The LM only ever sees one window (at most ``max_duration`` seconds of codes). Longer
pieces chain windows at the token level, with the reference MusicGen semantics:

- the first window starts at 0 and is prompted with the audio prompt's codes (if any);
- each later window starts ``stride`` frames after the previous one and is prompted with
  the previous window's own last ``window - stride`` frames of codes;
- positions restart at 0 in every window (each window is one ``LMModel.generate`` call);
- a melody is sliced at the window's absolute start time, ``max_duration`` long.

Codes are never decoded and re-encoded between windows and audio is never spliced: the
piece is one code sequence, decoded once by the codec's streaming decoder as windows
finish. Only the current window's codes live on the model's device; finished codes move
to the CPU and their audio is handed out as soon as it is decoded, so memory is bounded
by the window, not by the piece.

The engine takes the LM and the compression model as objects (anything with the
``LMModel.generate`` and ``CompressionModel`` interfaces: ``LanguageModelLike`` and
``CompressionModelLike``), plus a ``ConditionBuilder`` that turns a window's texts and
melody slices into the LM's condition objects.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, get_args

import torch

from ..modules.conditioners.beat import with_start
from .parts import (  # noqa: F401  (re-exported: the engine's view of its parts)
    CompressionModelLike,
    LanguageModelLike,
    StreamDecoder,
    open_stream_decoder,
)
from .timeline import (  # noqa: F401  (re-exported: the engine's timeline helpers)
    Timeline,
    active_text,
    seconds_to_frames,
    validate_timeline,
)
from .windows import Window, WindowPlan, plan_windows  # noqa: F401  (re-exported)

if TYPE_CHECKING:
    from ..modules.conditioners import ConditioningAttributes

# What windows past the end of a melody shorter than the piece get (see ``slice_melody``).
# The one list of policies: the API, the CLI's choices and the app all read it from here.
MelodyPolicy = Literal["loop", "hold", "stop"]
MELODY_POLICIES: tuple[str, ...] = get_args(MelodyPolicy)

# Called with (generated_seconds, total_seconds); returning False stops generation.
ProgressCallback = Callable[[float, float], "bool | None"]

# Turns one window's per-sample texts and melody slices ([C, T] at the model's sample
# rate, or None for no melody) into the LM's per-sample condition objects.
ConditionBuilder = Callable[
    [list["str | None"], list["torch.Tensor | None"]], list["ConditioningAttributes"]
]


def slice_melody(
    melody: torch.Tensor, start_seconds: float, sample_rate: int, window_seconds: float,
    policy: MelodyPolicy = "loop",
) -> torch.Tensor | None:
    """The melody a window starting at ``start_seconds`` is conditioned on.

    Args:
        melody: ``[C, L]`` at ``sample_rate``.
        policy: what a window gets past the melody's end. ``loop`` (the reference): the
            melody repeats, positions taken modulo its length. ``hold``: windows past the
            end reuse the melody's last window-long part. ``stop``: windows starting past
            the end get no melody (None) and the last one is cut where the melody ends.
    Returns:
        ``[C, window]`` samples (``stop`` may give fewer), or None for no melody.
    """
    length = melody.shape[-1]
    first = int(start_seconds * sample_rate)
    count = int(window_seconds * sample_rate)
    if policy == "loop":
        positions = torch.arange(first, first + count, device=melody.device)  # [count]
        return melody[..., positions % length]
    if policy == "hold":
        first = min(first, max(0, length - count))
        positions = torch.arange(first, first + count, device=melody.device)
        return melody[..., positions % length]
    if policy == "stop":
        if first >= length:
            return None
        return melody[..., first:min(first + count, length)]
    raise ValueError(f"Unknown melody policy {policy!r}: use one of {MELODY_POLICIES}.")


@dataclass
class LongformRequest:
    """What to generate. Per-sample lists all have ``num_samples`` entries.

    Attributes:
        num_samples: B.
        duration: seconds of the whole piece, the audio prompt included.
        timelines: per sample, (start_seconds, text) entries sorted by time; a plain
            description is a one-entry timeline ``[(0.0, text)]``; None means no text.
        melodies: per sample, ``[C, L]`` at the model's sample rate, or None.
        melody_policy: see ``slice_melody``.
        prompt: audio prompt codes ``[B, K, P]``, or None.
    """

    num_samples: int
    duration: float
    timelines: list[Timeline] | None = None
    melodies: list[torch.Tensor | None] | None = None
    melody_policy: MelodyPolicy = "loop"
    prompt: torch.Tensor | None = None


@dataclass
class AudioChunk:
    """Audio of one window's new region (the first also holds the prompt's audio).

    ``wav`` is ``[B, C, n]`` on the CPU; ``start_seconds`` where it begins in the piece;
    ``codes`` ``[B, K, f]`` the codes that were decoded into it (CPU).
    """

    wav: torch.Tensor
    start_seconds: float
    window: int
    codes: torch.Tensor


@dataclass
class LongformResult:
    """A finished (or interrupted) generation: ``wav [B, C, T]`` and ``codes [B, K, T_f]``
    on the CPU; ``interrupted`` tells whether it stopped before the requested duration."""

    wav: torch.Tensor
    codes: torch.Tensor
    interrupted: bool
    duration: float


class _AnyEvent(threading.Event):
    """Reads as set when any of ``events`` (None entries ignored) is set."""

    def __init__(self, *events: threading.Event | None):
        super().__init__()
        self.events = [e for e in events if e is not None]

    def is_set(self) -> bool:
        return any(e.is_set() for e in self.events)


def _ahead(items: Iterator[Any], halt: threading.Event) -> Iterator[Any]:
    """Run the iterator ``items`` in a worker thread, one item ahead of the caller: while
    the caller works on item n, the worker makes item n + 1 (and then waits). Errors of
    the worker are raised in the caller; closing the returned iterator sets ``halt``
    (which ``items`` must watch to end early) and waits for the worker."""
    slot: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=1)

    def put(entry: tuple[str, Any]) -> bool:
        while not halt.is_set():
            try:
                slot.put(entry, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for item in items:
                if not put(("item", item)):
                    return
            put(("end", None))
        except BaseException as err:  # handed to the caller
            put(("error", err))

    worker = threading.Thread(target=work, name="longform-lm", daemon=True)
    worker.start()
    try:
        while True:
            kind, value = slot.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        halt.set()
        worker.join()


@dataclass
class GenerationStream:
    """Iterable of ``AudioChunk``; after iteration, ``interrupted`` and ``codes`` say what
    was made. Iterate once."""

    _chunks: Iterator[AudioChunk]
    interrupted: bool = False
    code_chunks: list[torch.Tensor] = field(default_factory=list)

    def __iter__(self) -> Iterator[AudioChunk]:
        try:
            for chunk in self._chunks:
                self.code_chunks.append(chunk.codes)
                yield chunk
        finally:
            self.close()

    def close(self) -> None:
        """Stop generating (the LM stops within a step); what was handed out stays."""
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()

    @property
    def codes(self) -> torch.Tensor:
        """All codes made so far, ``[B, K, T_f]`` on the CPU."""
        return torch.cat(self.code_chunks, dim=-1)


class LongformGenerator:
    """Generates pieces of any length with an LM limited to ``max_duration`` seconds.

    Args:
        lm: object with ``generate(prompt, conditions, num_samples, max_gen_len, ...,
            callback, generator)`` returning codes ``[B, K, T]`` with the prompt included.
        compression_model: object with ``decode``, ``frame_rate``, ``sample_rate``,
            ``channels``, ``num_codebooks`` and ``stream_decoder()`` (see ``StreamDecoder``).
        condition_builder: see ``ConditionBuilder``.
        max_duration: the window, in seconds.
        stride: seconds each later window adds (``extend_stride``), < ``max_duration``.
        generation_params: passed to every ``lm.generate`` call (temp, top_k, cfg_coef...).

    Attributes:
        overlap: decode each finished window's audio while the LM makes the next window
            in a worker thread (True, the default), or one after the other (False). Same
            codes and audio either way; set it on the class or on an instance.
        lm_threads: torch threads of the LM's worker thread when overlapping (None: the
            caller's count).
    """

    overlap: bool = True
    lm_threads: int | None = None

    def __init__(
        self, lm: LanguageModelLike, compression_model: CompressionModelLike,
        condition_builder: ConditionBuilder,
        max_duration: float, stride: float, generation_params: dict[str, Any] | None = None,
    ):
        self.lm = lm
        self.compression_model = compression_model
        self.condition_builder = condition_builder
        self.max_duration = float(max_duration)
        self.stride = float(stride)
        self.generation_params = dict(generation_params or {})
        if self.stride >= self.max_duration or self.stride <= 0:
            raise ValueError(
                f"The stride ({self.stride} s) must be positive and shorter than the window "
                f"({self.max_duration} s)."
            )

    @property
    def frame_rate(self) -> float:
        return float(self.compression_model.frame_rate)

    @property
    def sample_rate(self) -> int:
        return int(self.compression_model.sample_rate)

    def plan(self, request: LongformRequest) -> WindowPlan:
        """The windows ``request`` needs (validates its duration and prompt)."""
        if request.duration <= 0:
            raise ValueError(f"The duration must be > 0 seconds, got {request.duration}.")
        prompt = 0 if request.prompt is None else int(request.prompt.shape[-1])
        total = seconds_to_frames(request.duration, self.frame_rate)
        return plan_windows(
            total, seconds_to_frames(self.max_duration, self.frame_rate),
            seconds_to_frames(self.stride, self.frame_rate), prompt,
        )

    def _validate(self, request: LongformRequest) -> None:
        n = request.num_samples
        if n <= 0:
            raise ValueError(f"num_samples must be >= 1, got {n}.")
        if request.timelines is not None:
            if len(request.timelines) != n:
                raise ValueError(f"Got {len(request.timelines)} timelines for {n} samples.")
            for timeline in request.timelines:
                validate_timeline(timeline)
        if request.melodies is not None and len(request.melodies) != n:
            raise ValueError(f"Got {len(request.melodies)} melodies for {n} samples.")
        if request.melody_policy not in MELODY_POLICIES:
            raise ValueError(
                f"Unknown melody policy {request.melody_policy!r}: use one of {MELODY_POLICIES}."
            )
        if request.prompt is not None and request.prompt.shape[0] != n:
            raise ValueError(f"The prompt has {request.prompt.shape[0]} rows for {n} samples.")

    def window_conditions(
        self, request: LongformRequest, window: Window, single: bool
    ) -> list[ConditioningAttributes]:
        """The LM conditions of one window: each sample's text active where the window's
        new audio starts, and its melody from the window's absolute start time."""
        n = request.num_samples
        if request.timelines is None:
            texts: list[str | None] = [None] * n
        else:
            texts = [active_text(t, window.new_start, self.frame_rate) for t in request.timelines]
        melodies: list[torch.Tensor | None] = [None] * n
        for i, melody in enumerate(request.melodies or []):
            if melody is None or melody.shape[-1] == 0:
                continue
            if single:
                # One window: the whole melody, as the reference does.
                melodies[i] = melody
            else:
                melodies[i] = slice_melody(
                    melody, window.start / self.frame_rate, self.sample_rate,
                    self.max_duration, request.melody_policy,
                )
        conditions = self.condition_builder(texts, melodies)
        if window.start > 0:
            # A beat grid (the `beat` conditioner) goes on from the piece's start. The
            # conditions are the builder's own objects: only attributes with a beat text
            # are touched.
            for attributes in conditions:
                text = getattr(attributes, "text", None)
                if isinstance(text, dict) and text.get("beat") is not None:
                    text["beat"] = with_start(text["beat"], window.start / self.frame_rate)
        return conditions

    def iter_codes(
        self, request: LongformRequest, generator: torch.Generator | None = None,
        progress: ProgressCallback | None = None, stop: threading.Event | None = None,
    ) -> Iterator[tuple[Window, torch.Tensor]]:
        """Run the window loop, yielding each window and its new codes ``[B, K, n]``
        (CPU). Stops early, raising nothing, when ``progress`` returns False or ``stop``
        is set: the window being made then yields the frames it completed (``n`` shorter
        than the window's new region, possibly 0) and is the last."""
        self._validate(request)
        windows = self.plan(request)
        total_frames = seconds_to_frames(request.duration, self.frame_rate)
        fr = self.frame_rate
        context = request.prompt  # [B, K, P]: the codes the next window may be prompted with
        context_start = windows[0].start
        if context is not None:
            # A prompt longer than the window: only its tail can prompt the LM.
            context = context[..., context_start:]
        halted = threading.Event()  # set when `progress` returns False
        halt = _AnyEvent(stop, halted)
        for window in windows:
            if halt.is_set():
                return
            prompt = None
            if window.prompt > 0:
                assert context is not None
                offset = window.start - context_start
                prompt = context[..., offset:offset + window.prompt]  # [B, K, window.prompt]

            def on_step(step: int, steps: int, window: Window = window) -> None:
                if progress is not None:
                    made = window.new_start + (window.end - window.new_start) * step / max(steps, 1)
                    if progress(made / fr, total_frames / fr) is False:
                        halted.set()

            conditions = self.window_conditions(request, window, single=len(windows) == 1)
            codes = self.lm.generate(
                prompt, conditions, num_samples=request.num_samples,
                max_gen_len=window.length, callback=on_step, generator=generator, stop=halt,
                **self.generation_params,
            )  # [B, K, window.length], or fewer frames when stopped
            cut = codes.shape[-1] < window.length
            if codes.shape[-1] > window.length or (cut and not halt.is_set()):
                raise RuntimeError(
                    f"The LM returned {codes.shape[-1]} frames for a {window.length}-frame window."
                )
            context, context_start = codes, window.start
            yield window, codes[..., window.prompt:].cpu()
            if cut:
                return

    def stream(
        self, request: LongformRequest, generator: torch.Generator | None = None,
        progress: ProgressCallback | None = None, stop: threading.Event | None = None,
    ) -> GenerationStream:
        """Audio chunks as windows finish: one per window's new region (the first one
        starts with the prompt's audio), decoded by the streaming decoder, so that their
        concatenation equals decoding the whole code sequence at once. Bad requests raise
        here, before any work."""
        self._validate(request)
        windows = self.plan(request)
        result = GenerationStream(iter(()))
        result._chunks = self._chunks(request, windows, generator, progress, stop, result)
        return result

    def _chunks(
        self, request: LongformRequest, windows: WindowPlan, generator: torch.Generator | None,
        progress: ProgressCallback | None, stop: threading.Event | None,
        result: GenerationStream,
    ) -> Iterator[AudioChunk]:
        if self.overlap:
            closed = threading.Event()  # set when the consumer stops reading
            threads = self.lm_threads or torch.get_num_threads()
            made = _ahead(self._iter_codes_in_thread(
                request, generator, progress, _AnyEvent(stop, closed), threads), closed)
        else:
            made = self.iter_codes(request, generator, progress, stop)
        with open_stream_decoder(self.compression_model) as decoder:
            try:
                yield from self._decode_windows(request, windows, made, result, decoder)
            finally:
                # Ends the LM's worker thread too when the consumer stops early.
                close = getattr(made, "close", None)
                if close is not None:
                    close()

    def _decode_windows(
        self, request: LongformRequest, windows: WindowPlan,
        windows_made: Iterator[tuple[Window, torch.Tensor]], result: GenerationStream,
        decoder: StreamDecoder,
    ) -> Iterator[AudioChunk]:
        """Decode each window's codes from ``windows_made`` as it comes (see ``stream``)."""
        device = self._codec_device()
        pending: list[torch.Tensor] = []  # codes not decoded yet
        if request.prompt is not None:
            pending.append(request.prompt.cpu())
        emitted = 0  # audio samples handed out so far
        finished = 0
        for window, codes in windows_made:
            pending.append(codes)
            if codes.shape[-1] < window.end - window.new_start:
                break  # cut short by a stop: decoded with the rest below
            finished += 1
            chunk_codes = torch.cat(pending, dim=-1)  # [B, K, f]
            with torch.no_grad():
                # Decoder activations scale with the codes given at once: feed about a
                # second at a time so the peak does not depend on the window either.
                step = max(1, int(self.frame_rate))
                parts = [decoder.decode(piece.to(device)).cpu()
                         for piece in chunk_codes.split(step, dim=-1)]
                if window.index == len(windows) - 1:
                    parts.append(decoder.flush().cpu())
            wav = torch.cat(parts, dim=-1)  # [B, C, n]
            yield AudioChunk(wav, emitted / self.sample_rate, window.index, chunk_codes)
            emitted += wav.shape[-1]
            pending = []
        if finished == len(windows):
            return
        # Interrupted: hand out the frames of the window cut short, what the decoder
        # still holds, and an unused prompt.
        result.interrupted = True
        k = int(self.compression_model.num_codebooks)
        codes = (torch.cat(pending, dim=-1) if pending
                 else torch.zeros((request.num_samples, k, 0), dtype=torch.long))  # [B, K, f]
        with torch.no_grad():
            parts = [decoder.decode(codes.to(device))] if codes.shape[-1] else []
            wav = torch.cat(parts + [decoder.flush().to(codes.device)], dim=-1).detach().cpu()
        if wav.shape[-1] > 0 or codes.shape[-1] > 0:
            yield AudioChunk(wav, emitted / self.sample_rate, finished, codes)

    def _iter_codes_in_thread(
        self, request: LongformRequest, generator: torch.Generator | None,
        progress: ProgressCallback | None, stop: threading.Event, threads: int,
    ) -> Iterator[tuple[Window, torch.Tensor]]:
        """``iter_codes`` for the worker thread of ``_ahead``, with its own torch thread
        count (a thread's count is its own) and without autograd, as the caller's."""
        torch.set_num_threads(threads)
        with torch.no_grad():
            yield from self.iter_codes(request, generator, progress, stop)

    def _codec_device(self) -> torch.device:
        try:
            return next(iter(self.compression_model.parameters())).device
        except (AttributeError, StopIteration):
            return torch.device("cpu")

    def generate(
        self, request: LongformRequest, generator: torch.Generator | None = None,
        progress: ProgressCallback | None = None, stop: threading.Event | None = None,
    ) -> LongformResult:
        """The whole piece (or what was made before an interruption) at once."""
        stream = self.stream(request, generator, progress, stop)
        chunks = [chunk.wav for chunk in stream]
        channels = int(self.compression_model.channels)
        wav = (torch.cat(chunks, dim=-1) if chunks
               else torch.zeros((request.num_samples, channels, 0)))  # [B, C, T]
        k = int(self.compression_model.num_codebooks)
        codes = (stream.codes if stream.code_chunks
                 else torch.zeros((request.num_samples, k, 0), dtype=torch.long))  # [B, K, T_f]
        return LongformResult(wav, codes, stream.interrupted, wav.shape[-1] / self.sample_rate)
