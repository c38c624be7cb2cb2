"""Codebook interleaving patterns: how K parallel code streams become one sequence.

A `Pattern` lists, for every sequence step s, the (timestep t, codebook q) coordinates the
model emits at that step. Step 0 is always empty: the model's first input is all special
tokens (id = card). `build_pattern_sequence` turns codes [B, K, T] into the sequence
[B, K, S] (special token where a step holds nothing for a codebook);
`revert_pattern_sequence` and `revert_pattern_logits` map back to [B, K, T].

Providers (registered by name in `PATTERN_PROVIDERS`): parallel, delay, unroll,
coarse_first, musiclm. For T frames the delay pattern with delays d has S = T + max(d) + 1
steps, or T + 1 with `keep_only_valid_steps` (the steps whose every coordinate is a
complete frame, used for training).
"""

from __future__ import annotations

import typing as tp
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from functools import lru_cache

import torch

from ..utils.registry import Registry


class LayoutCoord(tp.NamedTuple):
    """One code in the layout: timestep t of codebook q."""

    t: int
    q: int


PatternLayout = list[list[LayoutCoord]]


@dataclass
class Pattern:
    """A layout of S + 1 sequence steps for `timesteps` frames of `n_q` codebooks.

    Attributes:
        layout: coordinates emitted at each step; layout[0] must be empty.
        timesteps: number of frames T the pattern was built for.
        n_q: number of codebooks K.
    """

    layout: PatternLayout
    timesteps: int
    n_q: int
    _cache: dict[tuple[tp.Any, ...], tuple[torch.Tensor, torch.Tensor]] = field(
        default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.layout or self.layout[0]:
            raise ValueError("A pattern layout starts with one empty step.")
        last_t = [0] * self.n_q
        for step, coords in enumerate(self.layout):
            qs = [c.q for c in coords]
            if len(set(qs)) != len(qs):
                raise ValueError(f"Step {step} holds one codebook twice: {coords}.")
            for c in coords:
                if not 0 <= c.q < self.n_q:
                    raise ValueError(f"Step {step} has codebook {c.q} outside [0, {self.n_q}).")
                if c.t < last_t[c.q]:
                    raise ValueError(f"Codebook {c.q} goes back in time at step {step}.")
                last_t[c.q] = c.t

    @property
    def num_sequence_steps(self) -> int:
        """Steps after the initial empty one."""
        return len(self.layout) - 1

    @property
    def max_delay(self) -> int:
        """How many timesteps past T the layout reaches (its incomplete tail)."""
        last = max((c.t + 1 for coords in self.layout[1:] for c in coords), default=0)
        return last - self.timesteps

    @property
    def valid_layout(self) -> PatternLayout:
        """The layout without its last `max_delay` steps."""
        return self.layout[: len(self.layout) - self.max_delay]

    def starts_with_special_token(self) -> bool:
        return len(self.layout[0]) == 0

    def get_sequence_coords_with_timestep(self, t: int, q: int | None = None
                                          ) -> list[tuple[int, LayoutCoord]]:
        """(step, coord) pairs holding timestep t (of codebook q if given)."""
        return [(s, c) for s, coords in enumerate(self.layout) for c in coords
                if c.t == t and (q is None or c.q == q)]

    def get_steps_with_timestep(self, t: int, q: int | None = None) -> list[int]:
        return sorted({s for s, _ in self.get_sequence_coords_with_timestep(t, q)})

    def get_first_step_with_timesteps(self, t: int, q: int | None = None) -> int | None:
        """First sequence step holding timestep t (the first step to generate after a
        prompt of t frames), or None."""
        steps = self.get_steps_with_timestep(t, q)
        return steps[0] if steps else None

    def _indexes(self, kind: str, length: int, n_q: int, keep_only_valid_steps: bool,
                 is_model_output: bool, device: torch.device | str
                 ) -> tuple[torch.Tensor, torch.Tensor]:
        key = (kind, length, n_q, keep_only_valid_steps, is_model_output, str(device))
        if key not in self._cache:
            build = self._sequence_indexes if kind == "seq" else self._revert_indexes
            self._cache[key] = build(length, n_q, keep_only_valid_steps, is_model_output, device)
        return self._cache[key]

    def _sequence_indexes(self, timesteps: int, n_q: int, keep_only_valid_steps: bool,
                          is_model_output: bool, device: torch.device | str
                          ) -> tuple[torch.Tensor, torch.Tensor]:
        """Flat source index of every sequence position; n_q * timesteps = special token."""
        self._check(n_q)
        if timesteps > self.timesteps:
            raise ValueError(f"{timesteps} frames for a pattern built for {self.timesteps}.")
        layout = self.valid_layout if keep_only_valid_steps else self.layout
        indexes = torch.full((n_q, len(layout)), n_q * timesteps, dtype=torch.long)  # [K, S]
        mask = torch.zeros(n_q, len(layout), dtype=torch.bool)
        for s, coords in enumerate(layout):
            for c in coords:
                if c.t < timesteps:
                    indexes[c.q, s] = c.t + c.q * timesteps
                    mask[c.q, s] = True
        return indexes.to(device), mask.to(device)

    def _revert_indexes(self, steps: int, n_q: int, keep_only_valid_steps: bool,
                        is_model_output: bool, device: torch.device | str
                        ) -> tuple[torch.Tensor, torch.Tensor]:
        """Flat sequence index of every code position; n_q * steps = special value."""
        self._check(n_q)
        layout = self.valid_layout if keep_only_valid_steps else self.layout
        if steps > len(layout):
            raise ValueError(f"{steps} sequence steps for a layout of {len(layout)}.")
        if is_model_output and self.starts_with_special_token():
            # The model's output at step s predicts step s + 1.
            layout = layout[1:]
        indexes = torch.full((n_q, self.timesteps), n_q * steps, dtype=torch.long)  # [K, T]
        mask = torch.zeros(n_q, self.timesteps, dtype=torch.bool)
        for s, coords in enumerate(layout[:steps]):
            for c in coords:
                if c.t < self.timesteps:
                    indexes[c.q, c.t] = s + c.q * steps
                    mask[c.q, c.t] = True
        return indexes.to(device), mask.to(device)

    def _check(self, n_q: int) -> None:
        if n_q != self.n_q:
            raise ValueError(f"Codes have {n_q} codebooks, the pattern {self.n_q}.")

    def build_pattern_sequence(self, z: torch.Tensor, special_token: int,
                               keep_only_valid_steps: bool = False
                               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Codes z [B, K, T] -> (sequence [B, K, S], indexes [K, S], mask [K, S]).

        Positions holding no code (mask False) get `special_token`.
        """
        B, K, T = z.shape
        indexes, mask = self._indexes("seq", T, K, keep_only_valid_steps, False, z.device)
        flat = torch.cat([z.reshape(B, K * T), z.new_full((B, 1), special_token)], dim=1)
        values = flat[:, indexes.view(-1)].view(B, K, indexes.shape[-1])  # [B, K, S]
        return values, indexes, mask

    def revert_pattern_sequence(self, s: torch.Tensor, special_token: int,
                                keep_only_valid_steps: bool = False
                                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Sequence s [B, K, S] -> (codes [B, K, T], indexes [K, T], mask [K, T])."""
        B, K, S = s.shape
        indexes, mask = self._indexes("rev", S, K, keep_only_valid_steps, False, s.device)
        flat = torch.cat([s.reshape(B, K * S), s.new_full((B, 1), special_token)], dim=1)
        values = flat[:, indexes.view(-1)].view(B, K, indexes.shape[-1])  # [B, K, T]
        return values, indexes, mask

    def revert_pattern_logits(self, logits: torch.Tensor, special_token: float,
                              keep_only_valid_steps: bool = False
                              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Model outputs [B, card, K, S] (step s predicts step s + 1) -> logits
        [B, card, K, T] aligned with the codes, `special_token` where mask [K, T] is False."""
        B, card, K, S = logits.shape
        indexes, mask = self._indexes("rev", S, K, keep_only_valid_steps, True, logits.device)
        flat = torch.cat([logits.reshape(B, card, K * S),
                          logits.new_full((B, card, 1), special_token)], dim=-1)
        values = flat[:, :, indexes.view(-1)].view(B, card, K, indexes.shape[-1])
        return values, indexes, mask


class CodebooksPatternProvider(ABC):
    """Builds the Pattern for any number of timesteps.

    Args:
        n_q: number of codebooks K.
        cached: memoise get_pattern per timesteps.
    """

    def __init__(self, n_q: int, cached: bool = True):
        if n_q < 1:
            raise ValueError(f"n_q must be at least 1, got {n_q}.")
        self.n_q = n_q
        if cached:
            self.get_pattern = lru_cache(100)(self.get_pattern)  # type: ignore[method-assign]

    @abstractmethod
    def get_pattern(self, timesteps: int) -> Pattern:
        """The pattern for `timesteps` frames."""


# Pattern name (`codebooks_pattern.modeling`) -> provider class.
PATTERN_PROVIDERS: Registry[type[CodebooksPatternProvider]] = Registry("codebooks pattern")


@PATTERN_PROVIDERS.register("delay")
class DelayedPatternProvider(CodebooksPatternProvider):
    """Codebook q is delayed by delays[q] steps (MusicGen: [0, 1, 2, 3]).

    Args:
        delays: one non-negative delay per codebook, non-decreasing (default 0, 1, ...,
            n_q - 1, as the reference).
        flatten_first: the first frames are emitted one codebook per step.
        empty_initial: extra empty steps after the initial one.
    """

    def __init__(self, n_q: int, delays: list[int] | None = None, flatten_first: int = 0,
                 empty_initial: int = 0):
        super().__init__(n_q)
        self.delays = list(delays) if delays is not None else list(range(n_q))
        if len(self.delays) != n_q:
            raise ValueError(f"delay pattern: {len(self.delays)} delays for n_q = {n_q}.")
        if sorted(self.delays) != self.delays or min(self.delays) < 0:
            raise ValueError(f"delay pattern: delays must be non-negative and non-decreasing, "
                             f"got {self.delays}.")
        self.flatten_first, self.empty_initial = flatten_first, empty_initial

    def get_pattern(self, timesteps: int) -> Pattern:
        out: PatternLayout = [[] for _ in range(1 + self.empty_initial)]
        for t in range(min(timesteps, self.flatten_first)):
            out.extend([LayoutCoord(t, q)] for q in range(self.n_q))
        for t in range(self.flatten_first, timesteps + max(self.delays)):
            out.append([LayoutCoord(t - d, q) for q, d in enumerate(self.delays)
                        if t - d >= self.flatten_first])
        return Pattern(out, timesteps=timesteps, n_q=self.n_q)


@PATTERN_PROVIDERS.register("parallel")
class ParallelPatternProvider(DelayedPatternProvider):
    """All codebooks of a frame at the same step (a delay pattern with zero delays)."""

    def __init__(self, n_q: int):
        super().__init__(n_q, [0] * n_q)


@PATTERN_PROVIDERS.register("unroll")
class UnrolledPatternProvider(CodebooksPatternProvider):
    """Each frame is unrolled into inner steps; codebooks sharing a `flattening` index
    share an inner step; `delays` shift codebooks by whole frames.

    Args:
        flattening: inner step of each codebook, non-decreasing (default: one per codebook).
        delays: delay of each codebook, non-decreasing, equal within an inner step.
    """

    def __init__(self, n_q: int, flattening: list[int] | None = None,
                 delays: list[int] | None = None):
        super().__init__(n_q)
        flattening = list(flattening) if flattening is not None else list(range(n_q))
        delays = list(delays) if delays is not None else [0] * n_q
        if len(flattening) != n_q or len(delays) != n_q:
            raise ValueError(f"unroll pattern: need {n_q} flattening and delay values.")
        if sorted(flattening) != flattening or sorted(delays) != delays:
            raise ValueError("unroll pattern: flattening and delays must be non-decreasing.")
        self._groups: dict[int, tuple[list[int], int]] = {}
        for q, (inner, delay) in enumerate(zip(flattening, delays)):
            codebooks, group_delay = self._groups.setdefault(inner, ([], delay))
            if group_delay != delay:
                raise ValueError("unroll pattern: codebooks of one inner step need equal delays.")
            codebooks.append(q)
        self.max_delay = max(delays)

    def num_virtual_steps(self, timesteps: int) -> int:
        """Sequence steps of `timesteps` frames before the delays: one per inner step of
        each frame, plus the initial empty step (the reference's name)."""
        return timesteps * (max(self._groups) + 1) + 1

    def get_pattern(self, timesteps: int) -> Pattern:
        inner_steps = max(self._groups) + 1
        total = timesteps + self.max_delay
        indexed: list[tuple[int, list[LayoutCoord]]] = []
        for t in range(total):
            for step in range(inner_steps):
                if step in self._groups:
                    codebooks, delay = self._groups[step]
                    if t + delay < total:
                        indexed.append((t + delay, [LayoutCoord(t, q) for q in codebooks]))
                else:
                    indexed.append((t, []))
        indexed.sort(key=lambda item: (item[0], [tuple(c) for c in item[1]]))
        return Pattern([[]] + [coords for _, coords in indexed], timesteps=timesteps,
                       n_q=self.n_q)


@PATTERN_PROVIDERS.register("coarse_first")
class CoarseFirstPattern(CodebooksPatternProvider):
    """First every frame of codebook 0, then codebooks 1.. with `delays` (n_q - 1 values)."""

    def __init__(self, n_q: int, delays: list[int] | None = None):
        super().__init__(n_q)
        self.delays = list(delays) if delays is not None else [0] * (n_q - 1)
        if len(self.delays) != n_q - 1 or sorted(self.delays) != self.delays:
            raise ValueError(f"coarse_first pattern: need {n_q - 1} non-decreasing delays, got "
                             f"{self.delays}.")

    def get_pattern(self, timesteps: int) -> Pattern:
        out: PatternLayout = [[]]
        out.extend([LayoutCoord(t, 0)] for t in range(timesteps))
        for t in range(timesteps + max(self.delays, default=0)):
            out.append([LayoutCoord(t - d, q + 1) for q, d in enumerate(self.delays)
                        if t - d >= 0])
        return Pattern(out, timesteps=timesteps, n_q=self.n_q)


@PATTERN_PROVIDERS.register("musiclm")
class MusicLMPattern(CodebooksPatternProvider):
    """MusicLM-style: groups of `group_by` codebooks, each group flattened over all frames
    (one code per step) before the next group."""

    def __init__(self, n_q: int, group_by: int = 2):
        super().__init__(n_q)
        if group_by < 1 or n_q % group_by != 0:
            raise ValueError(f"musiclm pattern: group_by {group_by} must divide n_q {n_q}.")
        self.group_by = group_by

    def get_pattern(self, timesteps: int) -> Pattern:
        out: PatternLayout = [[]]
        for first in range(0, self.n_q, self.group_by):
            for t in range(timesteps):
                out.extend([LayoutCoord(t, q)] for q in range(first, first + self.group_by))
        return Pattern(out, timesteps=timesteps, n_q=self.n_q)


def get_pattern_provider(name: str, n_q: int, **kwargs: tp.Any) -> CodebooksPatternProvider:
    """Build a registered pattern provider by name (see `PATTERN_PROVIDERS`); an unknown
    name raises UnknownNameError (a ValueError) listing the known ones."""
    return PATTERN_PROVIDERS.get(name, where="codebooks_pattern.modeling")(n_q, **kwargs)
