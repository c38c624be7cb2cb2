"""MusicGen: the public sampling API (text, melody and audio prompts, any length).

Same names and defaults as the reference audiocraft ``MusicGen``; every generation goes
through the long-form engine (``longform.py``), which makes pieces longer than the
model's window by chaining windows at the token level. Additions: a ``seed`` and a
``stop`` event on every ``generate*`` method, ``generate_timeline`` (texts that change
over time), ``generate_stream`` (audio chunks as they are made) and a melody policy.

Everything but MusicGen's own conditioning lives in ``BaseGenModel`` (``genmodel.py``):
this module declares the attributes MusicGen's conditioners read (a ``description`` text,
a ``self_wav`` melody) and builds them for each window. Models with conditioners on
``bpm`` or ``key`` (trained from the metadata of their samples, e.g. the ``number``
conditioner) get them from ``set_condition_values`` or, when not given, from the
description's words (``conditioners.captions``: "a slow rock ballad at 128 bpm").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import torch

from ..modules.conditioners import (
    ChromaStemConditioner,
    ConditioningAttributes,
    JointEmbedCondition,
    StyleConditioner,
    WavCondition,
    caption_attributes,
    null_wav_condition,
)
from .genmodel import (  # noqa: F401  (re-exported: importable from musicgen as before)
    FALLBACK_STRIDE_FRACTION,
    REFERENCE_STRIDE,
    BaseGenModel,
    MelodyList,
    default_stride,
    load_parts,
)
from .hub import MELODY_MODELS  # noqa: F401  (re-exported: the models that take a melody)
from .params import check_texts
from .precision import apply_precision, check_precision

# Reference short names, still accepted.
_SHORT_NAMES = {n: f"facebook/musicgen-{n}" for n in ("small", "medium", "large", "melody")}


def prepare_chroma_for_sampling(conditioner: ChromaStemConditioner) -> None:
    """As the reference does at sampling time: match the chroma to the window and do not
    mask it by the melody's length (the released melody models are sampled this way)."""
    conditioner.match_len_on_eval = True
    conditioner.use_masking = False


