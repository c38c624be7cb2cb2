"""The MusicGen API on the real debug preset (window shortened to 1 s so long-form is fast)."""

from __future__ import annotations

import threading

import pytest
import torch
from _debug_musicgen import debug_melody_musicgen, debug_musicgen

from audiocraft.models.musicgen import MusicGen, default_stride
from audiocraft.modules.conditioners import (
    ConditioningAttributes,
    WavCondition,
    null_wav_condition,
)


@pytest.fixture(scope="module")
def model() -> MusicGen:
    return debug_musicgen()


def reference_attributes(model, texts, melodies):
    attributes = [ConditioningAttributes(text={"description": t}) for t in texts]
    if "self_wav" in model.lm.condition_provider.conditioners:
        for attr, melody in zip(attributes, melodies):
            attr.wav["self_wav"] = (
                null_wav_condition(1, model.sample_rate) if melody is None else
                WavCondition(melody[None], torch.tensor([melody.shape[-1]]), [model.sample_rate],
                             [None], [0.0]))
    return attributes


def reference_tokens(model, texts, melodies, prompt, generator):
    """The reference MusicGen._generate_tokens loop, written out plainly."""
    lm, fr, sr = model.lm, model.frame_rate, model.sample_rate
    duration, max_duration, params = model.duration, model.max_duration, model.generation_params
    total_gen_len = int(duration * fr)
    if duration <= max_duration:
        return lm.generate(prompt, reference_attributes(model, texts, melodies),
                           max_gen_len=total_gen_len, generator=generator, **params)
    all_tokens, prompt_length, offset = [], 0, 0
    if prompt is not None:
        all_tokens.append(prompt)
        prompt_length = prompt.shape[-1]
    stride_tokens = int(fr * model.extend_stride)
    while offset + prompt_length < total_gen_len:
        time_offset = offset / fr
        max_gen_len = int(min(duration - time_offset, max_duration) * fr)
        window_melodies = []
        for melody in melodies:
            if melody is None:
                window_melodies.append(None)
                continue
            first = int(time_offset * sr)
            positions = torch.arange(first, first + int(max_duration * sr))
            window_melodies.append(melody[..., positions % melody.shape[-1]])
        gen = lm.generate(prompt, reference_attributes(model, texts, window_melodies),
                          max_gen_len=max_gen_len, generator=generator, **params)
        all_tokens.append(gen if prompt is None else gen[..., prompt.shape[-1]:])
        prompt = gen[..., stride_tokens:]
        prompt_length = prompt.shape[-1]
        offset += stride_tokens
    return torch.cat(all_tokens, dim=-1)


@pytest.mark.parametrize("duration, stride, prompt_frames", [
    (0.8, 0.6, 0), (2.0, 0.6, 0), (2.5, 0.4, 0), (2.5, 0.8, 10), (1.6, 0.5, 4)])
def test_tokens_equal_reference_loop_on_debug(model, duration, stride, prompt_frames):
    model.set_generation_params(duration=duration, extend_stride=stride)
    texts = ["calm piano", None]
    prompt = None
    if prompt_frames:
        prompt = torch.randint(model.lm.card, (2, model.lm.n_q, prompt_frames),
                               generator=torch.Generator().manual_seed(3))
    request = model._request(texts, prompt=prompt)
    ours = model.engine().generate(request, torch.Generator().manual_seed(7))
    expected = reference_tokens(model, texts, [None, None], prompt,
                                torch.Generator().manual_seed(7))
    assert ours.codes.shape == expected.shape == (2, 4, int(duration * model.frame_rate))
    assert torch.equal(ours.codes, expected)
    torch.testing.assert_close(ours.wav, model.generate_audio(expected), rtol=0, atol=1e-5)


@pytest.mark.slow
def test_melody_tokens_equal_reference_loop_on_debug():
    model = debug_melody_musicgen()
    model.set_generation_params(duration=2.2, extend_stride=0.6)
    melodies = [torch.randn(1, int(1.3 * model.sample_rate)), None]
    request = model._request(["a", "b"], melodies=melodies)
    ours = model.engine().generate(request, torch.Generator().manual_seed(1))
    expected = reference_tokens(model, ["a", "b"], melodies, None, torch.Generator().manual_seed(1))
    assert torch.equal(ours.codes, expected)


