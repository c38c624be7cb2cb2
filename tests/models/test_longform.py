"""The long-form engine against a straightforward re-implementation of the reference loop.

Runs on small fakes (see _longform_fakes.py) so every window boundary is exact and fast;
tests/models/test_musicgen_api.py runs the same comparison on the real debug preset.
"""

from __future__ import annotations

import threading

import pytest
import torch
from _longform_fakes import FakeCodec, FakeLM, fake_builder

from audiocraft.models.longform import (
    LongformGenerator,
    LongformRequest,
    plan_windows,
    slice_melody,
)


def reference_tokens(lm, build, texts, melodies, prompt, duration, max_duration, stride,
                     frame_rate, sample_rate, generator):
    """The reference MusicGen._generate_tokens loop, written out plainly."""
    total_gen_len = int(duration * frame_rate)
    if duration <= max_duration:
        return lm.generate(prompt, build(texts, melodies), max_gen_len=total_gen_len,
                           generator=generator)
    all_tokens = []
    prompt_length = 0
    if prompt is not None:
        all_tokens.append(prompt)
        prompt_length = prompt.shape[-1]
    stride_tokens = int(frame_rate * stride)
    offset = 0
    while offset + prompt_length < total_gen_len:
        time_offset = offset / frame_rate
        chunk_duration = min(duration - time_offset, max_duration)
        max_gen_len = int(chunk_duration * frame_rate)
        window_melodies = []
        for melody in melodies:
            if melody is None:
                window_melodies.append(None)
                continue
            first = int(time_offset * sample_rate)
            positions = torch.arange(first, first + int(max_duration * sample_rate))
            window_melodies.append(melody[..., positions % melody.shape[-1]])
        gen = lm.generate(prompt, build(texts, window_melodies), max_gen_len=max_gen_len,
                          generator=generator)
        all_tokens.append(gen if prompt is None else gen[..., prompt.shape[-1]:])
        prompt = gen[..., stride_tokens:]
        prompt_length = prompt.shape[-1]
        offset += stride_tokens
    return torch.cat(all_tokens, dim=-1)


def make_engine(max_duration=2.0, stride=1.5):
    lm, codec = FakeLM(), FakeCodec()
    return LongformGenerator(lm, codec, fake_builder, max_duration, stride), lm, codec


def seeded(seed=1234):
    return torch.Generator().manual_seed(seed)


# Durations are exact in binary so the reference's float arithmetic lands on whole frames.
@pytest.mark.parametrize("duration", [1.5, 2.0, 3.25, 5.0, 7.75])
@pytest.mark.parametrize("stride", [0.5, 1.0, 1.5])
@pytest.mark.parametrize("prompt_frames", [0, 5, 12])
def test_tokens_equal_reference_loop(duration, stride, prompt_frames):
    engine, lm, codec = make_engine(stride=stride)
    texts = ["calm piano", "fast drums"]
    melodies = [None, torch.rand(1, 2 * 80 + 13, generator=seeded(5))]
    prompt = None
    if prompt_frames:
        prompt = torch.randint(lm.card, (2, lm.n_q, prompt_frames), generator=seeded(7))
    request = LongformRequest(2, duration, timelines=[[(0.0, t)] for t in texts],
                              melodies=melodies, prompt=prompt)
    ours = engine.generate(request, generator=seeded())
    expected = reference_tokens(lm, fake_builder, texts, melodies, prompt, duration, 2.0, stride,
                                codec.frame_rate, codec.sample_rate, seeded())
    assert ours.codes.shape == expected.shape == (2, lm.n_q, int(duration * 10))
    assert torch.equal(ours.codes, expected)
    assert not ours.interrupted
    # Positions restart: every window is one call no longer than the window.
    assert all(call.max_gen_len <= 20 for call in lm.calls)


def test_plan_windows_layout():
    windows = plan_windows(total=100, window=30, stride=18)
    assert [(w.start, w.prompt, w.end) for w in windows] == [
        (0, 0, 30), (18, 12, 48), (36, 12, 66), (54, 12, 84), (72, 12, 100)]
    # A prompt longer than the window: the last window - stride frames prompt the first call.
    windows = plan_windows(total=100, window=30, stride=18, prompt=40)
    assert (windows[0].start, windows[0].prompt, windows[0].end) == (28, 12, 58)
    assert windows[-1].end == 100


