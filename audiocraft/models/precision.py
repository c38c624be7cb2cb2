"""Inference precision of the language model: float32, bfloat16, float16 or int8.

Autoregressive decoding reads every weight of the LM once per step, so its speed is set
by the bytes of weights per step. ``apply_precision(lm, name)`` converts a loaded
(float32) LM for sampling, in place:

- ``float32``: nothing changes (exact; the default).
- ``bfloat16`` / ``float16``: the decoder (embeddings, transformer, final norm, output
  heads) is cast to that dtype. The conditioners stay in float32 (they run once per
  window; ``LMModel.forward`` casts their output to the decoder's dtype). Sampling runs
  its softmax in float32.
- ``int8``: dynamic quantisation of every linear layer of the decoder with torch's own
  kernels (``torch.ao.quantization.quantize_dynamic``: int8 weights with one scale per
  output channel, activations quantised per call). The attention's packed input
  projection becomes quantised linear modules too. CPU only. Everything else (norms,
  attention itself, embeddings) stays float32.

Loading stays exact: quantisation happens after the float32 weights load, and a
converted LM is for sampling only (its state dict no longer matches a checkpoint).
"""

from __future__ import annotations

import typing as tp
import warnings
from dataclasses import dataclass

import torch
from torch import nn

from ..modules.transformer import MultiheadAttention
from .lm import LMModel

PRECISIONS: tuple[str, ...] = ("float32", "bfloat16", "float16", "int8")
# The deviation each lossy precision is allowed on the models the tests build (tiny and
# random): (largest relative RMS error of the guided logits, smallest share of greedy
# tokens that match float32's), both over the float32 greedy decoding (`measure_deviation`).
# README, Performance, gives what musicgen-small sizes measure.
DEVIATION_BOUNDS: dict[str, tuple[float, float]] = {
    "bfloat16": (0.05, 0.9), "float16": (0.01, 0.97), "int8": (0.1, 0.85)}
_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def check_precision(precision: str) -> str:
    """The precision name, or a ValueError listing the known ones."""
    if precision not in PRECISIONS:
        raise ValueError(f"Unknown precision {precision!r}; choose one of {list(PRECISIONS)} "
                         "(float32 is exact, the others trade accuracy for speed).")
    return precision


def _decoder_parts(lm: LMModel) -> list[nn.Module]:
    """The modules every decoding step reads: embeddings, transformer, final norm, heads."""
    parts: list[nn.Module] = [lm.emb, lm.transformer, lm.linears]
    if lm.out_norm is not None:
        parts.append(lm.out_norm)
    return parts


def _quantize_linear(weight: torch.Tensor, bias: torch.Tensor | None) -> nn.Module:
    """A dynamically quantised int8 linear layer (per output channel) computing
    x @ weight.T + bias, built from float weights [out, in]."""
    linear = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None)
    with torch.no_grad():
        linear.weight.copy_(weight.float())
        if bias is not None:
            linear.bias.copy_(bias.float())
    wrapper = nn.Sequential(linear)
    _quantize(wrapper)  # replaces the wrapper's child in place
    return wrapper[0]


def _quantize(module: nn.Module) -> nn.Module:
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    with warnings.catch_warnings():
        # torch marks its quantised tensor types for a future move (to torchao); the
        # kernels are the supported CPU path of this torch release.
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        return tp.cast(nn.Module, quantize_dynamic(
            module, {nn.Linear: per_channel_dynamic_qconfig}, inplace=True))