def test_defaults_and_properties(model):
    assert model.sample_rate == 32000 and model.audio_channels == 1
    assert model.frame_rate == 25
    assert model.max_duration == 1.0
    fresh = MusicGen.get_pretrained("debug", device="cpu")
    assert fresh.max_duration == 30 and fresh.duration == 15
    assert fresh.extend_stride == 18
    assert fresh.generation_params == {
        "use_sampling": True, "temp": 1.0, "top_k": 250, "top_p": 0.0, "cfg_coef": 3.0,
        "two_step_cfg": False, "cfg_coef_beta": None}
    # A window of 18 s or less cannot take the reference 18 s stride: 60% of it instead.
    assert default_stride(10.0) == pytest.approx(6.0)
    assert default_stride(18.0) == pytest.approx(10.8)


def test_every_generate_method_on_debug(model):
    model.set_generation_params(duration=1.8)
    n = int(1.8 * model.sample_rate)
    assert model.generate_unconditional(2, seed=0).shape == (2, 1, n)
    wav, codes = model.generate(["drums", "piano"], return_tokens=True, seed=0)
    assert wav.shape == (2, 1, n) and codes.shape == (2, 4, 45)
    prompt = torch.randn(1, 1, 16000) * 0.1  # 1 s at 16 kHz
    wav = model.generate_continuation(prompt, 16000, ["go on"], seed=0)
    assert wav.shape == (1, 1, n)
    wav = model.generate_timeline([[(0.0, "soft"), (1.0, "loud")]], seed=0)
    assert wav.shape == (1, 1, n)
    stream = model.generate_stream(["x"], seed=0)
    chunks = [chunk.wav for chunk in stream]
    assert len(chunks) == len(model.window_plan()) == 3
    assert torch.cat(chunks, dim=-1).shape == (1, 1, n)
    assert torch.isfinite(torch.cat(chunks, dim=-1)).all()


def test_generate_with_chroma_on_debug_melody_variant():
    model = debug_melody_musicgen()
    model.set_generation_params(duration=1.6)
    melody = torch.randn(2, 1, 8000)  # [B, C, T] at 16 kHz: 0.5 s, shorter than the piece
    wav = model.generate_with_chroma(["a", "b"], melody, 16000, seed=0)
    assert wav.shape == (2, 1, int(1.6 * 32000))
    wav = model.generate_with_chroma(["a"], [None], 16000, seed=0)
    assert wav.shape == (1, 1, int(1.6 * 32000))


def test_melody_on_a_model_without_melody_conditioner_fails_clearly(model):
    with pytest.raises(ValueError, match="no melody conditioner"):
        model.generate_with_chroma(["a"], torch.randn(1, 1, 1000), 16000)


def test_same_seed_reproduces_streamed_or_not(model):
    model.set_generation_params(duration=2.0, extend_stride=0.6)
    one = model.generate(["same"], seed=11)
    two = model.generate(["same"], seed=11)
    streamed = torch.cat([c.wav for c in model.generate_stream(["same"], seed=11)], dim=-1)
    other = model.generate(["same"], seed=12)
    assert torch.equal(one, two)
    assert torch.equal(one, streamed)
    assert not torch.equal(one, other)


def test_streamed_equals_one_shot_decode(model):
    model.set_generation_params(duration=2.4, extend_stride=0.6)
    stream = model.generate_stream(["a", "b"], seed=5)
    streamed = torch.cat([c.wav for c in stream], dim=-1)
    one_shot = model.generate_audio(stream.codes)
    assert streamed.shape == one_shot.shape == (2, 1, int(2.4 * 32000))
    torch.testing.assert_close(streamed, one_shot, rtol=0, atol=1e-5)


def test_progress_callback_and_interruption(model):
    model.set_generation_params(duration=3.0, extend_stride=0.6)
    seen = []

    def callback(done: int, total: int) -> bool:
        seen.append((done, total))
        return done <= 40  # stop in the third window (25 frames, then 15 new per window)

    model.set_custom_progress_callback(callback)
    try:
        wav, codes = model.generate(["x"], return_tokens=True, seed=1)
    finally:
        model.set_custom_progress_callback(None)
    assert model.last_interrupted
    assert codes.shape[-1] == 40  # the first two windows: 25 + 15 frames
    assert wav.shape[-1] == 40 * 1280
    assert all(total == 75 for _, total in seen)
    full = model.generate(["x"], return_tokens=True, seed=1)[1]
    assert not model.last_interrupted
    assert torch.equal(full[..., :40], codes)

    stop = threading.Event()
    stop.set()
    wav = model.generate(["x"], seed=1, stop=stop)
    assert model.last_interrupted and wav.shape[-1] == 0


