"""Choosing the next token from logits: greedy, temperature, top-k and top-p (nucleus).

The sampling draws go through `torch.multinomial` on [B * K, card] probabilities, with an
optional `torch.Generator`: the same generator state gives the same tokens. Without one,
the global torch RNG is used in the same order as the reference implementation.
"""

from __future__ import annotations

import math
import typing as tp

import torch

from .params import check_number


def check_sampling_args(temp: float, top_k: int, top_p: float) -> None:
    """Raise a ValueError for a temperature that is not a finite number >= 0, a top_k that
    is not a whole number >= 0, or a top_p outside [0, 1] (NaN included)."""
    check_number(temp, "temperature", 0, hint="0 means greedy, 1 is the default")
    check_number(top_k, "top_k", 0, integer=True, hint="0 disables top-k, 250 is the default")
    check_number(top_p, "top_p", 0, 1, hint="0 disables top-p")


def check_guidance_coef(coef: tp.Any, n_q: int | None = None) -> float | list[float]:
    """A classifier-free guidance coefficient: one number (every codebook), or a sequence of
    one per codebook (``n_q`` of them when given). Returns a float or a list of floats;
    raises a ValueError that says what to give for anything else (negative or not finite
    values, a list of the wrong length)."""
    if isinstance(coef, str):
        raise ValueError(f"cfg_coef {coef!r} is text: give a number, or a list of numbers "
                         "(parse_guidance_coef reads '3' or '3,6,6,6').")
    values = [coef] if isinstance(coef, (int, float)) else list(coef)
    if not values or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                             and math.isfinite(v) and v >= 0 for v in values):
        raise ValueError(f"cfg_coef must be a number >= 0 or a list of them (one per "
                         f"codebook), got {coef!r}.")
    if isinstance(coef, (int, float)):
        return float(coef)
    if n_q is not None and len(values) != n_q:
        raise ValueError(f"cfg_coef has {len(values)} values but the model has {n_q} "
                         f"codebooks: give one number, or {n_q} (one per codebook).")
    return [float(v) for v in values]


def parse_guidance_coef(text: str | None) -> float | list[float] | None:
    """``"3"`` -> 3.0, ``"3,6,6,6"`` (or spaces) -> one per codebook, empty or None -> None
    (the model's own default). Raises a ValueError for anything else."""
    if text is None or not str(text).strip():
        return None
    parts = [p for p in str(text).replace(",", " ").split() if p]
    try:
        values = [float(p) for p in parts]
    except ValueError as err:
        raise ValueError(f"Cannot read the guidance coefficient {text!r}: give one number "
                         "(e.g. 3) or one per codebook, separated by commas (e.g. 3,6,6,6)."
                         ) from err
    return check_guidance_coef(values[0] if len(values) == 1 else values)


def guidance_coef_arg(text: str) -> float | list[float] | None:
    """:func:`parse_guidance_coef` as an argparse ``type`` (its message on bad input)."""
    import argparse
    try:
        return parse_guidance_coef(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from err


def multinomial(probs: torch.Tensor, num_samples: int = 1,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """torch.multinomial over the last dim of probs [..., card] -> [..., num_samples]."""
    flat = probs.reshape(-1, probs.shape[-1])  # [N, card]
    out = torch.multinomial(flat, num_samples=num_samples, generator=generator)
    return out.reshape(*probs.shape[:-1], num_samples)


def sample_top_k(probs: torch.Tensor, k: int,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """Sample among the k most likely tokens (ties with the k-th kept). probs [..., card]
    -> [..., 1]. k larger than card keeps every token."""
    k = min(k, probs.shape[-1])
    kth = torch.topk(probs, k, dim=-1).values[..., -1:]  # [..., 1]
    probs = probs * (probs >= kth).to(probs.dtype)
    probs = probs / probs.sum(dim=-1, keepdim=True)
    return multinomial(probs, 1, generator)


def sample_top_p(probs: torch.Tensor, p: float,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """Nucleus sampling: the smallest set of most likely tokens whose mass reaches p.
    probs [..., card] -> [..., 1]."""
    sorted_probs, order = torch.sort(probs, dim=-1, descending=True)
    mass_before = torch.cumsum(sorted_probs, dim=-1) - sorted_probs
    sorted_probs = sorted_probs * (mass_before <= p).to(probs.dtype)
    sorted_probs = sorted_probs / sorted_probs.sum(dim=-1, keepdim=True)
    choice = multinomial(sorted_probs, 1, generator)  # [..., 1] index into sorted order
    return torch.gather(order, -1, choice)


def sample_next_token(logits: torch.Tensor, use_sampling: bool = True, temp: float = 1.0,
                      top_k: int = 0, top_p: float = 0.0,
                      generator: torch.Generator | None = None) -> torch.Tensor:
    """Pick one token per row of logits [B, K, card] -> [B, K, 1] (long).

    Greedy (argmax) when `use_sampling` is False or temp is 0. Otherwise softmax(logits /
    temp), then top-p if top_p > 0 (it takes precedence), else top-k if top_k > 0, else the
    full distribution.
    """
    check_sampling_args(temp, top_k, top_p)
    if not use_sampling or temp == 0.0:
        return torch.argmax(logits, dim=-1, keepdim=True)
    probs = torch.softmax(logits.float() / temp, dim=-1)  # [B, K, card]
    if top_p > 0.0:
        return sample_top_p(probs, top_p, generator)
    if top_k > 0:
        return sample_top_k(probs, top_k, generator)
    return multinomial(probs, 1, generator)
