"""Compression models: audio `[B, C, T]` <-> codes `[B, K, T_f]`.

`CompressionModel` is the interface the rest of the project uses; `EncodecModel`
composes a SEANet encoder, a quantizer and a SEANet decoder;
`InterleaveStereoCompressionModel` codes stereo with a mono model, interleaving the
left/right codebooks. Every model decodes long code sequences chunk by chunk with
`stream_decoder()` (see `CompressionModel`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from ..modules.streaming import Stream
from ..quantization import BaseQuantizer, DummyQuantizer, QuantizedResult

if TYPE_CHECKING:
    from ..modules.seanet import SEANetDecoder, SEANetEncoder


class CompressionModel(ABC, nn.Module):
    """Audio codec interface.

    Shapes: audio `[B, C, T]` at `sample_rate`; codes `[B, K, T_f]` (long, values in
    `[0, cardinality)`, `K = num_codebooks`) at `frame_rate` frames per second.

    Streaming decode (for long pieces, memory bounded by the receptive field)::

        with model.stream_decoder() as decoder:          # state lives in `decoder`
            for chunk in codes.split(50, dim=-1):         # [B, K, t] pieces, any sizes
                wav = decoder.decode(chunk)               # [B, C, t'] ready audio (t' may be 0)
                ...                                       # write / play it
            wav = decoder.flush()                         # [B, C, rest]: the end of the signal

    The concatenation of all returned pieces equals `model.decode(codes)` (within float
    rounding, ~1e-6): exactly `T_f * hop_length` samples. Each `decode` returns audio up to
    a small look-ahead (a few frames) behind the codes given so far; `flush` returns the
    rest. Streaming runs without gradients, with the weights as they are when the
    decoder is created. `model.decode_stream(codes, chunk_frames)` is the same as a
    generator.
    """

    cfg: Any = None  # the config it was built from (set by builders, stored on export)

    @abstractmethod
    def forward(self, x: torch.Tensor) -> QuantizedResult:
        """Audio `[B, C, T]` -> QuantizedResult whose `x` is the reconstruction `[B, C, T]`."""

    @abstractmethod
    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Audio `[B, C, T]` -> (codes `[B, K, T_f]`, scale `[B, 1]` or None)."""

    @abstractmethod
    def decode(self, codes: torch.Tensor, scale: torch.Tensor | None = None) -> torch.Tensor:
        """Codes `[B, K, T_f]` -> audio `[B, C, T_f * hop_length]`."""

    @abstractmethod
    def decode_latent(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes `[B, K, T_f]` -> continuous latent `[B, D, T_f]`."""

    @abstractmethod
    def stream_decoder(self, scale: torch.Tensor | None = None) -> CodecStreamDecoder:
        """A fresh streaming decoder (see the class docstring)."""

    def decode_stream(
        self, codes: torch.Tensor, chunk_frames: int = 50, scale: torch.Tensor | None = None
    ) -> Iterator[torch.Tensor]:
        """Decode `codes [B, K, T_f]` in chunks of `chunk_frames`, yielding audio pieces
        `[B, C, t]` whose concatenation equals `decode(codes)`."""
        if chunk_frames < 1:
            raise ValueError(f"chunk_frames must be >= 1, got {chunk_frames}.")
        with self.stream_decoder(scale) as decoder:
            for chunk in codes.split(chunk_frames, dim=-1):
                wav = decoder.decode(chunk)
                if wav.shape[-1]:
                    yield wav
            wav = decoder.flush()
            if wav.shape[-1]:
                yield wav

    @property
    @abstractmethod
    def channels(self) -> int: ...

    @property
    @abstractmethod
    def frame_rate(self) -> float: ...

    @property
    @abstractmethod
    def sample_rate(self) -> int: ...

    @property
    @abstractmethod
    def cardinality(self) -> int: ...

    @property
    @abstractmethod
    def num_codebooks(self) -> int: ...

    @property
    @abstractmethod
    def total_codebooks(self) -> int: ...

    @abstractmethod
    def set_num_codebooks(self, n: int) -> None:
        """Use only the first `n` codebooks from now on (encode returns `n`)."""

    def check_audio(self, x: torch.Tensor, sample_rate: int | None = None) -> None:
        """Raise a clear error for audio this model cannot encode."""
        if x.dim() != 3:
            raise ValueError(f"Audio must be [B, C, T], got shape {tuple(x.shape)}.")
        if x.shape[1] != self.channels:
            raise ValueError(
                f"This codec takes {self.channels} channel(s), got {x.shape[1]}: convert first "
                "(audiocraft.data.audio_utils.convert_audio(wav, sr, model.sample_rate, "
                "model.channels))."
            )
        if x.shape[-1] == 0:
            raise ValueError("Cannot encode empty audio (0 samples).")
        if sample_rate is not None and sample_rate != self.sample_rate:
            raise ValueError(
                f"Audio at {sample_rate} Hz but this codec works at {self.sample_rate} Hz: "
                "resample first (audiocraft.data.audio_utils.convert_audio)."
            )
        if not x.is_floating_point():
            raise ValueError(f"Audio must be floating point, got {x.dtype}.")

    def check_codes(self, codes: torch.Tensor) -> None:
        """Raise a clear error for codes this model cannot decode."""
        if codes.dim() != 3:
            raise ValueError(f"Codes must be [B, K, T_f], got shape {tuple(codes.shape)}.")
        if codes.is_floating_point():
            raise ValueError(f"Codes must be integers, got {codes.dtype}.")
        if codes.numel() and (int(codes.min()) < 0 or int(codes.max()) >= self.cardinality):
            raise ValueError(
                f"Codes out of range: values must be in [0, {self.cardinality}), got "
                f"[{int(codes.min())}, {int(codes.max())}] (a special token, or codes of another "
                "model?)."
            )


class CodecStreamDecoder:
    """Streaming decoder of one `CompressionModel`: `decode(codes [B, K, t]) -> [B, C, t']`,
    then `flush() -> [B, C, rest]` once. See `CompressionModel` for the contract."""

    def __init__(self, model: EncodecModel, scale: torch.Tensor | None = None):
        self.model = model
        self.scale = scale
        self.stream: Stream = model.decoder.stream()
        self.batch: int | None = None
        self.dtype = torch.float32
        self.finished = False
        self.frames_in = 0
        self.samples_out = 0

    def _finish(self, wav: torch.Tensor | None) -> torch.Tensor:
        if wav is None:
            return torch.zeros(self.batch or 0, self.model.channels, 0, dtype=self.dtype)
        if self.scale is not None:
            wav = wav * self.scale.view(-1, 1, 1)
        self.samples_out += wav.shape[-1]
        return wav

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Next codes `[B, K, t]` -> the audio that is now final `[B, C, t']`."""
        if self.finished:
            raise RuntimeError(
                "This stream decoder was flushed: make a new one with model.stream_decoder()."
            )
        if self.batch is not None and codes.shape[0] != self.batch:
            raise ValueError(
                f"Batch size changed within a stream: {self.batch} -> {codes.shape[0]}."
            )
        self.batch = codes.shape[0]
        if codes.shape[-1] == 0:
            return self._finish(None)
        with torch.no_grad():
            latent = self.model.decode_latent(codes)  # [B, D, t]
            self.dtype = latent.dtype
            self.frames_in += codes.shape[-1]
            return self._finish(self.stream.step(latent))

    def flush(self) -> torch.Tensor:
        """End of the codes: the remaining audio `[B, C, rest]`."""
        if self.finished:
            raise RuntimeError("This stream decoder was already flushed.")
        self.finished = True
        with torch.no_grad():
            return self._finish(self.stream.flush())

    def state_numel(self) -> int:
        """Elements held between calls (bounded: does not grow with the length)."""
        return self.stream.state_numel()

    def __enter__(self) -> CodecStreamDecoder:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.finished = True


class EncodecModel(CompressionModel):
    """EnCodec: `encoder` (audio -> latent), `quantizer` (latent <-> codes), `decoder`.

    Args:
        frame_rate: latent frames per second (`sample_rate / hop_length`).
        causal: the encoder/decoder are causal (renormalize is then not allowed).
        renormalize: divide the input by its RMS before encoding; `encode` returns that
            scale and `decode` multiplies it back.
    """

    def __init__(
        self,
        encoder: SEANetEncoder,
        decoder: SEANetDecoder,
        quantizer: BaseQuantizer,
        frame_rate: float,
        sample_rate: int,
        channels: int,
        causal: bool = False,
        renormalize: bool = False,
    ):
        super().__init__()
        if causal and renormalize:
            raise ValueError(
                "A causal codec cannot renormalize (it needs the whole signal's volume)."
            )
        self.encoder = encoder
        self.decoder = decoder
        self.quantizer = quantizer
        self._frame_rate = float(frame_rate)
        self._sample_rate = int(sample_rate)
        self._channels = int(channels)
        self.causal = causal
        self.renormalize = renormalize

    @property
    def channels(self) -> int:
        return self._channels

    @property
    def frame_rate(self) -> float:
        return self._frame_rate

    @property
    def sample_rate(self) -> int:
        return self._sample_rate

    @property
    def hop_length(self) -> int:
        return int(self.encoder.hop_length)

    @property
    def cardinality(self) -> int:
        return self.quantizer.cardinality

    @property
    def num_codebooks(self) -> int:
        return self.quantizer.num_codebooks

    @property
    def total_codebooks(self) -> int:
        return self.quantizer.total_codebooks

    def set_num_codebooks(self, n: int) -> None:
        self.quantizer.set_num_codebooks(n)

    def preprocess(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        if not self.renormalize:
            return x, None
        mono = x.mean(dim=1, keepdim=True)
        scale = mono.pow(2).mean(dim=2, keepdim=True).sqrt() + 1e-8  # [B, 1, 1]
        return x / scale, scale.view(-1, 1)

    @staticmethod
    def postprocess(x: torch.Tensor, scale: torch.Tensor | None) -> torch.Tensor:
        return x if scale is None else x * scale.view(-1, 1, 1)

    def forward(self, x: torch.Tensor) -> QuantizedResult:
        """Audio `[B, C, T]` -> QuantizedResult(x = reconstruction `[B, C, T]`, codes, bandwidth,
        penalty, metrics); quantizer statistics update in training mode."""
        self.check_audio(x)
        length = x.shape[-1]
        x, scale = self.preprocess(x)
        q_res = self.quantizer(self.encoder(x), self.frame_rate)
        out = self.postprocess(self.decoder(q_res.x), scale)
        q_res.x = out[..., :length]  # the decoder rounds the length up to whole frames
        return q_res

    def encode(
        self, x: torch.Tensor, sample_rate: int | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Audio `[B, C, T]` -> (codes `[B, K, ceil(T / hop)]`, scale `[B, 1]` or None).
        Pass `sample_rate` to have it checked against the model's."""
        self.check_audio(x, sample_rate)
        x, scale = self.preprocess(x)
        return self.quantizer.encode(self.encoder(x)), scale

    def check_codes(self, codes: torch.Tensor) -> None:
        if isinstance(self.quantizer, DummyQuantizer):
            if codes.dim() != 4 or codes.shape[1] != 1 or not codes.is_floating_point():
                raise ValueError(
                    "This codec has no quantizer (no_quant): its codes are the latent itself, "
                    f"floats [B, 1, D, T_f] as encode() returns them; got {codes.dtype} "
                    f"{tuple(codes.shape)}.")
            return
        super().check_codes(codes)

    def decode_latent(self, codes: torch.Tensor) -> torch.Tensor:
        self.check_codes(codes)
        return self.quantizer.decode(codes)

    def decode(self, codes: torch.Tensor, scale: torch.Tensor | None = None) -> torch.Tensor:
        latent = self.decode_latent(codes)  # [B, D, T_f]
        if codes.shape[-1] == 0:  # no frames: no audio (padding rules need a signal)
            return latent.new_zeros(codes.shape[0], self.channels, 0)
        return self.postprocess(self.decoder(latent), scale)

    def stream_decoder(self, scale: torch.Tensor | None = None) -> CodecStreamDecoder:
        return CodecStreamDecoder(self, scale)


class _StereoStreamDecoder(CodecStreamDecoder):
    def __init__(self, model: InterleaveStereoCompressionModel, scale: torch.Tensor | None):
        if scale is not None:
            raise ValueError("Stereo streaming does not take a scale (renormalize is per channel).")
        self.stereo = model
        self.left = model.model.stream_decoder()
        self.right = model.model.stream_decoder()
        self.finished = False

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        left, right = self.stereo.split_codes(codes)
        return torch.cat([self.left.decode(left), self.right.decode(right)], dim=1)

    def flush(self) -> torch.Tensor:
        self.finished = True
        return torch.cat([self.left.flush(), self.right.flush()], dim=1)

    def state_numel(self) -> int:
        return self.left.state_numel() + self.right.state_numel()


class InterleaveStereoCompressionModel(CompressionModel):
    """Stereo with a mono codec: left and right are coded separately and their codes
    interleaved: per codebook (`[B, 2K, T]`: l0, r0, l1, r1, ...) or, with
    `per_timestep`, per frame (`[B, K, 2T]`: frame t of left, then of right)."""

    def __init__(self, model: EncodecModel, per_timestep: bool = False):
        super().__init__()
        if model.channels != 1:
            raise ValueError("InterleaveStereoCompressionModel wraps a mono model.")
        self.model = model
        self.per_timestep = per_timestep

    @property
    def channels(self) -> int:
        return 2

    @property
    def frame_rate(self) -> float:
        return self.model.frame_rate * (2 if self.per_timestep else 1)

    @property
    def sample_rate(self) -> int:
        return self.model.sample_rate

    @property
    def cardinality(self) -> int:
        return self.model.cardinality

    @property
    def num_codebooks(self) -> int:
        return self.model.num_codebooks * (1 if self.per_timestep else 2)

    @property
    def total_codebooks(self) -> int:
        return self.model.total_codebooks * (1 if self.per_timestep else 2)

    def set_num_codebooks(self, n: int) -> None:
        if not self.per_timestep and n % 2:
            raise ValueError(f"Stereo codebooks come in left/right pairs: n must be even, got {n}.")
        self.model.set_num_codebooks(n if self.per_timestep else n // 2)

    def join_codes(self, left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
        """Two `[B, K, T]` -> interleaved codes."""
        B, K, T = left.shape
        if self.per_timestep:
            return torch.stack([left, right], dim=3).reshape(B, K, 2 * T)
        return torch.stack([left, right], dim=2).reshape(B, 2 * K, T)

    def split_codes(self, codes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Interleaved codes -> (left, right) `[B, K, T]`."""
        self.check_codes(codes)
        B, K, T = codes.shape
        if self.per_timestep:
            if T % 2:
                raise ValueError("Per-timestep stereo codes need an even number of steps.")
            pairs = codes.view(B, K, T // 2, 2)
            return pairs[..., 0], pairs[..., 1]
        if K % 2:
            raise ValueError("Stereo codes need an even number of codebooks (left/right pairs).")
        pairs = codes.view(B, K // 2, 2, T)
        return pairs[:, :, 0], pairs[:, :, 1]

    def forward(self, x: torch.Tensor) -> QuantizedResult:
        self.check_audio(x)
        left = self.model(x[:, :1])
        right = self.model(x[:, 1:])
        penalty = None
        if left.penalty is not None and right.penalty is not None:
            penalty = (left.penalty + right.penalty) / 2
        return QuantizedResult(
            torch.cat([left.x, right.x], dim=1),
            self.join_codes(left.codes, right.codes),
            left.bandwidth + right.bandwidth,
            penalty,
            left.metrics,
        )

    def encode(
        self, x: torch.Tensor, sample_rate: int | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        self.check_audio(x, sample_rate)
        if self.model.renormalize:
            raise ValueError("Interleaved stereo needs a model without renormalize.")
        left, _ = self.model.encode(x[:, :1])
        right, _ = self.model.encode(x[:, 1:])
        return self.join_codes(left, right), None

    def decode_latent(self, codes: torch.Tensor) -> torch.Tensor:
        left, right = self.split_codes(codes)
        return torch.cat([self.model.decode_latent(left), self.model.decode_latent(right)], dim=1)

    def decode(self, codes: torch.Tensor, scale: torch.Tensor | None = None) -> torch.Tensor:
        left, right = self.split_codes(codes)
        return torch.cat([self.model.decode(left), self.model.decode(right)], dim=1)

    def stream_decoder(self, scale: torch.Tensor | None = None) -> CodecStreamDecoder:
        return _StereoStreamDecoder(self, scale)