def _quantize_attention(lm: LMModel) -> None:
    """Give every attention of the transformer quantised input projections (packed
    q/k/v for self-attention; q and k/v apart for cross-attention, whose keys/values
    are computed once per generation) and drop the float packed weight."""
    for module in lm.modules():
        if not isinstance(module, MultiheadAttention) or module.in_proj_weight is None:
            continue
        weight = module.in_proj_weight.detach()
        bias = module.in_proj_bias.detach() if module.in_proj_bias is not None else None
        D = module.dim
        if module.cross_attention:
            module.in_proj_modules["q"] = _quantize_linear(
                weight[:D], bias[:D] if bias is not None else None)
            module.in_proj_modules["kv"] = _quantize_linear(
                weight[D:], bias[D:] if bias is not None else None)
        else:
            module.in_proj_modules["qkv"] = _quantize_linear(weight, bias)
        module.in_proj_weight = None  # type: ignore[assignment]
        module.in_proj_bias = None  # type: ignore[assignment]


def apply_precision(lm: LMModel, precision: str = "float32") -> LMModel:
    """Convert ``lm`` (an ``LMModel`` in float32, in eval mode) to ``precision`` in place.

    Args:
        lm: the language model; its conditioners are left in float32.
        precision: one of ``PRECISIONS``.
    Returns:
        ``lm`` itself, with ``lm.precision`` set to the name.
    Raises:
        ValueError: unknown precision, int8 on a non-CPU device, or an LM already
            converted to another precision (load it again instead).
    """
    check_precision(precision)
    current = lm.precision
    if precision == current:
        return lm
    if current != "float32":
        raise ValueError(f"This LM already runs in {current}: load the float32 weights "
                         f"again to use {precision}.")
    lm.eval()
    parts = _decoder_parts(lm)
    if precision == "int8":
        device = next(iter(lm.parameters())).device
        if device.type != "cpu":
            raise ValueError(f"int8 runs on the CPU only (torch's quantised kernels); the "
                             f"model is on {device}. Use bfloat16 or float16 there.")
        _quantize_attention(lm)
        for part in parts:
            _quantize(part)
    else:
        for part in parts:
            part.to(_DTYPES[precision])
    lm.precision = precision
    return lm


def decoder_dtype(lm: LMModel) -> torch.dtype:
    """The floating dtype the decoder's activations run in (float32 for int8)."""
    return _DTYPES.get(lm.precision, torch.float32)


def _linear_bytes(module: nn.Module) -> int:
    """Bytes of a linear layer's weight matrix (float or dynamically quantised)."""
    if isinstance(module, nn.Linear):
        return module.weight.numel() * module.weight.element_size()
    weight = getattr(module, "weight", None)
    if callable(weight):  # a dynamically quantised linear: weight() is its int8 matrix
        return int(weight().numel())
    return 0


def decoder_weight_bytes(lm: LMModel) -> int:
    """Bytes of weights one decoding step reads: the matrices of every linear layer of
    the decoder at their stored precision, counting only the query part of
    cross-attention's input projection (its keys/values are computed once per
    generation). Embedding rows and norms are negligible and left out. Used for the
    memory-bandwidth bound of the benchmarks."""
    total = 0
    modules = [m for part in _decoder_parts(lm) for m in part.modules()]
    counted = {id(m) for m in modules if isinstance(m, MultiheadAttention)
               for m in m.in_proj_modules.modules()}  # counted with their attention
    for module in modules:
        if id(module) in counted:
            continue
        if isinstance(module, MultiheadAttention):
            weight = module.in_proj_weight
            if module.in_proj_modules:
                name = "q" if module.cross_attention else "qkv"
                total += _linear_bytes(module.in_proj_modules[name])
            elif weight is not None:
                rows = module.dim if module.cross_attention else weight.shape[0]
                total += rows * weight.shape[1] * weight.element_size()
        else:
            total += _linear_bytes(module)
    return total


# ---- how far a lossy precision moves the model ----

@dataclass
class Deviation:
    """How a converted LM's guided logits differ from the float32 LM's on the same
    sequence (the float32 LM's greedy decoding, fed to both step by step with the KV
    cache, as in sampling).

    Attributes:
        logit_error: RMS of (logits - float32 logits) over the RMS of the float32 logits.
        max_logit_error: the largest absolute difference.
        agreement: share of predicted codes (steps x codebooks) whose argmax matches the
            float32 LM's (its greedy token).
        steps: frames decoded.
    """

    logit_error: float
    max_logit_error: float
    agreement: float
    steps: int


