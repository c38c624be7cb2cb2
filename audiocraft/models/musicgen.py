"""MusicGen: the public sampling API (text, melody and audio prompts, any length).

Same names and defaults as the reference audiocraft ``MusicGen``; every generation goes
through the long-form engine (``longform.py``), which makes pieces longer than the
model's window by chaining windows at the token level. Additions: a ``seed`` and a
``stop`` event on every ``generate*`` method, ``generate_timeline`` (texts that change
over time), ``generate_stream`` (audio chunks as they are made) and a melody policy.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import torch

from .longform import (
    MELODY_POLICIES,
    GenerationStream,
    LongformGenerator,
    LongformRequest,
    LongformResult,
    MelodyPolicy,
    Timeline,
    Window,
    plan_windows,
)

# Reference short names, still accepted.
_SHORT_NAMES = {n: f"facebook/musicgen-{n}" for n in ("small", "medium", "large", "melody")}
REFERENCE_STRIDE = 18.0  # seconds: the reference extend_stride default
FALLBACK_STRIDE_FRACTION = 0.6  # 18 / 30: the reference's share of new audio per window

MelodyList = Sequence["torch.Tensor | None"]


def default_stride(max_duration: float) -> float:
    """The reference ``extend_stride`` (18 s) when it fits in the window, else the same
    share of the window (60%): windows of 18 s or less still chain."""
    if REFERENCE_STRIDE < max_duration:
        return REFERENCE_STRIDE
    return round(FALLBACK_STRIDE_FRACTION * max_duration, 6)  # 3.6, not 3.5999999999999996


class MusicGen:
    """Text-to-music generation with a compression model and a language model.

    Args:
        name: the model's name (for reference only).
        compression_model: a ``CompressionModel`` (audio <-> codes).
        lm: an ``LMModel`` over the compression model's codes.
        max_duration: the window, in seconds, the LM was trained on; read from
            ``lm.cfg.dataset.segment_duration`` when None (30 s if the LM has no config).
    """

    def __init__(self, name: str, compression_model: Any, lm: Any,
                 max_duration: float | None = None):
        self.name = name
        self.compression_model = compression_model.eval()
        self.lm = lm.eval()
        if max_duration is None:
            cfg = getattr(lm, "cfg", None)
            try:
                max_duration = float(cfg.dataset.segment_duration)  # type: ignore[union-attr]
            except (AttributeError, TypeError, ValueError):
                max_duration = 30.0
        self.max_duration: float = float(max_duration)
        self.device = next(iter(lm.parameters())).device
        self.generation_params: dict[str, Any] = {}
        self.duration = 15.0
        self.extend_stride = default_stride(self.max_duration)
        self.melody_policy: MelodyPolicy = "loop"
        self._progress_callback: Callable[[int, int], Any] | None = None
        self.last_interrupted = False
        self.set_generation_params(duration=15)

    # ---- loading ----

    @staticmethod
    def get_pretrained(name: str = "facebook/musicgen-melody",
                       device: str | torch.device | None = None,
                       precision: str = "float32") -> MusicGen:
        """Load a model by name or path, with no network.

        Names: ``debug`` (tiny random weights, for tests), ``toy`` (the model shipped
        with the project), ``facebook/musicgen-{small,medium,large,melody,melody-large,
        stereo-*}`` (from the HF cache), or a local folder or file in the audiocraft hub
        format (``state_dict.bin`` + ``compression_state_dict.bin``) or the Hugging Face
        transformers format (``config.json`` + weights).

        ``precision``: the LM's precision for sampling, ``float32`` (exact), ``bfloat16``,
        ``float16`` or ``int8`` (CPU); applied after the float32 weights load (see
        ``models/precision.py``).
        """
        from .precision import apply_precision, check_precision
        check_precision(precision)
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if name == "debug":
            from .builders import get_debug_compression_model, get_debug_lm_model
            lm = apply_precision(get_debug_lm_model(device), precision)
            return MusicGen(name, get_debug_compression_model(device), lm, max_duration=30)
        # "toy" resolves to the shipped files (hub.TOY_MODEL_DIR) in the loaders, which
        # say how to build them when they are missing.
        source = _SHORT_NAMES.get(name, name)
        from .loaders import load_compression_model, load_lm_model
        lm = load_lm_model(source, device=device)
        compression_model = load_compression_model(source, device=device)
        conditioners = lm.condition_provider.conditioners
        if "self_wav" in conditioners:
            melody = conditioners["self_wav"]
            # As the reference does at sampling time: match the chroma to the window and
            # do not mask it by the melody's length.
            if hasattr(melody, "match_len_on_eval"):
                melody.match_len_on_eval = True
            if hasattr(melody, "use_masking"):
                melody.use_masking = False
        return MusicGen(name, compression_model, apply_precision(lm, precision))

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
        from .sampling import check_guidance_coef, check_sampling_args
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

    def generate_with_chroma(self, descriptions: Sequence[str | None],
                             melody_wavs: torch.Tensor | MelodyList, melody_sample_rate: int,
                             progress: bool = False, return_tokens: bool = False,
                             **options: Any) -> Any:
        """Text plus melody: ``melody_wavs`` ``[B, C, T]``, ``[C, T]`` or a list of ``[C, T]``
        (or None) at ``melody_sample_rate``. Each window gets the melody from its own
        start time (see ``melody_policy`` for melodies shorter than the piece)."""
        melodies = self._prepare_melodies(melody_wavs, melody_sample_rate)
        request = self._request(list(descriptions), melodies=melodies)
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
            return self.compression_model.decode(gen_tokens.to(self.device), None)  # type: ignore[no-any-return]

    def window_plan(self, prompt_seconds: float = 0.0) -> list[Window]:
        """The LM calls the current settings make (``Window.start``/``end`` in frames;
        divide by ``frame_rate`` for seconds), for an audio prompt of ``prompt_seconds``."""
        prompt = int(prompt_seconds * self.frame_rate + 1e-6)
        total = int(self.duration * self.frame_rate + 1e-6)
        return plan_windows(total, int(self.max_duration * self.frame_rate + 1e-6),
                            int(self.extend_stride * self.frame_rate + 1e-6), prompt)

    # ---- internals ----

    def engine(self) -> LongformGenerator:
        """The long-form engine with the current settings."""
        return LongformGenerator(self.lm, self.compression_model, self._build_conditions,
                                 self.max_duration, self.extend_stride, self.generation_params)

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

    def _progress(self, show: bool) -> Callable[[float, float], bool | None] | None:
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

    def _has_melody_conditioner(self) -> bool:
        return "self_wav" in getattr(self.lm.condition_provider, "conditioners", {})

    def _build_conditions(self, texts: list[str | None],
                          melodies: list[torch.Tensor | None]) -> list[Any]:
        """One ``ConditioningAttributes`` per sample, as the reference builds them."""
        from ..modules.conditioners import (
            ConditioningAttributes,
            WavCondition,
            null_wav_condition,
        )
        attributes = [ConditioningAttributes(text={"description": text}) for text in texts]
        if self._has_melody_conditioner():
            for attr, melody in zip(attributes, melodies):
                if melody is None:
                    attr.wav["self_wav"] = null_wav_condition(1, self.sample_rate, self.device)
                else:
                    attr.wav["self_wav"] = WavCondition(
                        melody[None].to(self.device),  # [1, C, T]
                        torch.tensor([melody.shape[-1]], device=self.device),
                        [self.sample_rate], [None], [0.0])
        return attributes

    def _prepare_melodies(self, melody_wavs: torch.Tensor | MelodyList,
                          melody_sample_rate: int) -> list[torch.Tensor | None]:
        if not self._has_melody_conditioner():
            raise ValueError(
                f"The model '{self.name}' has no melody conditioner: use a melody model "
                "(e.g. facebook/musicgen-melody) for generate_with_chroma.")
        if isinstance(melody_wavs, torch.Tensor):
            if melody_wavs.dim() == 2:
                melody_wavs = melody_wavs[None]
            if melody_wavs.dim() != 3:
                raise ValueError(
                    f"Melody wavs should be [B, C, T] or [C, T], got {tuple(melody_wavs.shape)}.")
            melody_wavs = list(melody_wavs)
        from ..data.audio_utils import convert_audio
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
        if prompt.dim() == 2:
            prompt = prompt[None]
        if prompt.dim() != 3 or prompt.shape[-1] == 0:
            raise ValueError(
                f"The audio prompt should be a non-empty [B, C, T] or [C, T] tensor, got "
                f"{tuple(prompt.shape)}.")
        from ..data.audio_utils import convert_audio
        prompt = convert_audio(prompt.float(), prompt_sample_rate, self.sample_rate,
                               self.audio_channels).to(self.device)
        with torch.no_grad():
            codes, scale = self.compression_model.encode(prompt)  # [B, K, P]
        if scale is not None:
            raise ValueError("Audio prompts need a compression model without renormalisation.")
        return codes  # type: ignore[no-any-return]
