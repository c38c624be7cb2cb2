"""What the long-form engine needs of its parts: the LM (``LMModel.generate``), the
compression model (``CompressionModel``) and its streaming decoder, as Protocols, so that
any object with those methods runs through ``longform.LongformGenerator``."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Protocol

import torch

if TYPE_CHECKING:
    from ..modules.conditioners import ConditioningAttributes


class StreamDecoder(Protocol):
    """The codec's streaming decoder (``CompressionModel.stream_decoder()``): ``decode``
    codes ``[B, K, t]`` -> the audio now final ``[B, C, t']``, then ``flush`` the rest once;
    the pieces concatenate to one-shot ``decode``. A context manager."""

    def decode(self, codes: torch.Tensor) -> torch.Tensor: ...

    def flush(self) -> torch.Tensor: ...

    def __enter__(self) -> StreamDecoder: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class CompressionModelLike(Protocol):
    """What the engine needs of a codec (every ``CompressionModel`` has it): its rates,
    channels and codebooks in use, and a streaming decoder of codes ``[B, K, T_f]``."""

    @property
    def frame_rate(self) -> float: ...

    @property
    def sample_rate(self) -> int: ...

    @property
    def channels(self) -> int: ...

    @property
    def num_codebooks(self) -> int: ...

    def stream_decoder(self) -> StreamDecoder: ...

    def parameters(self) -> Iterator[torch.nn.Parameter]:
        """Where the codec runs (an object without parameters decodes on the CPU)."""
        ...


class LanguageModelLike(Protocol):
    """What the engine needs of a language model (``LMModel`` has it): ``generate``
    returning codes ``[B, K, max_gen_len]``, the prompt ``[B, K, P]`` included, or fewer
    frames (the complete ones) when ``stop`` was set during the call."""

    def generate(
        self, prompt: torch.Tensor | None = None,
        conditions: list[ConditioningAttributes] | None = None,
        num_samples: int | None = None, max_gen_len: int = 256, use_sampling: bool = True,
        temp: float = 1.0, top_k: int = 250, top_p: float = 0.0,
        cfg_coef: float | Sequence[float] | None = None, two_step_cfg: bool | None = None,
        cfg_coef_beta: float | None = None, remove_prompts: bool = False, check: bool = False,
        callback: Callable[[int, int], None] | None = None,
        generator: torch.Generator | None = None, stop: threading.Event | None = None,
    ) -> torch.Tensor: ...


def open_stream_decoder(compression_model: CompressionModelLike) -> StreamDecoder:
    """The compression model's streaming decoder (every ``CompressionModel`` has one)."""
    if not hasattr(compression_model, "stream_decoder"):
        raise TypeError(
            f"{type(compression_model).__name__} has no stream_decoder(): long-form "
            "generation decodes finished windows as it goes and needs one.")
    return compression_model.stream_decoder()  # type: ignore[no-any-return]
