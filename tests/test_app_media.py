"""app_media.py: the PyAV stream encoder gradio's streamed audio uses, the WAV chunks fed
to it, and the waveform video."""

import io
import json
import sys
from pathlib import Path

import av
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import app_media  # noqa: E402  (beside the top-level app.py)


def tone(seconds: float, sample_rate: int, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    return np.stack([0.3 * np.sin(2 * np.pi * 440 * (c + 1) * t) for c in range(channels)])


def decode_adts(data: bytes) -> tuple[np.ndarray, int]:
    with av.open(io.BytesIO(data), format="aac") as container:
        frames = [frame.to_ndarray() for frame in container.decode(audio=0)]
        rate = container.streams.audio[0].rate
    return np.concatenate(frames, axis=-1), rate


@pytest.mark.parametrize("sample_rate, channels", [(32000, 1), (44100, 2), (30000, 1)])
def test_chunks_of_any_size_make_one_seamless_adts_stream(sample_rate, channels):
    pcm = (tone(2, sample_rate, channels).T * 32767).astype("<i2")  # [T, C]
    encoder = app_media.AdtsStreamEncoder(sample_rate, channels)
    frames = []
    for start in range(0, len(pcm), 7001):  # not a multiple of the 1024-sample frame
        encoder.feed(pcm[start:start + 7001].tobytes())
        frames += encoder.take()
    frames += encoder.flush()
    assert all(frame[:2] == b"\xff\xf1" for frame in frames)
    decoded, rate = decode_adts(b"".join(frames))
    assert rate == encoder.output_rate and decoded.shape[0] == channels
    assert abs(decoded.shape[-1] / rate - 2) < 0.1  # priming and padding frames only
    assert len(frames) * encoder.frame_duration == pytest.approx(decoded.shape[-1] / rate,
                                                                  abs=0.05)
    encoder.feed(pcm[:100].tobytes())  # fed after the end: ignored
    assert encoder.take() == []


def test_the_gradio_encoder_is_replaced():
    pytest.importorskip("gradio")
    import gradio.components.audio as gradio_audio
    assert app_media.use_pyav_for_streaming()
    assert gradio_audio.AacStreamEncoder is app_media.AdtsStreamEncoder


def test_wav_chunk_is_16_bit_wav_and_empty_is_none():
    import wave
    samples = (tone(0.1, 16000, 2).T * 32767).astype(np.int16)
    data = app_media.wav_chunk(16000, samples)
    assert data is not None
    with wave.open(io.BytesIO(data)) as reader:
        assert (reader.getframerate(), reader.getnchannels(), reader.getsampwidth()) == (
            16000, 2, 2)
        read = np.frombuffer(reader.readframes(reader.getnframes()), dtype="<i2")
    assert np.array_equal(read.reshape(-1, 2), samples)
    assert app_media.wav_chunk(16000, samples[:0]) is None


def test_waveform_video_holds_the_audio_the_picture_and_the_settings(tmp_path):
    wav = tone(1.5, 32000).astype(np.float32)
    settings = {"seed": 7, "model": "toy", "prompt": "calm piano"}
    path = app_media.waveform_video(tmp_path / "piece.mp4", wav, 32000, "calm piano",
                                    ["toy, seed 7"], settings)
    with av.open(str(path)) as container:
        assert container.metadata["title"] == "calm piano"
        assert json.loads(container.metadata["comment"]) == settings
        video, audio = container.streams.video[0], container.streams.audio[0]
        assert (video.codec_context.width, video.codec_context.height) == app_media.VIDEO_SIZE
        assert audio.rate == 32000 and audio.codec_context.name == "aac"
        pictures = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    assert len(pictures) == 15  # 1.5 s at 10 frames per second
    # The playhead moves: the first and last pictures differ.
    assert not np.array_equal(pictures[0], pictures[-1])
    with av.open(str(path)) as container:
        samples = sum(frame.samples for frame in container.decode(audio=0))
    assert abs(samples / 32000 - 1.5) < 0.1


def test_waveform_image_draws_the_envelope():
    silent = np.asarray(app_media.waveform_image(np.zeros((1, 32000)), "t", []))
    loud = np.asarray(app_media.waveform_image(tone(1, 32000), "t", []))
    band = slice(160, 340)  # the waveform's rows, below the text
    blue = lambda image: (image[band, :, 2] > 200).mean()  # noqa: E731
    assert blue(loud) > 0.5 > 0.05 > blue(silent)
