"""Inference precisions (models/precision.py): exact float32, bounded lossy ones."""

import copy

import pytest
import torch
from lm_fixture_utils import tiny_lm
from torch import nn

from audiocraft.models.musicgen import MusicGen
from audiocraft.models.precision import (
    DEFAULT_THREADS,
    DEVIATION_BOUNDS,
    apply_precision,
    check_precision,
    decoder_weight_bytes,
    guided_step_logits,
    measure_deviation,
    suggested_threads,
    use_suggested_threads,
)
from audiocraft.modules.conditioners import ConditioningAttributes

LOSSY = ["bfloat16", "float16", "int8"]


def conditions():
    return [ConditioningAttributes(text={"description": t}) for t in "ac"]


def test_float32_changes_nothing():
    lm = tiny_lm()
    before = lm.generate(None, conditions(), max_gen_len=12, use_sampling=False)
    state = {k: v.clone() for k, v in lm.state_dict().items()}
    assert apply_precision(lm, "float32") is lm
    assert lm.precision == "float32"
    assert all(torch.equal(state[k], v) for k, v in lm.state_dict().items())
    after = lm.generate(None, conditions(), max_gen_len=12, use_sampling=False)
    assert torch.equal(before, after)


@pytest.mark.parametrize("fuse", ["cross", "prepend"])
@pytest.mark.parametrize("precision", LOSSY)
def test_lossy_precisions_stay_within_their_bounds(precision, fuse):
    reference = tiny_lm(fuse=fuse)
    lm = apply_precision(copy.deepcopy(reference), precision)
    deviation, _ = measure_deviation(reference, lm, conditions(), steps=40)
    max_error, min_agreement = DEVIATION_BOUNDS[precision]
    assert 0 < deviation.logit_error <= max_error
    assert deviation.agreement >= min_agreement
    codes = lm.generate(None, conditions(), max_gen_len=20, top_k=10,
                        generator=torch.Generator().manual_seed(0))
    assert codes.shape == (2, 4, 20) and codes.min() >= 0 and codes.max() < lm.card


@pytest.mark.parametrize("precision", LOSSY)
def test_lossy_logits_are_finite(precision):
    lm = apply_precision(tiny_lm(), precision)
    sequence = torch.randint(0, lm.card, (2, 4, 16))  # [B, K, S]
    logits = guided_step_logits(lm, conditions(), sequence)
    assert logits.shape == (2, 4, 16, lm.card) and torch.isfinite(logits).all()


def test_int8_quantises_every_decoder_linear_and_keeps_conditioners():
    lm = tiny_lm()
    float_bytes = decoder_weight_bytes(lm)
    apply_precision(lm, "int8")
    decoder = [lm.emb, lm.transformer, lm.linears]
    assert not any(isinstance(m, nn.Linear) for part in decoder for m in part.modules())
    assert all(a.in_proj_weight is None for a in lm.transformer.modules()
               if hasattr(a, "in_proj_modules"))
    assert decoder_weight_bytes(lm) == float_bytes // 4
    assert all(p.dtype == torch.float32 for p in lm.condition_provider.parameters())


@pytest.mark.parametrize("precision", ["bfloat16", "float16"])
def test_half_precisions_cast_the_decoder_only(precision):
    lm = apply_precision(tiny_lm(), precision)
    dtype = getattr(torch, precision)
    assert all(p.dtype == dtype for p in lm.transformer.parameters())
    assert all(p.dtype == torch.float32 for p in lm.condition_provider.parameters())


def test_bad_requests_say_what_to_do():
    with pytest.raises(ValueError, match="choose one of"):
        check_precision("int4")
    lm = apply_precision(tiny_lm(), "int8")
    assert apply_precision(lm, "int8") is lm
    with pytest.raises(ValueError, match="load the float32 weights again"):
        apply_precision(lm, "bfloat16")
    with pytest.raises(ValueError, match="choose one of"):
        MusicGen.get_pretrained("debug", device="cpu", precision="fp8")


@pytest.mark.parametrize("precision", LOSSY)
def test_get_pretrained_in_each_precision(precision):
    model = MusicGen.get_pretrained("debug", device="cpu", precision=precision)
    assert model.lm.precision == precision
    model.set_generation_params(duration=1.0)
    wav = model.generate(["calm piano"], seed=0)
    assert wav.shape == (1, 1, model.sample_rate) and torch.isfinite(wav).all()


def test_suggested_threads_follow_model_size():
    small = tiny_lm()
    assert suggested_threads(small) == 1
    assert suggested_threads(small, batch=8) == 1  # tiny operations: a batch does not help
    large = tiny_lm(dim=512, num_heads=8, num_layers=8, card=64)  # ~120 MB of float32 weights
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)  # a previous automatic choice does not stick
        assert suggested_threads(large) == DEFAULT_THREADS
        assert suggested_threads(apply_precision(large, "int8")) == 1  # 30 MB in int8
        assert use_suggested_threads(small) == 1 and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_deviation_of_float32_against_itself_is_zero():
    reference = tiny_lm()
    deviation, _ = measure_deviation(reference, copy.deepcopy(reference), conditions(), 30)
    assert deviation.logit_error == 0 and deviation.agreement == 1.0