@pytest.mark.parametrize("prompt_frames", [20, 33])
def test_prompt_longer_than_window_continues_from_its_end(prompt_frames):
    engine, lm, _ = make_engine(stride=1.5)
    prompt = torch.randint(lm.card, (1, lm.n_q, prompt_frames), generator=seeded(3))
    result = engine.generate(LongformRequest(1, 6.0, prompt=prompt), generator=seeded())
    assert result.codes.shape[-1] == 60
    assert torch.equal(result.codes[..., :prompt_frames], prompt)
    # The first call sees only the prompt's last window - stride = 5 frames.
    assert torch.equal(lm.calls[0].prompt, prompt[..., -5:])


def test_streamed_equals_one_shot_decode_and_seed_reproduces():
    engine, lm, codec = make_engine(stride=1.0)
    prompt = torch.randint(lm.card, (2, lm.n_q, 4), generator=seeded(3))
    request = LongformRequest(2, 6.5, timelines=[[(0.0, "a")], [(0.0, "b")]], prompt=prompt)
    stream = engine.stream(request, generator=seeded(42))
    chunks = list(stream)
    assert len(chunks) == len(engine.plan(request))
    streamed = torch.cat([c.wav for c in chunks], dim=-1)
    one_shot = codec.decode(stream.codes)
    assert streamed.shape == one_shot.shape == (2, 1, 65 * codec.hop)
    assert torch.equal(streamed, one_shot)
    # Each chunk starts where the previous ended.
    starts = [c.start_seconds for c in chunks]
    lengths = [c.wav.shape[-1] / codec.sample_rate for c in chunks]
    assert starts == pytest.approx([sum(lengths[:i]) for i in range(len(chunks))])
    again = engine.generate(request, generator=seeded(42))
    assert torch.equal(again.wav, streamed)
    assert torch.equal(again.codes, stream.codes)
    other = engine.generate(request, generator=seeded(43))
    assert not torch.equal(other.codes[..., 4:], stream.codes[..., 4:])


def test_melody_window_gets_melody_from_its_start_time():
    engine, lm, codec = make_engine(max_duration=2.0, stride=1.5)
    sr = codec.sample_rate
    melody = torch.arange(7 * sr, dtype=torch.float32)[None]  # [1, 7 s]: value = sample index
    engine.generate(LongformRequest(1, 6.0, melodies=[melody]), generator=seeded())
    starts = [0.0, 1.5, 3.0, 4.5]
    assert len(lm.calls) == len(starts)
    for call, t in zip(lm.calls, starts):
        got = call.conditions[0].melody
        assert got.shape == (1, 2 * sr)
        assert got[0, 0].item() == int(t * sr)


def test_melody_policies_when_melody_is_short():
    melody = torch.arange(100, dtype=torch.float32)[None]  # [1, 100] samples, sr 10 -> 10 s
    looped = slice_melody(melody, 9.0, 10, 3.0, "loop")
    assert looped[0].tolist() == [90 + i for i in range(10)] + list(range(20))
    held = slice_melody(melody, 9.0, 10, 3.0, "hold")
    assert held[0].tolist() == list(range(70, 100))
    stopped = slice_melody(melody, 9.0, 10, 3.0, "stop")
    assert stopped[0].tolist() == list(range(90, 100))
    assert slice_melody(melody, 10.0, 10, 3.0, "stop") is None


def test_timeline_texts_switch_at_the_right_windows():
    engine, lm, _ = make_engine(max_duration=2.0, stride=1.0)
    # New audio starts at 0, 2, 3, 4, 5 s (window 2 s, stride 1 s).
    timeline = [(0.0, "intro"), (2.5, "verse"), (4.0, "outro")]
    engine.generate(LongformRequest(2, 6.0, timelines=[timeline, [(0.0, "same")]]),
                    generator=seeded())
    assert [c.conditions[0].text for c in lm.calls] == ["intro", "intro", "verse", "outro", "outro"]
    assert [c.conditions[1].text for c in lm.calls] == ["same"] * 5


