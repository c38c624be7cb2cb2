"""Overlap: the codec decodes finished windows while the LM makes the next one, with the
same codes and audio as one after the other."""

from __future__ import annotations

import threading

import pytest
import torch
from _longform_fakes import FakeCodec, FakeLM, fake_builder

from audiocraft.models.longform import LongformGenerator, LongformRequest
from audiocraft.models.musicgen import MusicGen


def lm_threads_alive() -> int:
    return sum(t.name == "longform-lm" and t.is_alive() for t in threading.enumerate())


@pytest.mark.parametrize("batch", [1, 2])
def test_overlap_gives_the_same_audio(monkeypatch, batch):
    model = MusicGen.get_pretrained("debug", device="cpu")
    model = MusicGen(model.name, model.compression_model, model.lm, max_duration=1.0)
    model.set_generation_params(duration=3.2, extend_stride=0.6)  # 5 windows
    out = {}
    for overlap in (False, True):
        monkeypatch.setattr(LongformGenerator, "overlap", overlap)
        wav, codes = model.generate(["calm piano", "drums"][:batch], seed=5,
                                    return_tokens=True)
        chunks = [c.wav for c in model.generate_stream(["calm piano", "drums"][:batch], seed=5)]
        out[overlap] = wav, codes, torch.cat(chunks, dim=-1)
    for plain, overlapped in zip(out[False], out[True]):
        assert torch.equal(plain, overlapped)
    assert lm_threads_alive() == 0


class WaitingCodec(FakeCodec):
    """Its streaming decoder waits (up to a timeout) for the LM to start the next window
    before decoding a chunk, and records whether it did."""

    def __init__(self, lm: RecordingLM):
        super().__init__()
        self.lm = lm
        self.saw_next_window: list[bool] = []

    def stream_decoder(self, scale=None):
        decoder = super().stream_decoder(scale)
        decode, codec = decoder.decode, self

        def waiting_decode(codes: torch.Tensor) -> torch.Tensor:
            done = len(codec.saw_next_window)
            if done + 1 < codec.lm.windows:
                codec.saw_next_window.append(codec.lm.started[done + 1].wait(timeout=20))
            return decode(codes)

        decoder.decode = waiting_decode  # type: ignore[method-assign]
        return decoder


class RecordingLM(FakeLM):
    def __init__(self, windows: int):
        super().__init__()
        self.windows = windows
        self.started = [threading.Event() for _ in range(windows)]

    def generate(self, *args, **kwargs):
        self.started[len(self.calls)].set()
        return super().generate(*args, **kwargs)


def test_the_lm_makes_the_next_window_while_the_codec_decodes():
    lm = RecordingLM(windows=3)
    codec = WaitingCodec(lm)
    engine = LongformGenerator(lm, codec, fake_builder, max_duration=2.0, stride=1.0)
    engine.lm_threads = 1
    result = engine.generate(LongformRequest(1, 4.0), generator=torch.Generator().manual_seed(0))
    assert result.wav.shape[-1] == 4 * codec.sample_rate
    assert codec.saw_next_window and all(codec.saw_next_window)


class FailingLM(FakeLM):
    def generate(self, *args, **kwargs):
        if len(self.calls) == 1:
            raise RuntimeError("the LM broke")
        return super().generate(*args, **kwargs)


def test_lm_errors_reach_the_caller_and_closing_ends_the_worker():
    engine = LongformGenerator(FailingLM(), FakeCodec(), fake_builder, 2.0, 1.0)
    with pytest.raises(RuntimeError, match="the LM broke"):
        engine.generate(LongformRequest(1, 6.0))
    assert lm_threads_alive() == 0
    engine = LongformGenerator(FakeLM(), FakeCodec(), fake_builder, 2.0, 1.0)
    stream = engine.stream(LongformRequest(1, 60.0))
    chunks = iter(stream)
    next(chunks)
    chunks.close()  # the consumer stops reading: the LM stops within a step
    assert lm_threads_alive() == 0