def test_a_stop_in_the_first_window_keeps_what_was_made(model):
    model.set_generation_params(duration=3.0, extend_stride=0.6)
    stop = threading.Event()
    model.set_custom_progress_callback(lambda done, total: done < 12 or stop.set())
    try:
        wav, codes = model.generate(["x"], return_tokens=True, seed=1, stop=stop)
    finally:
        model.set_custom_progress_callback(None)
    assert model.last_interrupted
    # Steps of the delay pattern: the last 3 frames of a step wait for codebooks 1-3.
    assert 0 < codes.shape[-1] < 12
    assert wav.shape[-1] == codes.shape[-1] * 1280
    full, full_codes = model.generate(["x"], return_tokens=True, seed=1)
    assert torch.equal(full_codes[..., :codes.shape[-1]], codes)
    torch.testing.assert_close(wav, model.generate_audio(codes), rtol=0, atol=1e-5)


def test_default_guidance_is_the_models_own():
    fresh = MusicGen.get_pretrained("debug", device="cpu")
    fresh.lm.cfg_coef = [1.0, 2.0, 2.0, 2.0]  # as a checkpoint's inference_coef sets it
    model = MusicGen(fresh.name, fresh.compression_model, fresh.lm, max_duration=1.0)
    assert model.generation_params["cfg_coef"] == [1.0, 2.0, 2.0, 2.0]
    model.set_generation_params(duration=0.5)
    assert model.generation_params["cfg_coef"] == [1.0, 2.0, 2.0, 2.0]
    model.set_generation_params(duration=0.5, cfg_coef=5)
    assert model.generation_params["cfg_coef"] == 5.0
    model.set_generation_params(duration=0.5, cfg_coef=(3, 6, 6, 6))
    assert model.generation_params["cfg_coef"] == [3.0, 6.0, 6.0, 6.0]
    # The setting reaches the LM: per-codebook guidance gives other tokens than uniform.
    a = model.generate(["x"], seed=3)
    model.set_generation_params(duration=0.5, cfg_coef=3.0)
    b = model.generate(["x"], seed=3)
    assert not torch.equal(a, b)


@pytest.mark.parametrize("params, message", [
    (dict(duration=0), "duration must be > 0"),
    (dict(duration=-2.0), "duration must be > 0"),
    (dict(extend_stride=1.0), "extend_stride"),
    (dict(extend_stride=2.5), "extend_stride"),
    (dict(top_p=1.5), "top_p"),
    (dict(cfg_coef=[3.0, 6.0]), "cfg_coef has 2 values but the model has 4 codebooks"),
    (dict(cfg_coef=-1.0), "cfg_coef must be a number >= 0"),
])
def test_bad_generation_params(model, params, message):
    with pytest.raises(ValueError, match=message):
        model.set_generation_params(**params)


def test_prompt_longer_than_the_piece_fails_clearly(model):
    model.set_generation_params(duration=1.0)
    with pytest.raises(ValueError, match="not shorter than the piece"):
        model.generate_continuation(torch.zeros(1, 1, 40000), 32000)


def test_timeline_not_sorted_fails_clearly(model):
    with pytest.raises(ValueError, match="sorted"):
        model.generate_timeline([[(2.0, "b"), (1.0, "a")]])


def test_prompt_longer_than_the_window_is_kept_whole(model):
    model.set_generation_params(duration=2.6, extend_stride=0.6)
    prompt = 0.1 * torch.randn(1, 1, int(1.5 * model.sample_rate))  # 1.5 s > the 1 s window
    prompt_codes = model.compression_model.encode(prompt)[0]  # [1, K, 37]
    wav, codes = model.generate_continuation(prompt, model.sample_rate, ["on"], seed=0,
                                             return_tokens=True)
    assert codes.shape == (1, 4, 65) and wav.shape == (1, 1, 65 * 1280)
    assert torch.equal(codes[..., :prompt_codes.shape[-1]], prompt_codes)