@torch.no_grad()
def guided_step_logits(lm: LMModel, conditions: list[tp.Any],
                       sequence: torch.Tensor) -> torch.Tensor:
    """The guided logits ``lm.generate`` samples from, for a given pattern sequence
    [B, K, S] fed one step at a time through the KV cache: [B, K, S, card], position s
    predicting step s + 1."""
    from ..modules.kv_cache import KVCache

    B, _, S = sequence.shape
    passes = lm._guidance_passes(conditions, B, lm.two_step_cfg, None)
    for p in passes:
        p.cache = KVCache(extra_steps=S)
    coef = lm.cfg_coef if isinstance(lm.cfg_coef, float) else torch.tensor(lm.cfg_coef)[:, None]
    steps = [lm._guided_logits(sequence[..., s:s + 1], passes, coef, None).float()
             for s in range(S)]  # [B, K, card] each
    return torch.stack(steps, dim=2)


@torch.no_grad()
def measure_deviation(reference: LMModel, lm: LMModel, conditions: list[tp.Any],
                      steps: int, reference_logits: torch.Tensor | None = None
                      ) -> tuple[Deviation, torch.Tensor]:
    """Compare ``lm`` (converted) with ``reference`` (float32) over ``steps`` frames of
    the reference's greedy decoding for ``conditions``. Returns the Deviation and the
    reference's logits [B, K, S, card] (pass them back to compare other precisions
    without recomputing them)."""
    pattern = reference.pattern_provider.get_pattern(steps)
    codes = reference.generate(None, conditions, max_gen_len=steps, use_sampling=False)
    sequence, _, mask = pattern.build_pattern_sequence(codes, reference.special_token_id)
    if reference_logits is None:
        reference_logits = guided_step_logits(reference, conditions, sequence)
    logits = guided_step_logits(lm, conditions, sequence)  # [B, K, S, card]
    valid = mask[None, :, 1:].expand(codes.shape[0], -1, -1)  # predicted step s + 1
    ref, out = reference_logits[:, :, :-1][valid], logits[:, :, :-1][valid]  # [N, card]
    diff = out - ref
    error = float(diff.pow(2).mean().sqrt() / ref.pow(2).mean().sqrt())
    agreement = float((out.argmax(-1) == ref.argmax(-1)).float().mean())
    return Deviation(error, float(diff.abs().max()), agreement, steps), reference_logits


# ---- threads ----

SMALL_DECODER_BYTES = 64 * 2**20  # below this, a decoding step is Python- and sync-bound
# Torch's own thread count when this module is first imported (the physical cores, or
# OMP_NUM_THREADS), before any automatic choice lowers it.
DEFAULT_THREADS = torch.get_num_threads()


def suggested_threads(lm: LMModel, batch: int = 1) -> int:
    """Torch threads that suit sampling from ``lm`` with ``batch`` samples on this CPU.

    A step of a small decoder (under ``SMALL_DECODER_BYTES`` of weights per step: the
    toy model reads 15 MB) is a few hundred tiny operations that a second thread
    speeds up little when the cores are free (the toy LM: 1.2x at batch 1 and 4) and
    slows down many times when another job holds a core (every operator waits for the
    thread that lost it), at any batch: they get 1 (README, Performance).
    Larger models are bound by memory bandwidth, which every core helps to draw: they
    get torch's default count (``DEFAULT_THREADS``, whatever the current setting).
    """
    if decoder_weight_bytes(lm) < SMALL_DECODER_BYTES:
        return 1
    return DEFAULT_THREADS


def use_suggested_threads(lm: LMModel, batch: int = 1) -> int:
    """Set torch's thread count to ``suggested_threads(lm, batch)``; returns it."""
    threads = suggested_threads(lm, batch)
    torch.set_num_threads(threads)
    return threads
