"""Transformer of the language model, with a preallocated KV cache for generation.

Layers follow the reference audiocraft layout (state-dict keys `layers.N.self_attn.
in_proj_weight`, `linear1`, `norm1`, `cross_attention`, `norm_cross`, `layer_scale_1`...),
so official checkpoints load without renaming. Attention runs through
`torch.nn.functional.scaled_dot_product_attention`.

Streaming: `StreamingTransformer.forward(x, cache=cache)` with a `KVCache` appends the
keys/values of `x` to the cache and attends to everything cached so far; positions continue
from `cache.offset`. The cache allocates its buffers once, on the first call, for that
call's length plus `extra_steps`; cross-attention keys/values are computed on the first
call only and reused (the cross-attention source is constant during one generation).
"""

from __future__ import annotations

import math
import typing as tp

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from .decode_step import layer_step, supports_fast_step
from .kv_cache import KVCache
from .transformer_layer import (  # noqa: F401  (re-exported: the layer's parts live there)
    CHECKPOINTING,
    NORMS,
    POSITIONAL_EMBEDDINGS,
    LayerScale,
    MultiheadAttention,
    RotaryEmbedding,
    StreamingTransformerLayer,
    create_norm_fn,
    create_sin_embedding,
)

# The reference's name of the attention module (code written against it imports this one).
StreamingMultiheadAttention = MultiheadAttention


def set_efficient_attention_backend(backend: str = "torch") -> None:
    """The reference's switch between xformers and torch attention. Attention here always
    runs through torch's `scaled_dot_product_attention`: 'torch' is accepted, anything
    else is refused."""
    if backend != "torch":
        raise ValueError(f"Attention backend {backend!r} is not available: attention always "
                         "uses torch's scaled_dot_product_attention ('torch').")


