"""The window plan of a long-form piece, computed lazily.

A piece of any length is made by LM calls ("windows") of at most ``window`` frames, each
starting ``stride`` frames after the previous one. :class:`WindowPlan` is the sequence of
those windows: its length and each window are computed by arithmetic when asked for, so
its memory does not depend on the piece's duration (a plan of 1e12 seconds is as small as
one of 10 s). ``longform.py`` (the engine) iterates it and re-exports these names.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, overload


@dataclass(frozen=True)
class Window:
    """One LM call of a long-form plan, in absolute frames of the piece.

    The window's codes span ``[start, end)``; the first ``prompt`` of them are given to
    the LM as its prompt and the rest, ``[new_start, end)``, are generated.
    """

    index: int
    start: int
    prompt: int
    end: int

    @property
    def new_start(self) -> int:
        return self.start + self.prompt

    @property
    def length(self) -> int:
        return self.end - self.start


class WindowPlan(Sequence[Window]):
    """The windows of a piece (see :func:`plan_windows`), computed on demand: ``len``,
    indexing (negative too), slicing and iteration cost O(1) memory whatever the duration.
    Equal to a list of the same windows."""

    def __init__(self, total: int, window: int, stride: int, first_start: int,
                 first_prompt: int):
        self.total, self.window, self.stride = total, window, stride
        self.first_start, self.first_prompt = first_start, first_prompt
        # Window i >= 1 exists while the one before it did not reach the end.
        later = total - window - first_start
        self._count = 1 + (max(0, -(-later // stride)) if later > 0 else 0)

    def __len__(self) -> int:
        return self._count

    def _window(self, index: int) -> Window:
        if index == 0:
            start, prompt = self.first_start, self.first_prompt
        else:
            start, prompt = self.first_start + index * self.stride, self.window - self.stride
        return Window(index, start, prompt, min(start + self.window, self.total))

    @overload
    def __getitem__(self, index: int) -> Window: ...

    @overload
    def __getitem__(self, index: slice) -> list[Window]: ...

    def __getitem__(self, index: int | slice) -> Window | list[Window]:
        if isinstance(index, slice):
            return [self._window(i) for i in range(*index.indices(self._count))]
        if index < 0:
            index += self._count
        if not 0 <= index < self._count:
            raise IndexError(f"window {index} of a plan of {self._count}")
        return self._window(index)

    def __iter__(self) -> Iterator[Window]:
        for index in range(self._count):
            yield self._window(index)

    def __eq__(self, other: Any) -> bool:
        if isinstance(other, (WindowPlan, list, tuple)):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (f"WindowPlan({self._count} windows of {self.window} frames, stride "
                f"{self.stride}, {self.total} frames)")


def plan_windows(total: int, window: int, stride: int, prompt: int = 0) -> WindowPlan:
    """The windows that generate a piece of ``total`` frames (a lazy sequence).

    Args:
        total: frames of the whole piece, the audio prompt included.
        window: frames of one LM call (``max_duration`` seconds).
        stride: frames each later window starts after the previous one.
        prompt: frames of audio prompt at the start of the piece. A prompt shorter than
            the window prompts the first window, as in the reference. A longer one is
            treated like codes earlier windows made: the first window is prompted with
            its last ``window - stride`` frames.
    """
    if window <= 0:
        raise ValueError(f"The window must hold at least one frame, got {window}.")
    if not 0 < stride < window:
        raise ValueError(
            f"The stride ({stride} frames) must be positive and shorter than the window "
            f"({window} frames): each window must keep some of the previous one as prompt."
        )
    if total <= 0:
        raise ValueError(f"The piece must last at least one frame, got {total}.")
    if not 0 <= prompt < total:
        raise ValueError(
            f"The audio prompt ({prompt} frames) must be shorter than the piece "
            f"({total} frames): ask for a longer duration or a shorter prompt."
        )
    if prompt < window:
        return WindowPlan(total, window, stride, 0, prompt)
    return WindowPlan(total, window, stride, prompt - (window - stride), window - stride)
