"""ConditionFuser: how each condition enters the transformer.

Methods, chosen per attribute name (`fuse2cond = {"cross": ["description"], ...}`):

- `sum`: added to the input steps (condition [B, 1 or S, D]).
- `input_interpolate`: resampled (nearest) along time to S steps, then added.
- `aligned`: added step by step from the start of the sequence: condition step t goes to
  sequence step t (a melody's chroma or a beat grid at the model's frame rate: step t
  predicts frame t of the first codebook). With a KV cache the steps continue from the
  cache's position (`offset`); steps past the condition's end get nothing, and a
  one-step condition (a null one) is added to every step.
- `prepend`: concatenated before the input steps; the model drops the outputs of these
  steps (`logits[:, :, -S:]`). Conditions are prepended in the order they arrive, each in
  front of the previous ones: with the provider's order (text first, then wav) a melody
  model's sequence reads [chroma, text, audio tokens], as in the reference.
- `cross`: concatenated along time into the cross-attention source.
- `ignore`: computed but unused.

Each method is a function registered in `FUSE_METHODS` under its name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ...utils.registry import Registry
from ..transformer import create_sin_embedding
from .attributes import ConditionType


@dataclass
class FuseState:
    """What the fuse methods of one `ConditionFuser.forward` call share.

    Attributes:
        steps: S, the number of input steps (before anything is prepended).
        first_step: False when continuing with a KV cache (nothing is prepended again).
        cross: `cross` conditions so far, each [B, Tc, D]; cross_masks: their masks [B, Tc].
        prepend_length: steps prepended so far.
        offset: position of the first input step in the whole sequence (0 unless
            continuing with a KV cache; prepended steps not counted).
    """

    steps: int
    first_step: bool
    offset: int = 0
    cross: list[torch.Tensor] = field(default_factory=list)
    cross_masks: list[torch.Tensor] = field(default_factory=list)
    prepend_length: int = 0


# A fuse method: (attribute name, input [B, S', D], condition, state) -> the new input.
FuseMethod = Callable[[str, torch.Tensor, ConditionType, FuseState], torch.Tensor]
FUSE_METHODS: Registry[FuseMethod] = Registry("fuse method")


@FUSE_METHODS.register("sum")
def _fuse_sum(name: str, input: torch.Tensor, condition: ConditionType,
              state: FuseState) -> torch.Tensor:
    cond, _ = condition
    if cond.shape[1] not in (1, state.steps):
        raise ValueError(
            f"Condition {name!r} fused by sum has {cond.shape[1]} steps, the input "
            f"{state.steps}: use input_interpolate to resample it."
        )
    return input + cond


@FUSE_METHODS.register("input_interpolate")
def _fuse_input_interpolate(name: str, input: torch.Tensor, condition: ConditionType,
                            state: FuseState) -> torch.Tensor:
    resampled = F.interpolate(condition[0].transpose(1, 2), size=state.steps)  # [B, D, S]
    return input + resampled.transpose(1, 2)


@FUSE_METHODS.register("aligned")
def _fuse_aligned(name: str, input: torch.Tensor, condition: ConditionType,
                  state: FuseState) -> torch.Tensor:
    cond, _ = condition  # [B, Tc, D]
    if cond.shape[1] == 1:
        return input + cond.to(input)
    part = cond[:, state.offset:state.offset + state.steps].to(input)  # [B, <= S, D]
    if part.shape[1] < state.steps:
        part = F.pad(part, (0, 0, 0, state.steps - part.shape[1]))
    return input + part


@FUSE_METHODS.register("prepend")
def _fuse_prepend(name: str, input: torch.Tensor, condition: ConditionType,
                  state: FuseState) -> torch.Tensor:
    cond, _ = condition
    if not state.first_step:
        return input
    state.prepend_length += cond.shape[1]
    return torch.cat([cond.to(input), input], dim=1)  # [B, Tc + ..., D]


@FUSE_METHODS.register("cross")
def _fuse_cross(name: str, input: torch.Tensor, condition: ConditionType,
                state: FuseState) -> torch.Tensor:
    cond, mask = condition
    state.cross.append(cond)
    state.cross_masks.append(mask.bool())
    return input


@FUSE_METHODS.register("ignore")
def _fuse_ignore(name: str, input: torch.Tensor, condition: ConditionType,
                 state: FuseState) -> torch.Tensor:
    return input


@dataclass
class FusedConditions:
    """Output of `ConditionFuser.forward`.

    Attributes:
        input: the transformer input [B, P + S, D]: the S input steps, with `sum` and
            `input_interpolate` conditions added, after P prepended condition steps
            (P = 0 without prepend conditions or when `first_step=False`).
        cross_attention_input: cross-attention source [B, Tc, D] (all `cross` conditions
            concatenated along time, sinusoidal positions added if enabled), or None.
        cross_attention_mask: key-padding mask [B, Tc] (bool) for it, True on steps to
            attend to and False on padding and null conditions; None when
            cross_attention_input is None. Whether the transformer applies it is the
            model's choice (audiocraft does not, transformers' MusicGen does): masked
            steps of the source are zero vectors either way.
        prepend_length: P, the number of prepended steps at the front of `input`.
    """

    input: torch.Tensor
    cross_attention_input: torch.Tensor | None
    cross_attention_mask: torch.Tensor | None
    prepend_length: int = 0


class ConditionFuser(nn.Module):
    """Fuses conditions into the transformer input and the cross-attention source.

    Args:
        fuse2cond: method -> attribute names, methods among sum, cross, prepend, ignore,
            input_interpolate, aligned. Each attribute uses exactly one method.
        cross_attention_pos_emb: add sinusoidal positions to the cross-attention source.
        cross_attention_pos_emb_scale: scale of those positions.
    """

    def __init__(self, fuse2cond: dict[str, list[str]], cross_attention_pos_emb: bool = False,
                 cross_attention_pos_emb_scale: float = 1.0):
        super().__init__()
        for method in fuse2cond:
            FUSE_METHODS.get(method, where="fuser")
        self.fuse2cond: dict[str, list[str]] = {
            method: [str(n) for n in (fuse2cond.get(method) or [])] for method in FUSE_METHODS
        }
        self.cond2fuse: dict[str, str] = {}
        for method, names in self.fuse2cond.items():
            for name in names:
                if name in self.cond2fuse:
                    raise ValueError(
                        f"Condition {name!r} is fused by both {self.cond2fuse[name]!r} and "
                        f"{method!r}: list it under one method only."
                    )
                self.cond2fuse[name] = method
        self.cross_attention_pos_emb = cross_attention_pos_emb
        self.cross_attention_pos_emb_scale = cross_attention_pos_emb_scale

    def forward(self, input: torch.Tensor, conditions: dict[str, ConditionType],
                first_step: bool = True, offset: int = 0) -> FusedConditions:
        """Fuse conditions into the input.

        Args:
            input: embedded input steps [B, S, D].
            conditions: name -> (emb [B, Tc, D], mask [B, Tc]) from the ConditioningProvider.
            first_step: False when continuing a sequence with a KV cache: the prepended
                conditions are already in the cache, so they are not prepended again.
            offset: position of input[:, 0] in the whole sequence, for `aligned`
                conditions (the steps already in a KV cache, prepended ones not counted).
        Returns:
            FusedConditions (see its docstring for shapes and the mask convention).
        """
        unknown = set(conditions) - set(self.cond2fuse)
        if unknown:
            raise ValueError(
                f"Condition(s) {sorted(unknown)} have no fuse method: add them to the fuser "
                f"config ({', '.join(FUSE_METHODS)})."
            )
        state = FuseState(input.shape[1], first_step, offset)
        for name, condition in conditions.items():
            input = FUSE_METHODS.get(self.cond2fuse[name])(name, input, condition, state)
        cross, cross_masks, prepend_length = state.cross, state.cross_masks, state.prepend_length
        cross_input: torch.Tensor | None = None
        cross_mask: torch.Tensor | None = None
        if cross:
            cross_input = torch.cat(cross, dim=1)  # [B, Tc, D]
            cross_mask = torch.cat(cross_masks, dim=1)  # [B, Tc]
            if self.cross_attention_pos_emb:
                positions = torch.arange(cross_input.shape[1], device=cross_input.device)
                pos_emb = create_sin_embedding(positions.view(1, -1, 1), cross_input.shape[-1])
                cross_input = cross_input + self.cross_attention_pos_emb_scale * pos_emb.to(
                    cross_input)
        return FusedConditions(input, cross_input, cross_mask, prepend_length)