class MusicGen(BaseGenModel):
    """Text-to-music generation with a compression model and a language model.

    Args:
        name: the model's name (for reference only).
        compression_model: a ``CompressionModel`` (audio <-> codes).
        lm: an ``LMModel`` over the compression model's codes.
        max_duration: the window, in seconds, the LM was trained on; read from
            ``lm.cfg.dataset.segment_duration`` when None (30 s if the LM has no config).
    """

    TEXT_ATTRIBUTE: ClassVar[str] = "description"  # text conditioner: the description
    MELODY_ATTRIBUTE: ClassVar[str | None] = "self_wav"  # chroma conditioner: the melody
    # Attributes read from the description when the LM conditions on them (and no value
    # is set by `set_condition_values`).
    CAPTION_ATTRIBUTES: ClassVar[tuple[str, ...]] = ("bpm", "key")
    # The attribute of a beat grid (the `beat` conditioner), fed with the bpm read above.
    BEAT_ATTRIBUTE: ClassVar[str] = "beat"

    def set_condition_values(self, **values: float | str | None) -> None:
        """Explicit values of the attributes read from captions (``bpm=128``,
        ``key="A minor"``; None: read from each description again). They apply to every
        sample and window until changed, and only where the LM has a conditioner on them."""
        unknown = sorted(set(values) - set(self.CAPTION_ATTRIBUTES))
        if unknown:
            raise ValueError(f"Unknown condition values {unknown}: the known ones are "
                             f"{list(self.CAPTION_ATTRIBUTES)}.")
        explicit = dict(getattr(self, "condition_values", {}))
        explicit.update(values)
        self.condition_values = {k: v for k, v in explicit.items() if v is not None}

    def caption_attributes_read(self) -> list[str]:
        """The attributes of ``CAPTION_ATTRIBUTES`` the LM has a conditioner on (``bpm``
        also when it has a beat grid, which the bpm feeds)."""
        names = self.lm.condition_provider.text_conditions
        read = [name for name in self.CAPTION_ATTRIBUTES if name in names]
        if self.BEAT_ATTRIBUTE in names and "bpm" not in read:
            read.insert(0, "bpm")  # read for the beat grid
        return read

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
        check_precision(precision)
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if name == "debug":
            compression_model, lm = load_parts(name, device)
            return MusicGen(name, compression_model, apply_precision(lm, precision),
                            max_duration=30)
        compression_model, lm = load_parts(_SHORT_NAMES.get(name, name), device)
        model = MusicGen(name, compression_model, apply_precision(lm, precision))
        melody = model.melody_conditioner()
        if isinstance(melody, ChromaStemConditioner):
            prepare_chroma_for_sampling(melody)
        return model

    def generate_with_chroma(self, descriptions: Sequence[str | None],
                             melody_wavs: torch.Tensor | MelodyList, melody_sample_rate: int,
                             progress: bool = False, return_tokens: bool = False,
                             **options: Any) -> Any:
        """Text plus melody: ``melody_wavs`` ``[B, C, T]``, ``[C, T]`` or a list of ``[C, T]``
        (or None) at ``melody_sample_rate``. Each window gets the melody from its own
        start time (see ``melody_policy`` for melodies shorter than the piece)."""
        melodies = self._prepare_melodies(melody_wavs, melody_sample_rate)
        request = self._request(check_texts(descriptions), melodies=melodies)
        return self._generate(request, progress, return_tokens, **options)

    def set_style_conditioner_params(self, eval_q: int = 3, excerpt_length: float = 3.0,
                                     ds_factor: int | None = None,
                                     encodec_n_q: int | None = None) -> None:
        """Style models (MusicGen-Style) only: ``eval_q`` quantiser codebooks (1 to the
        model's ``n_q_out``; fewer follow the style more loosely), ``excerpt_length``
        seconds taken from the middle of the style audio given to
        ``generate_with_chroma``, and the downsampling factor. Pair with
        ``set_generation_params(cfg_coef_beta=...)`` (double guidance: the reference uses
        cfg_coef 3 and cfg_coef_beta 5)."""
        style = self.melody_conditioner()
        if not isinstance(style, StyleConditioner):
            raise ValueError(
                f"The model '{self.name}' has no style conditioner: style settings need a "
                "MusicGen-Style model (conditioner `style` on self_wav).")
        style.set_params(eval_q=eval_q, excerpt_length=excerpt_length, ds_factor=ds_factor,
                         encodec_n_q=encodec_n_q)

    def _text_only(self, text: str | None) -> JointEmbedCondition:
        """A joint-embedding condition of one text and no audio (a silent length-0 wav)."""
        return JointEmbedCondition(
            torch.zeros(1, 1, 1, device=self.device), [text],
            torch.zeros(1, dtype=torch.long, device=self.device), [self.sample_rate],
            [None], [None])

    def _build_conditions(self, texts: list[str | None],
                          melodies: list[torch.Tensor | None]) -> list[ConditioningAttributes]:
        """One ``ConditioningAttributes`` per sample, as the reference builds them: the
        text as ``description``, and for melody models the melody (or a null wav) as
        ``self_wav``. When ``description`` is a joint text/audio conditioner (CLAP), the
        text goes there with a null wav: such models are sampled from text."""
        joint = self.TEXT_ATTRIBUTE in self.lm.condition_provider.joint_embed_conditions
        attributes = [
            ConditioningAttributes(joint_embed={self.TEXT_ATTRIBUTE: self._text_only(text)})
            if joint else ConditioningAttributes(text={self.TEXT_ATTRIBUTE: text})
            for text in texts]
        names = self.lm.condition_provider.text_conditions
        read = [name for name in self.CAPTION_ATTRIBUTES if name in names]
        beat = self.BEAT_ATTRIBUTE in names
        if read or beat:
            explicit = getattr(self, "condition_values", {})
            for attr, text in zip(attributes, texts):
                found = caption_attributes(text, **explicit)
                attr.text.update({name: found[name] for name in read})
                if beat:  # the beat grid starts with the piece (see conditioners/beat.py)
                    attr.text[self.BEAT_ATTRIBUTE] = found["bpm"]
        melody_attribute = self.MELODY_ATTRIBUTE
        if melody_attribute is not None and self.melody_conditioner() is not None:
            for attr, melody in zip(attributes, melodies):
                if melody is None:
                    attr.wav[melody_attribute] = null_wav_condition(
                        1, self.sample_rate, self.device)
                else:
                    attr.wav[melody_attribute] = WavCondition(
                        melody[None].to(self.device),  # [1, C, T]
                        torch.tensor([melody.shape[-1]], device=self.device),
                        [self.sample_rate], [None], [0.0])
        return attributes
