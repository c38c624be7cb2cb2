"""Media the Gradio app (``app.py``) makes besides the audio file, all with PyAV (and
Pillow for drawing), so that no ffmpeg binary is needed:

- ``AdtsStreamEncoder``: AAC in ADTS frames for gradio's streamed audio output, a drop-in
  for gradio's own encoder (which runs an ffmpeg process); ``use_pyav_for_streaming``
  installs it.
- ``wav_chunk``: one streamed chunk as 16-bit WAV bytes (what gradio's stream reads
  without ffmpeg).
- ``waveform_video``: an MP4 of the piece's waveform with its title and settings drawn,
  a moving playhead, the audio as AAC, and the settings in the container's tags.

Importing this module loads neither gradio nor torch.
"""

import io
import json
import threading
import wave
from pathlib import Path
from typing import Any

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFont

# The sample rates an ADTS header can declare, by their index in the header.
ADTS_SAMPLE_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000,
                     12000, 11025, 8000, 7350)
AAC_FRAME_SAMPLES = 1024
VIDEO_SIZE = (640, 360)  # width, height (even numbers: yuv420p)
VIDEO_FPS = 10


def adts_header(payload_size: int, sample_rate: int, channels: int) -> bytes:
    """The 7-byte ADTS header (AAC-LC, no CRC) of one raw AAC frame of ``payload_size``
    bytes."""
    index = ADTS_SAMPLE_RATES.index(sample_rate)
    length = payload_size + 7
    profile = 1  # AAC-LC (object type 2, minus one)
    return bytes([
        0xFF, 0xF1,
        (profile << 6) | (index << 2) | (channels >> 2),
        ((channels & 3) << 6) | (length >> 11),
        (length >> 3) & 0xFF,
        ((length & 7) << 5) | 0x1F,
        0xFC,
    ])


class AdtsStreamEncoder:
    """One AAC encoder for a whole streamed output: 16-bit PCM in, ADTS frames out.

    The same interface as gradio's ``AacStreamEncoder`` (``feed``, ``take``, ``flush``,
    ``close``, ``frame_duration``), done in-process with PyAV. One encoder for the whole
    stream keeps the chunk boundaries seamless (AAC frames overlap their neighbours).

    Args:
        sample_rate: of the PCM fed in; the stream uses the nearest ADTS rate.
        channels: 1 or 2.
    """

    def __init__(self, sample_rate: int, channels: int, operation: str = ""):
        if channels not in (1, 2):
            raise ValueError(f"Streaming supports mono or stereo audio, got {channels} "
                             "channels.")
        self.sample_rate = sample_rate
        self.channels = channels
        self.output_rate = min(ADTS_SAMPLE_RATES, key=lambda rate: abs(rate - sample_rate))
        self._layout = "mono" if channels == 1 else "stereo"
        codec = av.CodecContext.create("aac", "w")
        codec.sample_rate = self.output_rate  # type: ignore[attr-defined]
        codec.layout = self._layout  # type: ignore[attr-defined]
        codec.format = "fltp"  # type: ignore[attr-defined]
        codec.bit_rate = 128_000
        codec.open()
        self._codec: Any = codec
        self._lock = threading.Lock()
        self._ready: list[bytes] = []
        self._fed = 0  # samples fed, at the input rate
        self._closed = False

    @property
    def frame_duration(self) -> float:
        """Seconds of audio in one ADTS frame."""
        return AAC_FRAME_SAMPLES / self.output_rate

    def _encode(self, frame: av.AudioFrame | None) -> None:
        # The codec context resamples to its rate and cuts 1024-sample frames itself;
        # None flushes it.
        for packet in self._codec.encode(frame):
            payload = bytes(packet)
            self._ready.append(adts_header(len(payload), self.output_rate, self.channels)
                               + payload)

    def feed(self, pcm: bytes) -> None:
        """Encode signed 16-bit little-endian interleaved PCM (a no-op once closed)."""
        with self._lock:
            if self._closed or not pcm:
                return
            samples = np.frombuffer(pcm, dtype="<i2").reshape(-1, self.channels)
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(samples.reshape(1, -1)), format="s16",
                layout=self._layout)
            frame.sample_rate = self.sample_rate
            frame.pts = self._fed
            self._fed += samples.shape[0]
            self._encode(frame)

    def take(self, timeout: float | None = None) -> list[bytes]:
        """The ADTS frames made since the last call (encoding is synchronous: no wait)."""
        with self._lock:
            frames, self._ready = self._ready, []
        return frames

    def flush(self, timeout: float = 5.0) -> list[bytes]:
        """Encode what is buffered, return the last frames and close the encoder."""
        with self._lock:
            if not self._closed:
                self._encode(None)
                self._closed = True
            frames, self._ready = self._ready, []
        return frames

    def close(self) -> None:
        """Give up on the stream; later calls to ``feed`` do nothing."""
        with self._lock:
            self._closed = True


