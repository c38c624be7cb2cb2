"""BaseGenModel: a model family declares its attribute names and condition builder once;
melody support is found by the conditioner's type."""

from __future__ import annotations

from typing import ClassVar

import pytest
import torch
from _debug_musicgen import debug_melody_musicgen, debug_musicgen

from audiocraft.models import BaseGenModel, MusicGen
from audiocraft.models.genmodel import load_parts
from audiocraft.models.musicgen import prepare_chroma_for_sampling
from audiocraft.modules.conditioners import (
    ChromaStemConditioner,
    ConditionFuser,
    ConditioningAttributes,
    ConditioningProvider,
)


class CaptionGen(BaseGenModel):
    """A family whose text conditioner reads another attribute and that takes no melody."""

    TEXT_ATTRIBUTE: ClassVar[str] = "caption"

    def _build_conditions(self, texts, melodies):
        return [ConditioningAttributes(text={self.TEXT_ATTRIBUTE: t}) for t in texts]


def test_musicgen_builds_its_declared_attributes():
    model = debug_melody_musicgen()
    melody = torch.randn(1, model.sample_rate)  # [C, T]
    attributes = model._build_conditions(["calm", None], [melody, None])
    assert [a.text for a in attributes] == [{"description": "calm"}, {"description": None}]
    assert all(set(a.wav) == {MusicGen.MELODY_ATTRIBUTE} for a in attributes)
    assert attributes[0].wav["self_wav"].wav.shape == (1, 1, model.sample_rate)
    assert attributes[1].wav["self_wav"].wav.shape[-1] == 1  # the null melody


def test_a_text_only_model_gets_no_melody_attribute():
    model = debug_musicgen()
    assert model.melody_conditioner() is None
    attributes = model._build_conditions(["calm"], [None])
    assert attributes[0].wav == {}
    with pytest.raises(ValueError, match="no melody conditioner"):
        model.generate_with_chroma(["calm"], torch.randn(1, 100), model.sample_rate)


def test_melody_support_is_found_by_conditioner_type():
    melody_model = debug_melody_musicgen()
    assert isinstance(melody_model.melody_conditioner(), ChromaStemConditioner)

    class TextAsMelody(MusicGen):  # names a text conditioner: not a melody conditioner
        MELODY_ATTRIBUTE: ClassVar[str | None] = "description"

    model = debug_musicgen()
    assert TextAsMelody(model.name, model.compression_model, model.lm).melody_conditioner() is None


def test_another_family_reuses_the_engine_with_its_own_attribute():
    compression_model, lm = load_parts("debug", "cpu")
    conditioners = dict(lm.condition_provider.conditioners)
    conditioners["caption"] = conditioners.pop("description")
    lm.condition_provider = ConditioningProvider(conditioners)
    lm.fuser = ConditionFuser({method: ["caption" if n == "description" else n for n in names]
                               for method, names in lm.fuser.fuse2cond.items()})
    model = CaptionGen("caption", compression_model, lm, max_duration=1.0)
    model.set_generation_params(duration=2.0, extend_stride=0.5)  # three windows
    assert model._build_conditions(["calm"], [None])[0].text == {"caption": "calm"}
    wav, codes = model.generate(["calm", "loud"], seed=1, return_tokens=True)
    assert wav.shape == (2, model.audio_channels, 2 * model.sample_rate)
    _, unconditional = model.generate([None, None], seed=1, return_tokens=True)
    assert not torch.equal(codes, unconditional)  # the captions reached the LM
    assert model.melody_conditioner() is None


def test_prepare_chroma_for_sampling_sets_the_reference_flags():
    chroma = ChromaStemConditioner(output_dim=8, sample_rate=8000, duration=1.0,
                                   match_len_on_eval=False, use_demucs=False)
    assert chroma.use_masking and not chroma.match_len_on_eval
    prepare_chroma_for_sampling(chroma)
    assert chroma.match_len_on_eval and not chroma.use_masking


def test_a_melody_on_a_model_without_melody_is_refused_before_generating(monkeypatch):
    model = debug_musicgen()

    def never(*args, **kwargs):
        raise AssertionError("generation started")

    monkeypatch.setattr(model.lm, "generate", never)
    monkeypatch.setattr(model.compression_model, "decode", never)
    for call in (lambda: model.generate_with_chroma(["calm"], torch.randn(1, 100), 32000),
                 lambda: model.generate_stream(["calm"], melody_wavs=torch.randn(1, 100),
                                               melody_sample_rate=32000)):
        with pytest.raises(ValueError) as err:
            call()
        # The message names the models that can.
        for name in ("facebook/musicgen-melody", "facebook/musicgen-stereo-melody",
                     "facebook/musicgen-style"):
            assert name in str(err.value)
