"""Small stand-ins for the LM and the codec, to test the long-form window loop exactly.

FakeLM draws one random number per new token from the given generator and mixes in the
previous token, the position inside the window and a code of the conditions, so any
change in prompt, positions, conditions or random stream changes the tokens.
FakeCodec decodes each frame to `hop` samples that also depend on the previous and the
next frame (one frame of look-ahead), so a correct streaming decoder must hold back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch


@dataclass
class FakeCondition:
    text: str | None
    melody: torch.Tensor | None


def fake_builder(texts: list[str | None], melodies: list[torch.Tensor | None]) -> list[Any]:
    return [FakeCondition(t, m) for t, m in zip(texts, melodies)]


def condition_code(cond: FakeCondition, card: int) -> int:
    code = 0
    if cond.text is not None:
        code += sum(ord(c) for c in cond.text)
    if cond.melody is not None:
        code += int(cond.melody.double().abs().sum().item() * 1000) + 3 * cond.melody.shape[-1]
    return code % card


@dataclass
class LMCall:
    prompt: torch.Tensor | None
    conditions: list[Any]
    max_gen_len: int


class FakeLM:
    def __init__(self, n_q: int = 3, card: int = 97):
        self.n_q = n_q
        self.card = card
        self.calls: list[LMCall] = []

    def generate(
        self, prompt: torch.Tensor | None, conditions: list[Any], num_samples: int | None = None,
        max_gen_len: int = 256, callback: Any = None, generator: torch.Generator | None = None,
        stop: Any = None, **params: Any,
    ) -> torch.Tensor:
        batch = len(conditions)
        given = 0 if prompt is None else prompt.shape[-1]
        assert given < max_gen_len, "prompt as long as the window"
        kept = None if prompt is None else prompt.clone()
        self.calls.append(LMCall(kept, conditions, max_gen_len))
        codes = torch.zeros((batch, self.n_q, max_gen_len), dtype=torch.long)  # [B, K, T]
        if prompt is not None:
            codes[..., :given] = prompt
        cond = torch.tensor([condition_code(c, self.card) for c in conditions])[:, None]  # [B, 1]
        for t in range(given, max_gen_len):
            if stop is not None and stop.is_set():
                return codes[..., :t]  # the frames made so far, as LMModel does
            noise = torch.randint(self.card, (batch, self.n_q), generator=generator)  # [B, K]
            prev = codes[..., t - 1] if t > 0 else torch.zeros_like(noise)
            codes[..., t] = (noise + 7 * prev + 11 * t + cond) % self.card
            if callback is not None:
                callback(t - given + 1, max_gen_len - given)
        return codes


class FakeStreamDecoder:
    def __init__(self, codec: FakeCodec):
        self.codec = codec
        self.codes: torch.Tensor | None = None  # everything pushed, [B, K, T]
        self.done = 0  # frames already turned into audio

    def __enter__(self) -> FakeStreamDecoder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.codec.open_decoders -= 1

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        self.codes = codes if self.codes is None else torch.cat([self.codes, codes], dim=-1)
        ready = self.codes.shape[-1] - 1  # the last frame waits for its right neighbour
        return self._emit(ready)

    def flush(self) -> torch.Tensor:
        if self.codes is None:
            return torch.zeros((0, self.codec.channels, 0))
        return self._emit(self.codes.shape[-1])

    def _emit(self, upto: int) -> torch.Tensor:
        assert self.codes is not None
        full = self.codec.decode(self.codes)  # [B, C, T * hop]
        out = full[..., self.done * self.codec.hop:max(upto, self.done) * self.codec.hop]
        self.done = max(upto, self.done)
        return out


class FakeCodec:
    sample_rate = 80
    hop = 8
    channels = 1

    def __init__(self, n_q: int = 3):
        self.num_codebooks = n_q
        self.open_decoders = 0

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop

    def decode(self, codes: torch.Tensor, scale: Any = None) -> torch.Tensor:
        value = codes.double().mean(dim=1)  # [B, T]
        left = torch.nn.functional.pad(value, (1, 0))[..., :-1]
        right = torch.nn.functional.pad(value, (0, 1))[..., 1:]
        frame = value + 0.5 * left + 0.25 * right  # [B, T]
        ramp = torch.arange(self.hop, dtype=torch.float64) / self.hop  # [hop]
        wav = frame[..., None] + ramp  # [B, T, hop]
        return wav.reshape(codes.shape[0], self.channels, -1).float()  # [B, 1, T * hop]

    def stream_decoder(self, scale: Any = None) -> FakeStreamDecoder:
        self.open_decoders += 1
        return FakeStreamDecoder(self)
