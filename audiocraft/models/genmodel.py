"""The generic generation model: a compression model, a language model over its codes,
condition building and the long-form engine, behind the sampling API.

``BaseGenModel`` holds everything that does not depend on what the model is conditioned
on: loading, settings, the ``generate*`` plumbing (seeds, progress, stop events,
streaming) and the window plan. A model family (``MusicGen``) subclasses it and declares,
once, the attribute names its conditioners read and how a window's texts and melody
slices become ``ConditioningAttributes`` (``_build_conditions``). Every generation goes
through ``LongformGenerator`` (``longform.py``), so any length works for every family.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import torch

from ..data.audio_utils import convert_audio
from ..modules.conditioners import ConditioningAttributes, WaveformConditioner
from . import builders, loaders
from .encodec import CompressionModel
from .lm import LMModel
from .longform import (
    MELODY_POLICIES,
    GenerationStream,
    LongformGenerator,
    LongformRequest,
    LongformResult,
    MelodyPolicy,
    ProgressCallback,
    Timeline,
    Window,
    plan_windows,
)
from .sampling import check_guidance_coef, check_sampling_args

REFERENCE_STRIDE = 18.0  # seconds: the reference extend_stride default
FALLBACK_STRIDE_FRACTION = 0.6  # 18 / 30: the reference's share of new audio per window
DEFAULT_WINDOW = 30.0  # seconds: the window of an LM without a config

MelodyList = Sequence["torch.Tensor | None"]


def default_stride(max_duration: float) -> float:
    """The reference ``extend_stride`` (18 s) when it fits in the window, else the same
    share of the window (60%): windows of 18 s or less still chain."""
    if REFERENCE_STRIDE < max_duration:
        return REFERENCE_STRIDE
    return round(FALLBACK_STRIDE_FRACTION * max_duration, 6)  # 3.6, not 3.5999999999999996


def load_parts(name: str, device: str | torch.device) -> tuple[CompressionModel, LMModel]:
    """The compression model and LM of ``name``, with no network: ``debug`` (the tiny
    presets of ``builders``), else whatever ``loaders`` resolves (``toy``, a hub id in
    the HF cache, a local folder or file, in the audiocraft hub or transformers format)."""
    if name == "debug":
        return (builders.get_debug_compression_model(device),
                builders.get_debug_lm_model(device))
    # "toy" resolves to the shipped files (hub.TOY_MODEL_DIR) in the loaders, which say
    # how to build them when they are missing.
    lm = loaders.load_lm_model(name, device=device)
    return loaders.load_compression_model(name, device=device), lm


class BaseGenModel(ABC):
    """A compression model plus an LM over its codes, sampled through the long-form engine.

    Args:
        name: the model's name (for reference only).
        compression_model: audio ``[B, C, T]`` <-> codes ``[B, K, T_f]``.
        lm: an ``LMModel`` over the compression model's codes.
        max_duration: the window, in seconds, the LM was trained on; read from
            ``lm.cfg.dataset.segment_duration`` when None (30 s if the LM has no config).

    A family declares ``MELODY_ATTRIBUTE`` (the wav attribute its melody conditioner
    reads, or None) and implements ``_build_conditions``.
    """

    MELODY_ATTRIBUTE: ClassVar[str | None] = None

    def __init__(self, name: str, compression_model: CompressionModel, lm: LMModel,
                 max_duration: float | None = None):
        self.name = name
        self.compression_model = compression_model.eval()
        self.lm = lm.eval()
        if max_duration is None:
            try:
                max_duration = float(lm.cfg.dataset.segment_duration)
            except (AttributeError, TypeError, ValueError):
                max_duration = DEFAULT_WINDOW
        self.max_duration: float = float(max_duration)
        self.device = next(iter(lm.parameters())).device
        self.generation_params: dict[str, Any] = {}
        self.duration = 15.0
        self.extend_stride = default_stride(self.max_duration)
        self.melody_policy: MelodyPolicy = "loop"
        self._progress_callback: Callable[[int, int], Any] | None = None
        self.last_interrupted = False
        self.set_generation_params(duration=15)

    # ---- what a family declares ----

    @abstractmethod
    def _build_conditions(self, texts: list[str | None],
                          melodies: list[torch.Tensor | None]) -> list[ConditioningAttributes]:
        """One ``ConditioningAttributes`` per sample of a window, from its texts and its
        melody slices (``[C, T]`` at ``sample_rate``, or None)."""

    def melody_conditioner(self) -> WaveformConditioner | None:
        """The LM's conditioner of ``MELODY_ATTRIBUTE`` when it is a waveform conditioner
        (the model then takes melodies), else None."""
        if self.MELODY_ATTRIBUTE is None:
            return None
        conditioners = self.lm.condition_provider.conditioners
        name = self.MELODY_ATTRIBUTE
        conditioner = conditioners[name] if name in conditioners else None
        return conditioner if isinstance(conditioner, WaveformConditioner) else None

    # ---- properties and settings ----

    @property
    def frame_rate(self) -> float:
        """Codec frames per second."""
        return float(self.compression_model.frame_rate)

    @property
    def sample_rate(self) -> int:
        """Audio samples per second."""
        return int(self.compression_model.sample_rate)

    @property
    def audio_channels(self) -> int:
        """Channels of the generated audio."""
        return int(self.compression_model.channels)

    def set_generation_params(
        self, use_sampling: bool = True, top_k: int = 250, top_p: float = 0.0,
        temperature: float = 1.0, duration: float = 30.0,
        cfg_coef: float | Sequence[float] | None = None, cfg_coef_beta: float | None = None,
        two_step_cfg: bool = False,
        extend_stride: float | None = None, melody_policy: MelodyPolicy = "loop",
    ) -> None:
        """Sampling settings for the next generations (reference names and defaults).

        Args:
            cfg_coef: classifier-free guidance: one number, or one per codebook (codebook
                k's logits guided by ``cfg_coef[k]``). None: the model's own default, its
                checkpoint's ``classifier_free_guidance.inference_coef`` (3 for the
                official models; ``toy`` carries its own, see MODEL_CARD.md).
            duration: seconds of the whole piece (a continuation's prompt included); any
                length: longer than ``max_duration`` chains windows.
            extend_stride: seconds each later window adds; must be < ``max_duration``.
                None: 18 s (the reference) when it fits, else 60% of the window.
            melody_policy: what windows past the end of a short melody get: ``loop``
                (the reference), ``hold`` (its last window-long part) or ``stop``.
        """
        if duration <= 0:
            raise ValueError(f"duration must be > 0 seconds, got {duration}.")
        stride = default_stride(self.max_duration) if extend_stride is None else extend_stride
        if not 0 < stride < self.max_duration:
            raise ValueError(
                f"extend_stride ({stride} s) must be > 0 and shorter than the model's window "
                f"max_duration ({self.max_duration} s): each window keeps the previous one's "
                "last (max_duration - extend_stride) seconds as its prompt."
            )
        if melody_policy not in MELODY_POLICIES:
            raise ValueError(
                f"melody_policy must be one of {MELODY_POLICIES}, got {melody_policy!r}.")
        check_sampling_args(temperature, top_k, top_p)
        coef = check_guidance_coef(self.lm.cfg_coef if cfg_coef is None else cfg_coef,
                                   self.lm.n_q)
        self.duration = float(duration)
        self.extend_stride = float(stride)
        self.melody_policy = melody_policy
        self.generation_params = {
            "use_sampling": use_sampling,
            "temp": temperature,
            "top_k": top_k,
            "top_p": top_p,
            "cfg_coef": coef,
            "two_step_cfg": two_step_cfg,
            "cfg_coef_beta": cfg_coef_beta,
        }

    def set_custom_progress_callback(self, progress_callback: Callable[[int, int], Any] | None
                                     = None) -> None:
        """Call ``progress_callback(generated_frames, total_frames)`` during generation
        (divide by ``frame_rate`` for seconds). Returning False stops the generation,
        which then returns the audio made so far."""
        self._progress_callback = progress_callback

    # ---- generation ----

    def generate_unconditional(self, num_samples: int, progress: bool = False,
                               return_tokens: bool = False, **options: Any) -> Any:
        """``num_samples`` pieces without text. Returns wav ``[B, C, T]`` (and codes
        ``[B, K, T_f]`` with ``return_tokens``). ``options``: ``seed``, ``stop``."""
        request = self._request([None] * num_samples)
        return self._generate(request, progress, return_tokens, **options)

    def generate(self, descriptions: Sequence[str | None], progress: bool = False,
                 return_tokens: bool = False, **options: Any) -> Any:
        """One piece per text description. Returns wav ``[B, C, T]`` (and codes with
        ``return_tokens``). ``options``: ``seed`` (int), ``stop`` (threading.Event)."""
        request = self._request(list(descriptions))
        return self._generate(request, progress, return_tokens, **options)

    def generate_continuation(self, prompt: torch.Tensor, prompt_sample_rate: int,
                              descriptions: Sequence[str | None] | None = None,
                              progress: bool = False, return_tokens: bool = False,
                              **options: Any) -> Any:
        """Continue audio ``prompt`` (``[B, C, T]`` or ``[C, T]`` at ``prompt_sample_rate``)
        up to ``duration`` seconds in all. The output starts with the prompt. A prompt
        longer than the window is kept whole; its last part prompts the LM."""
        prompt_codes = self._encode_prompt(prompt, prompt_sample_rate)
        texts: list[str | None] = ([None] * len(prompt_codes) if descriptions is None
                                   else list(descriptions))
        request = self._request(texts, prompt=prompt_codes)
        return self._generate(request, progress, return_tokens, **options)

    def generate_timeline(self, timelines: Sequence[Timeline], progress: bool = False,
                          return_tokens: bool = False, **options: Any) -> Any:
        """One piece per timeline: a list of ``(start_seconds, text)`` sorted by time. Each
        window is conditioned on the text active where its new audio starts."""
        request = self._request([None] * len(timelines), timelines=list(timelines))
        return self._generate(request, progress, return_tokens, **options)

    def generate_stream(
        self, descriptions: Sequence[str | None] | None = None, *, num_samples: int | None = None,
        timelines: Sequence[Timeline] | None = None,
        melody_wavs: torch.Tensor | MelodyList | None = None,
        melody_sample_rate: int | None = None, prompt: torch.Tensor | None = None,
        prompt_sample_rate: int | None = None, seed: int | None = None,
        stop: threading.Event | None = None, progress: bool = False,
    ) -> GenerationStream:
        """Like the ``generate*`` methods, but an iterable of ``AudioChunk`` (``.wav`` is
        ``[B, C, n]``), one per window's new region, handed out as each window finishes.
        The chunks concatenate to the same audio as the one-shot methods with the same
        seed. After iteration, ``.interrupted`` and ``.codes`` tell what was made."""
        melodies = None
        if melody_wavs is not None:
            if melody_sample_rate is None:
                raise ValueError("Pass melody_sample_rate with melody_wavs.")
            melodies = self._prepare_melodies(melody_wavs, melody_sample_rate)
        prompt_codes = None
        if prompt is not None:
            if prompt_sample_rate is None:
                raise ValueError("Pass prompt_sample_rate with prompt.")
            prompt_codes = self._encode_prompt(prompt, prompt_sample_rate)
        if timelines is not None:
            texts: list[str | None] = [None] * len(timelines)
        elif descriptions is not None:
            texts = list(descriptions)
        else:
            count = num_samples or (len(prompt_codes) if prompt_codes is not None
                                    else len(melodies) if melodies is not None else 1)
            texts = [None] * count
        request = self._request(texts, timelines=None if timelines is None else list(timelines),
                                melodies=melodies, prompt=prompt_codes)
        return self.engine().stream(request, self._generator(seed), self._progress(progress),
                                    stop)

    def generate_audio(self, gen_tokens: torch.Tensor) -> torch.Tensor:
        """Decode codes ``[B, K, T_f]`` to audio ``[B, C, T]``."""
        if gen_tokens.dim() != 3:
            raise ValueError(f"Expected codes [B, K, T], got shape {tuple(gen_tokens.shape)}.")
        with torch.no_grad():
            return self.compression_model.decode(gen_tokens.to(self.device), None)

    def window_plan(self, prompt_seconds: float = 0.0) -> list[Window]:
        """The LM calls the current settings make (``Window.start``/``end`` in frames;
        divide by ``frame_rate`` for seconds), for an audio prompt of ``prompt_seconds``."""
        prompt = int(prompt_seconds * self.frame_rate + 1e-6)
        total = int(self.duration * self.frame_rate + 1e-6)
        return plan_windows(total, int(self.max_duration * self.frame_rate + 1e-6),
                            int(self.extend_stride * self.frame_rate + 1e-6), prompt)

    def engine(self) -> LongformGenerator:
        """The long-form engine with the current settings."""
        return LongformGenerator(self.lm, self.compression_model, self._build_conditions,
                                 self.max_duration, self.extend_stride, self.generation_params)

    # ---- internals ----

    def _request(self, texts: list[str | None], timelines: list[Timeline] | None = None,
                 melodies: list[torch.Tensor | None] | None = None,
                 prompt: torch.Tensor | None = None) -> LongformRequest:
        if len(texts) == 0:
            raise ValueError("Nothing to generate: pass at least one description or sample.")
        if timelines is None:
            timelines = [[(0.0, text)] for text in texts]
        if melodies is not None and len(melodies) != len(timelines):
            raise ValueError(f"Got {len(melodies)} melodies for {len(timelines)} descriptions.")
        if prompt is not None and prompt.shape[0] != len(timelines):
            raise ValueError(f"Got {prompt.shape[0]} prompts for {len(timelines)} descriptions.")
        if prompt is not None and prompt.shape[-1] >= int(self.duration * self.frame_rate + 1e-6):
            raise ValueError(
                f"The audio prompt ({prompt.shape[-1] / self.frame_rate:.2f} s) is not shorter "
                f"than the piece (duration {self.duration} s): set a longer duration with "
                "set_generation_params(duration=...)."
            )
        return LongformRequest(len(timelines), self.duration, timelines, melodies,
                               self.melody_policy, prompt)

    def _generate(self, request: LongformRequest, progress: bool, return_tokens: bool,
                  seed: int | None = None, stop: threading.Event | None = None) -> Any:
        result: LongformResult = self.engine().generate(
            request, self._generator(seed), self._progress(progress), stop)
        self.last_interrupted = result.interrupted
        wav = result.wav.to(self.device)
        if return_tokens:
            return wav, result.codes.to(self.device)
        return wav

    def _generator(self, seed: int | None) -> torch.Generator | None:
        if seed is None:
            return None
        return torch.Generator(device=self.device).manual_seed(int(seed))

    def _progress(self, show: bool) -> ProgressCallback | None:
        custom = self._progress_callback
        if custom is None and not show:
            return None
        fr = self.frame_rate

        def report(done: float, total: float) -> bool | None:
            made, wanted = int(round(done * fr)), int(round(total * fr))
            if custom is not None:
                return custom(made, wanted)  # type: ignore[no-any-return]
            print(f"{made: 6d} / {wanted: 6d}", end="\r")
            return None

        return report

    def _prepare_melodies(self, melody_wavs: torch.Tensor | MelodyList,
                          melody_sample_rate: int) -> list[torch.Tensor | None]:
        """Melodies ``[B, C, T]``, ``[C, T]`` or a list of ``[C, T]`` (or None) -> one
        ``[C, T]`` per sample at the model's rate and channels, on its device."""
        if self.melody_conditioner() is None:
            raise ValueError(
                f"The model '{self.name}' has no melody conditioner: use a melody model "
                "for generate_with_chroma (toy-melody, shipped with the package, or "
                "facebook/musicgen-melody).")
        if isinstance(melody_wavs, torch.Tensor):
            if melody_wavs.dim() == 2:
                melody_wavs = melody_wavs[None]
            if melody_wavs.dim() != 3:
                raise ValueError(
                    f"Melody wavs should be [B, C, T] or [C, T], got {tuple(melody_wavs.shape)}.")
            melody_wavs = list(melody_wavs)
        melodies: list[torch.Tensor | None] = []
        for melody in melody_wavs:
            if melody is None:
                melodies.append(None)
                continue
            if melody.dim() != 2 or melody.shape[-1] == 0:
                raise ValueError(
                    f"Each melody must be a non-empty [C, T] tensor, got {tuple(melody.shape)}.")
            melodies.append(convert_audio(melody.float(), melody_sample_rate, self.sample_rate,
                                          self.audio_channels).to(self.device))
        return melodies

    def _encode_prompt(self, prompt: torch.Tensor, prompt_sample_rate: int) -> torch.Tensor:
        """Audio ``[B, C, T]`` or ``[C, T]`` -> codes ``[B, K, P]`` on the model's device."""
        if prompt.dim() == 2:
            prompt = prompt[None]
        if prompt.dim() != 3 or prompt.shape[-1] == 0:
            raise ValueError(
                f"The audio prompt should be a non-empty [B, C, T] or [C, T] tensor, got "
                f"{tuple(prompt.shape)}.")
        prompt = convert_audio(prompt.float(), prompt_sample_rate, self.sample_rate,
                               self.audio_channels).to(self.device)
        with torch.no_grad():
            codes, scale = self.compression_model.encode(prompt)  # [B, K, P]
        if scale is not None:
            raise ValueError("Audio prompts need a compression model without renormalisation.")
        return codes