def use_pyav_for_streaming() -> bool:
    """Make gradio's streamed audio outputs encode with ``AdtsStreamEncoder`` (PyAV)
    instead of an ffmpeg process. False if this gradio has no such encoder to replace
    (then streaming needs ffmpeg)."""
    import gradio.components.audio as gradio_audio  # optional dependency: the app's
    if not hasattr(gradio_audio, "AacStreamEncoder"):
        return False
    gradio_audio.AacStreamEncoder = AdtsStreamEncoder  # type: ignore[misc,assignment]
    return True


def wav_chunk(sample_rate: int, samples: np.ndarray) -> bytes | None:
    """``samples`` (int16 ``[n, C]``) as WAV bytes, the form a streamed chunk takes; None
    for an empty chunk (gradio would need ffmpeg to read an empty WAV)."""
    if samples.shape[0] == 0:
        return None
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(samples.shape[1])
        writer.setsampwidth(2)
        writer.setframerate(sample_rate)
        writer.writeframes(np.ascontiguousarray(samples, dtype="<i2").tobytes())
    return buffer.getvalue()


# ---- the waveform video ----

def _font(size: int) -> Any:
    return ImageFont.load_default(size=size)


def waveform_image(wav: np.ndarray, title: str, lines: list[str],
                   size: tuple[int, int] = VIDEO_SIZE) -> Image.Image:
    """The still part of the video: ``wav`` (float ``[C, T]``, mixed to mono) drawn as a
    min/max envelope per pixel column, with ``title`` and ``lines`` of settings above."""
    width, height = size
    image = Image.new("RGB", size, (16, 18, 28))
    draw = ImageDraw.Draw(image)
    # Below the top 30 pixels: players (gradio's among them) put their label there.
    draw.text((16, 34), title[:70], fill=(240, 240, 245), font=_font(22))
    for i, line in enumerate(lines[:4]):
        draw.text((16, 66 + 18 * i), line[:90], fill=(160, 170, 190), font=_font(14))
    top, bottom = 150, height - 16
    middle, half = (top + bottom) / 2, (bottom - top) / 2
    mono = wav.mean(axis=0) if wav.ndim == 2 else wav  # [T]
    if mono.size:
        edges = np.linspace(0, mono.size, width + 1).astype(int)
        peak = float(np.abs(mono).max()) or 1.0
        for x in range(width):
            part = mono[edges[x]:max(edges[x + 1], edges[x] + 1)]
            low, high = float(part.min()) / peak, float(part.max()) / peak
            draw.line([(x, middle - high * half), (x, middle - low * half)],
                      fill=(90, 170, 255))
    draw.line([(0, middle), (width, middle)], fill=(60, 70, 90))
    return image


def waveform_video(path: str | Path, wav: np.ndarray, sample_rate: int, title: str,
                   lines: list[str], metadata: dict[str, Any],
                   fps: int = VIDEO_FPS, size: tuple[int, int] = VIDEO_SIZE) -> Path:
    """Write an MP4 (H.264 + AAC) of ``wav`` (float ``[C, T]`` in [-1, 1]): the waveform,
    ``title`` and settings ``lines``, and a playhead moving with the audio. ``metadata``
    goes into the container's tags (title, and the rest as JSON in the comment). Returns
    the path."""
    path = Path(path)
    channels, samples = wav.shape
    layout = "mono" if channels == 1 else "stereo"
    still = waveform_image(wav, title, lines, size)
    frames = max(1, int(np.ceil(samples / sample_rate * fps)))
    with av.open(str(path), "w", format="mp4") as out:
        out.metadata["title"] = title
        out.metadata["comment"] = json.dumps(metadata, default=str, sort_keys=True)
        video = out.add_stream("libx264", rate=fps, options={"preset": "ultrafast"})
        video.width, video.height = size  # type: ignore[attr-defined]
        video.pix_fmt = "yuv420p"  # type: ignore[attr-defined]
        audio = out.add_stream("aac", rate=sample_rate, layout=layout)
        audio.bit_rate = 128_000  # type: ignore[attr-defined]
        for index in range(frames):
            image = still.copy()
            x = int(index / frames * size[0])
            ImageDraw.Draw(image).line([(x, 146), (x, size[1] - 12)], fill=(255, 200, 80),
                                       width=2)
            out.mux(video.encode(av.VideoFrame.from_image(image)))  # type: ignore[attr-defined]
        out.mux(video.encode(None))  # type: ignore[attr-defined]
        pcm = np.clip(wav, -1, 1).astype(np.float32)
        step = sample_rate  # one second per frame handed to the encoder
        for start in range(0, samples, step):
            block = np.ascontiguousarray(pcm[:, start:start + step])  # [C, n] planar
            frame = av.AudioFrame.from_ndarray(block, format="fltp", layout=layout)
            frame.sample_rate, frame.pts = sample_rate, start
            out.mux(audio.encode(frame))  # type: ignore[attr-defined]
        out.mux(audio.encode(None))  # type: ignore[attr-defined]
    return path