class StreamingTransformer(nn.Module):
    """Stack of transformer layers with positional embeddings and an optional KV cache.

    Args:
        d_model: model dim D. num_heads: attention heads. num_layers: layers.
        dim_feedforward: hidden size of the feed-forward (doubled inside for GLUs).
        dropout: dropout of every residual branch (and of attention unless
            attention_dropout is set). activation: see `activations.ACTIVATIONS` (default
            relu, as the reference).
        bias_ff, bias_attn: biases of the feed-forward / attention projections.
        causal: causal self-attention. past_context: limit of attended past steps.
        cross_attention: add cross-attention blocks (keys/values from a source).
        cross_attention_mask: pass the source's key-padding mask to cross-attention. Off by
            default, as in the audiocraft reference the released checkpoints were trained
            with (padded positions are zero vectors that still take part in the softmax);
            on, results no longer depend on how much padding a batch adds (transformers'
            MusicGen behaviour). Both agree when the batch has no padding.
        layer_scale: initial LayerScale value, None for no LayerScale.
        positional_embedding: `sin` (added to the input), `rope`, `sin_rope` or `none`.
        max_period: base of the positional frequencies. positional_scale: scale of the sin
            embedding (and the rotary blend).
        norm: `layer_norm` or `rms_norm`. norm_first: pre-norm instead of post-norm.
        qk_layer_norm, qk_layer_norm_cross: LayerNorm on queries/keys of self/cross-attention.
        kv_repeat: query heads per key/value head. attention_as_float32: float32 attention.
        checkpointing: `none` or `torch` (activation checkpointing of each layer in training).
        custom, memory_efficient, xpos, lr, weight_decay: accepted for reference configs;
            attention always uses torch SDPA (same results), xpos must stay False.
    """

    # Decoding steps (cached calls after the first) skip the module calls of the layers
    # that allow it (see decode_step.py); same results, less Python. Off: always modules.
    fast_decode: bool = True

    def __init__(self, d_model: int, num_heads: int, num_layers: int, dim_feedforward: int = 2048,
                 dropout: float = 0.0, activation: str = "relu", bias_ff: bool = True,
                 bias_attn: bool = True, causal: bool = False, past_context: int | None = None,
                 cross_attention: bool = False, cross_attention_mask: bool = False,
                 layer_scale: float | None = None, positional_embedding: str = "sin",
                 max_period: float = 10000.0, positional_scale: float = 1.0,
                 norm: str = "layer_norm", norm_first: bool = False, qk_layer_norm: bool = False,
                 qk_layer_norm_cross: bool = False, attention_dropout: float | None = None,
                 kv_repeat: int = 1, attention_as_float32: bool = False,
                 checkpointing: str = "none",
                 custom: bool = False, memory_efficient: bool = False, xpos: bool = False,
                 lr: float | None = None, weight_decay: float | None = None):
        super().__init__()
        if positional_embedding not in POSITIONAL_EMBEDDINGS:
            raise ValueError(f"Unknown positional_embedding {positional_embedding!r}; choose one "
                             f"of {list(POSITIONAL_EMBEDDINGS)}.")
        if checkpointing not in CHECKPOINTING:
            raise ValueError(f"Unknown checkpointing {checkpointing!r}; choose one of "
                             f"{list(CHECKPOINTING)}.")
        if xpos:
            raise ValueError("xpos is not supported: set xpos to false.")
        if d_model % num_heads != 0:
            raise ValueError(f"d_model {d_model} must be a multiple of num_heads {num_heads}.")
        self.d_model = d_model
        self.positional_embedding, self.max_period = positional_embedding, max_period
        self.positional_scale = positional_scale
        self.checkpointing = checkpointing
        self.cross_attention_mask = cross_attention_mask
        self.lr, self.weight_decay = lr, weight_decay
        self.rope: RotaryEmbedding | None = None
        if positional_embedding in ("rope", "sin_rope"):
            self.rope = RotaryEmbedding(d_model // num_heads, max_period, positional_scale)
        self.layers = nn.ModuleList([
            StreamingTransformerLayer(
                d_model, num_heads, dim_feedforward, dropout, activation, bias_ff, bias_attn,
                causal, past_context, cross_attention, layer_scale, norm, norm_first,
                qk_layer_norm, qk_layer_norm_cross, attention_dropout, kv_repeat,
                attention_as_float32, self.rope)
            for _ in range(num_layers)])

    def forward(self, x: torch.Tensor, cross_attention_src: torch.Tensor | None = None,
                cross_attention_mask: torch.Tensor | None = None,
                cache: KVCache | None = None) -> torch.Tensor:
        """Run the layers on x [B, T, D] -> [B, T, D].

        Args:
            cross_attention_src: [B, Tc, D] or None (needed on the first cached call only).
            cross_attention_mask: [B, Tc] (True/1 = valid), used only when the transformer
                was built with `cross_attention_mask=True`.
            cache: KVCache to append to (generation), or None for one full pass.
        """
        B, T, C = x.shape
        offset = cache.offset if cache is not None else 0
        if self.positional_embedding in ("sin", "sin_rope"):
            positions = torch.arange(offset, offset + T, device=x.device).view(1, -1, 1)
            # float32 phases: in bfloat16, positions past 256 would round to multiples of 2+.
            pos_emb = create_sin_embedding(positions, C, self.max_period).to(x.dtype)
            x = x + self.positional_scale * pos_emb  # [B, T, D]
        mask = cross_attention_mask if self.cross_attention_mask else None
        if cache is not None:
            self._allocate(cache, x)
        if cache is not None and offset > 0 and not self.training and self.fast_decode:
            # Decoding: the cross-attention keys/values are cached since the first call.
            # Every layer shares the transformer's rotary embedding: one rotation per step.
            rotation = self.rope.rotation(offset, T, x.device) if self.rope is not None else None
            for index, layer in enumerate(self.layers):
                layer = tp.cast(StreamingTransformerLayer, layer)
                if supports_fast_step(layer):
                    shared = rotation if layer.self_attn.rope is self.rope else None
                    x = layer_step(layer, x, cache.layers[index], offset, shared)
                else:
                    x = layer(x, cross_attention_src, mask, cache=cache.layers[index],
                              offset=offset)
            cache.offset += T
            return x
        for index, layer in enumerate(self.layers):
            layer_cache = cache.layer(index) if cache is not None else None
            if self.checkpointing == "torch" and self.training and cache is None:
                x = tp.cast(torch.Tensor, checkpoint(
                    layer, x, cross_attention_src, mask, use_reentrant=False))
            else:
                x = layer(x, cross_attention_src, mask, cache=layer_cache, offset=offset)
        if cache is not None:
            cache.offset += T
        return x

    def _allocate(self, cache: KVCache, x: torch.Tensor) -> None:
        if cache.layers and cache.layers[0].keys is not None:
            return
        cache.capacity = x.shape[1] + cache.extra_steps
        for index, layer in enumerate(self.layers):
            attn = tp.cast(StreamingTransformerLayer, layer).self_attn
            shape = (x.shape[0], attn.num_heads // attn.kv_repeat, cache.capacity, attn.head_dim)
            entry = cache.layer(index)
            entry.keys = x.new_zeros(shape)  # [B, H_kv, capacity, Dh]
            entry.values = x.new_zeros(shape)


def init_layer(module: nn.Module, method: str, init_depth: int | None = None,
               zero_bias_init: bool = False) -> None:
    """Reference weight init of one Linear or Embedding (other modules untouched).

    std = 1 / sqrt(fan_in), divided by sqrt(2 * init_depth) when a depth is given;
    `gaussian` draws a normal truncated at 3 std, `uniform` U(-sqrt(3) std, sqrt(3) std).
    """
    if isinstance(module, nn.Linear):
        fan_in = module.in_features
    elif isinstance(module, nn.Embedding):
        fan_in = module.embedding_dim
        init_depth = None
    else:
        return
    std = 1 / math.sqrt(fan_in)
    if init_depth is not None:
        std = std / math.sqrt(2 * init_depth)
    if method == "gaussian":
        nn.init.trunc_normal_(module.weight, mean=0.0, std=std, a=-3 * std, b=3 * std)
    elif method == "uniform":
        bound = math.sqrt(3) * std
        nn.init.uniform_(module.weight, -bound, bound)
    else:
        raise ValueError(f"Unknown weight_init {method!r}; choose gaussian or uniform.")
    bias = getattr(module, "bias", None)
    if zero_bias_init and bias is not None:
        nn.init.zeros_(bias)