def test_interruption_returns_partial_audio():
    engine, lm, codec = make_engine(max_duration=2.0, stride=1.0)
    seen = []

    def progress(done: float, total: float) -> bool:
        seen.append((done, total))
        return done < 3.05  # stop inside the third window

    result = engine.generate(LongformRequest(1, 6.0), generator=seeded(), progress=progress)
    assert result.interrupted
    assert result.codes.shape[-1] == 31  # windows 1 and 2, and the third's first frame
    assert result.wav.shape[-1] == 31 * codec.hop
    assert torch.equal(result.wav, codec.decode(result.codes))
    assert all(total == 6.0 for _, total in seen)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    # The same piece uninterrupted starts with the same audio.
    full = engine.generate(LongformRequest(1, 6.0), generator=seeded())
    assert torch.equal(full.codes[..., :31], result.codes)

    stop = threading.Event()
    stop.set()
    nothing = engine.generate(LongformRequest(1, 6.0), generator=seeded(), stop=stop)
    assert nothing.interrupted and nothing.wav.shape[-1] == 0
    assert codec.open_decoders == 0  # every streaming decoder was closed


@pytest.mark.parametrize("overlap", [True, False])
def test_a_stop_inside_the_first_window_keeps_its_frames(overlap):
    """With one long window (the official 30 s ones), a stop before its end keeps the
    frames made, decoded: nothing made is lost."""
    engine, lm, codec = make_engine(max_duration=4.0, stride=2.0)
    engine.overlap = overlap
    stop = threading.Event()

    def progress(done: float, total: float) -> None:
        if done >= 1.2:
            stop.set()

    stream = engine.stream(LongformRequest(2, 6.0), generator=seeded(), progress=progress,
                           stop=stop)
    chunks = list(stream)
    assert stream.interrupted and len(chunks) == 1
    assert stream.codes.shape == (2, lm.n_q, 12)  # 1.2 s at 10 frames/s
    assert chunks[0].wav.shape[-1] == 12 * codec.hop
    assert torch.equal(chunks[0].wav, codec.decode(stream.codes))
    full = engine.generate(LongformRequest(2, 6.0), generator=seeded())
    assert torch.equal(full.codes[..., :12], stream.codes)
    assert codec.open_decoders == 0


def test_only_the_window_is_kept_on_the_model():
    engine, lm, _ = make_engine(max_duration=2.0, stride=1.0)
    engine.generate(LongformRequest(1, 20.0), generator=seeded())
    assert max(0 if c.prompt is None else c.prompt.shape[-1] for c in lm.calls) == 10
    assert len(lm.calls) == 19


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(duration=0.0), "duration must be > 0"),
        (dict(duration=-1.0), "duration must be > 0"),
        (dict(duration=1.0, prompt=torch.zeros(1, 3, 10, dtype=torch.long)), "shorter than"),
        (dict(duration=3.0, timelines=[[(1.0, "a"), (0.5, "b")]]), "sorted"),
        (dict(duration=3.0, timelines=[[]]), "at least one"),
        (dict(duration=3.0, melody_policy="bounce"), "melody policy"),
    ],
)
def test_bad_requests_raise_clear_errors(kwargs, message):
    engine, _, _ = make_engine()
    with pytest.raises(ValueError, match=message):
        engine.stream(LongformRequest(1, **kwargs))


@pytest.mark.parametrize("stride", [2.0, 3.0, 0.0])
def test_stride_must_fit_the_window(stride):
    with pytest.raises(ValueError, match="stride"):
        make_engine(max_duration=2.0, stride=stride)


@pytest.mark.parametrize("policy, expected", [
    ("loop", [0, 120, 240, 40]),    # starts of each window's melody, modulo 320 samples
    ("hold", [0, 120, 160, 160]),   # past the end: the last window-long part again
    ("stop", [0, 120, 240, None]),  # past the end: no melody
])
def test_melody_policy_per_window(policy, expected):
    engine, lm, codec = make_engine(max_duration=2.0, stride=1.5)
    melody = torch.arange(4 * codec.sample_rate, dtype=torch.float32)[None]  # 4 s, value = index
    engine.generate(LongformRequest(1, 6.0, melodies=[melody], melody_policy=policy),
                    generator=seeded())
    got = [None if c.conditions[0].melody is None else int(c.conditions[0].melody[0, 0])
           for c in lm.calls]
    assert got == expected
