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
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from .activations import get_activation_fn, is_glu
from .decode_step import layer_step, supports_fast_step
from .kv_cache import KVCache, LayerCache

POSITIONAL_EMBEDDINGS = ("sin", "rope", "sin_rope", "none")
NORMS = ("layer_norm", "rms_norm")
CHECKPOINTING = ("none", "torch")


def create_sin_embedding(positions: torch.Tensor, dim: int, max_period: float = 10000.0,
                         dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Sinusoidal positions: [cos | sin] halves, frequencies max_period ** (-i / (dim/2 - 1)).

    Args:
        positions: [B, T, 1] (any integer or float dtype).
        dim: embedding size (even).
    Returns:
        [B, T, dim] embedding in `dtype`.
    """
    if dim % 2 != 0:
        raise ValueError(f"Sinusoidal embeddings need an even dim, got {dim}.")
    half = dim // 2
    positions = positions.to(dtype)
    adim = torch.arange(half, device=positions.device, dtype=dtype).view(1, 1, -1)
    max_period_t = torch.full([], max_period, device=positions.device, dtype=dtype)
    phase = positions / (max_period_t ** (adim / (half - 1)))  # [B, T, half]
    return torch.cat([torch.cos(phase), torch.sin(phase)], dim=-1)  # [B, T, dim]


class RotaryEmbedding(nn.Module):
    """Rotary positions on consecutive pairs (x[2i], x[2i+1]) of each head's features.

    Args:
        dim: per-head feature size (even). max_period: base of the frequencies.
        scale: 1 rotates fully; s < 1 blends the rotation with identity (s * r + 1 - s).
    """

    def __init__(self, dim: int, max_period: float = 10000.0, scale: float = 1.0):
        super().__init__()
        if dim % 2 != 0:
            raise ValueError(f"Rotary embeddings need an even head dim, got {dim}.")
        self.scale = scale
        adim = torch.arange(0, dim, 2, dtype=torch.float32)
        self.frequencies: torch.Tensor
        self.register_buffer("frequencies", 1.0 / (max_period ** (adim / dim)), persistent=False)

    def rotate(self, x: torch.Tensor, start: int) -> torch.Tensor:
        """x [B, H, T, Dh] at positions start..start+T-1 -> rotated x, same shape."""
        T = x.shape[2]
        idx = torch.arange(start, start + T, device=x.device, dtype=torch.float32)
        angles = torch.outer(idx, self.frequencies.to(x.device))  # [T, Dh/2]
        rotation = torch.polar(torch.ones_like(angles), angles)
        rotation = rotation * self.scale + (1.0 - self.scale)
        pairs = torch.view_as_complex(x.float().reshape(*x.shape[:-1], -1, 2))  # [B, H, T, Dh/2]
        return torch.view_as_real(pairs * rotation).reshape(x.shape).type_as(x)


class LayerScale(nn.Module):
    """Per-channel learnt scale of a residual branch (parameter `scale` [D])."""

    def __init__(self, channels: int, init: float = 1e-4):
        super().__init__()
        self.scale = nn.Parameter(torch.full((channels,), float(init)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale * x


def create_norm_fn(norm: str, dim: int) -> nn.Module:
    """Normalisation layer by name: `layer_norm` (eps 1e-5, as the reference) or `rms_norm`."""
    if norm == "layer_norm":
        return nn.LayerNorm(dim, eps=1e-5)
    if norm == "rms_norm":
        return nn.RMSNorm(dim, eps=1e-5)
    raise ValueError(f"Unknown norm {norm!r}; choose one of {list(NORMS)}.")


class MultiheadAttention(nn.Module):
    """Self- or cross-attention with a packed input projection `in_proj_weight`.

    Args:
        dim: model dim D. num_heads: H. bias: biases of the projections.
        dropout: attention-probability dropout (training only).
        causal: mask future steps (self-attention). past_context: attend to at most this
            many past steps (None: all). cross_attention: keys/values come from a source.
        qk_layer_norm: LayerNorm on queries and keys (over D). kv_repeat: H / H_kv
            (grouped keys/values). attention_as_float32: compute attention in float32.
        rope: shared rotary embedding or None.
    """

    def __init__(self, dim: int, num_heads: int, bias: bool = True, dropout: float = 0.0,
                 causal: bool = False, past_context: int | None = None,
                 cross_attention: bool = False, qk_layer_norm: bool = False, kv_repeat: int = 1,
                 attention_as_float32: bool = False, rope: RotaryEmbedding | None = None):
        super().__init__()
        if dim % num_heads != 0:
            raise ValueError(f"dim {dim} must be a multiple of num_heads {num_heads}.")
        if num_heads % kv_repeat != 0:
            raise ValueError(f"num_heads {num_heads} must be a multiple of kv_repeat {kv_repeat}.")
        if cross_attention and (causal or rope is not None):
            raise ValueError("Cross-attention is neither causal nor rotary.")
        if qk_layer_norm and kv_repeat != 1:
            raise ValueError("qk_layer_norm needs kv_repeat = 1.")
        self.dim, self.num_heads, self.kv_repeat = dim, num_heads, kv_repeat
        self.head_dim = dim // num_heads
        self.kv_dim = self.head_dim * (num_heads // kv_repeat)
        self.dropout, self.causal, self.past_context = dropout, causal, past_context
        self.cross_attention, self.attention_as_float32, self.rope = (
            cross_attention, attention_as_float32, rope)
        # A bare packed parameter (as nn.MultiheadAttention), initialised like nn.Linear.
        proj = nn.Linear(dim, dim + 2 * self.kv_dim, bias=bias)
        self.in_proj_weight = proj.weight
        self.in_proj_bias = proj.bias
        # Replacements of the packed projection for sampling in another precision
        # (models/precision.py): "qkv" (self-attention), "q" and "kv" (cross-attention).
        # Empty by default, so it adds nothing to the state dict.
        self.in_proj_modules = nn.ModuleDict()
        self.out_proj = nn.Linear(dim, dim, bias=bias)
        self.q_layer_norm = nn.LayerNorm(dim) if qk_layer_norm else None
        self.k_layer_norm = nn.LayerNorm(dim) if qk_layer_norm else None

    def _project(self, x: torch.Tensor, part: slice, name: str) -> torch.Tensor:
        """x [B, T, D] through rows `part` of the packed projection (module `name` of
        `in_proj_modules` when the precision replaced it)."""
        if self.in_proj_modules:
            return tp.cast(torch.Tensor, self.in_proj_modules[name](x))
        if part == slice(None):  # the whole packed projection, without a view
            return F.linear(x, self.in_proj_weight, self.in_proj_bias)
        bias = self.in_proj_bias[part] if self.in_proj_bias is not None else None
        return F.linear(x, self.in_proj_weight[part], bias)

    def _heads(self, x: torch.Tensor, heads: int) -> torch.Tensor:
        B, T, _ = x.shape
        return x.view(B, T, heads, self.head_dim).transpose(1, 2)  # [B, heads, T, Dh]

    def _keys_values(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Projected keys and values [B, Tk, Dkv] -> heads [B, H_kv, Tk, Dh] each."""
        if self.k_layer_norm is not None:
            k = self.k_layer_norm(k)
        heads = self.num_heads // self.kv_repeat
        return self._heads(k, heads), self._heads(v, heads)  # [B, H_kv, Tk, Dh] each

    def forward(self, x: torch.Tensor, source: torch.Tensor | None = None,
                key_padding_mask: torch.Tensor | None = None,
                cache: LayerCache | None = None, offset: int = 0) -> torch.Tensor:
        """Attend from x [B, T, D] to itself (self-attention) or to `source` [B, Tk, D].

        Args:
            key_padding_mask: cross-attention only, [B, Tk] bool, True = attend.
                Rows with no True attend uniformly (never NaN).
            cache: this layer's cache (generation) or None (one full pass).
            offset: absolute position of x's first step (the cache offset).
        Returns:
            [B, T, D].
        """
        B, T, D = x.shape
        if self.cross_attention:
            q = self._project(x, slice(0, D), "q")  # [B, T, D]
        else:
            # One matmul over the whole projection: slicing the weight three times would
            # also cost three full-size zero-filled weight gradients in training.
            qkv = self._project(x, slice(None), "qkv")  # [B, T, D + 2 Dkv]
            q, k_new, v_new = qkv.split([D, self.kv_dim, self.kv_dim], dim=-1)
        if self.q_layer_norm is not None:
            q = self.q_layer_norm(q)
        q = self._heads(q, self.num_heads)  # [B, H, T, Dh]
        mask: torch.Tensor | None = None
        is_causal = False
        if self.cross_attention:
            k, v, mask = self._cross_keys_values(source, key_padding_mask, cache)
        else:
            k, v = self._keys_values(k_new, v_new)  # [B, H_kv, T, Dh]
            if self.rope is not None:
                q, k = self.rope.rotate(q, offset), self.rope.rotate(k, offset)
            if cache is not None:
                k, v = self._append(cache, k, v, offset)  # [B, H_kv, offset + T, Dh]
            k_len = k.shape[2]
            if self.causal and offset == 0 and self.past_context is None:
                is_causal = T > 1
            elif self.causal and (T > 1 or self.past_context is not None):
                mask = self._causal_mask(T, k_len, offset, x.device)
        if self.kv_repeat > 1:
            k = k.repeat_interleave(self.kv_repeat, dim=1)  # [B, H, Tk, Dh]
            v = v.repeat_interleave(self.kv_repeat, dim=1)
        dtype = q.dtype
        if self.attention_as_float32:
            q, k, v = q.float(), k.float(), v.float()
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, is_causal=is_causal,
            dropout_p=self.dropout if self.training else 0.0)  # [B, H, T, Dh]
        out = out.to(dtype).transpose(1, 2).reshape(B, T, D)
        return self.out_proj(out)

    def _cross_keys_values(
        self, source: torch.Tensor | None, key_padding_mask: torch.Tensor | None,
        cache: LayerCache | None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        if cache is not None and cache.cross_keys is not None:
            assert cache.cross_values is not None
            return cache.cross_keys, cache.cross_values, cache.cross_mask
        if source is None:
            raise ValueError("Cross-attention needs a source (the cross-attention conditions).")
        D, Dkv = self.dim, self.kv_dim
        k, v = self._project(source, slice(D, D + 2 * Dkv), "kv").split([Dkv, Dkv], dim=-1)
        k, v = self._keys_values(k, v)  # [B, H_kv, Tk, Dh]
        mask = None
        if key_padding_mask is not None:
            # Additive float mask with the dtype's minimum rather than -inf: a fully masked
            # row (the null condition of guidance) then attends uniformly instead of NaN.
            neg = torch.finfo(torch.float32 if self.attention_as_float32 else k.dtype).min
            keep = key_padding_mask.to(torch.bool)[:, None, None, :]  # [B, 1, 1, Tk]
            mask = torch.zeros(keep.shape, device=k.device,
                               dtype=torch.float32 if self.attention_as_float32 else k.dtype)
            mask = mask.masked_fill(~keep, neg)
        if cache is not None:
            cache.cross_keys, cache.cross_values, cache.cross_mask = k, v, mask
        return k, v, mask

    @staticmethod
    def _append(cache: LayerCache, k: torch.Tensor, v: torch.Tensor,
                offset: int) -> tuple[torch.Tensor, torch.Tensor]:
        end = offset + k.shape[2]
        assert cache.keys is not None and cache.values is not None
        if end > cache.keys.shape[2]:
            raise RuntimeError(
                f"KV cache full: {end} steps for a capacity of {cache.keys.shape[2]}; "
                "create the KVCache with more extra_steps.")
        cache.keys[:, :, offset:end] = k
        cache.values[:, :, offset:end] = v
        return cache.keys[:, :, :end], cache.values[:, :, :end]

    def _causal_mask(self, T: int, k_len: int, offset: int, device: torch.device) -> torch.Tensor:
        q_pos = torch.arange(offset, offset + T, device=device).view(-1, 1)  # [T, 1]
        k_pos = torch.arange(k_len, device=device).view(1, -1)  # [1, Tk]
        keep = k_pos <= q_pos
        if self.past_context is not None:
            keep = keep & (k_pos >= q_pos - self.past_context)
        return keep  # [T, Tk] bool, True = attend


class StreamingTransformerLayer(nn.Module):
    """One transformer layer: self-attention, optional cross-attention, feed-forward.

    Pre-norm (norm_first): x + f(norm(x)) per block, post-norm: norm(x + f(x)); each
    residual branch optionally scaled by a LayerScale. Arguments as StreamingTransformer.
    """

    def __init__(self, d_model: int, num_heads: int, dim_feedforward: int, dropout: float,
                 activation: str, bias_ff: bool, bias_attn: bool, causal: bool,
                 past_context: int | None, cross_attention: bool, layer_scale: float | None,
                 norm: str, norm_first: bool, qk_layer_norm: bool, qk_layer_norm_cross: bool,
                 attention_dropout: float | None, kv_repeat: int, attention_as_float32: bool,
                 rope: RotaryEmbedding | None):
        super().__init__()
        attn_dropout = dropout if attention_dropout is None else attention_dropout
        self.self_attn = MultiheadAttention(
            d_model, num_heads, bias=bias_attn, dropout=attn_dropout, causal=causal,
            past_context=past_context, qk_layer_norm=qk_layer_norm, kv_repeat=kv_repeat,
            attention_as_float32=attention_as_float32, rope=rope)
        ff_in = 2 * dim_feedforward if is_glu(activation) else dim_feedforward
        self.linear1 = nn.Linear(d_model, ff_in, bias=bias_ff)
        self.linear2 = nn.Linear(dim_feedforward, d_model, bias=bias_ff)
        self.activation = get_activation_fn(activation)
        self.dropout = nn.Dropout(dropout)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.norm_first = norm_first
        self.norm1 = create_norm_fn(norm, d_model)
        self.norm2 = create_norm_fn(norm, d_model)
        self.layer_scale_1: nn.Module = (
            LayerScale(d_model, layer_scale) if layer_scale is not None else nn.Identity())
        self.layer_scale_2: nn.Module = (
            LayerScale(d_model, layer_scale) if layer_scale is not None else nn.Identity())
        self.cross_attention: MultiheadAttention | None = None
        if cross_attention:
            self.cross_attention = MultiheadAttention(
                d_model, num_heads, bias=bias_attn, dropout=attn_dropout, cross_attention=True,
                qk_layer_norm=qk_layer_norm_cross, attention_as_float32=attention_as_float32)
            self.dropout_cross = nn.Dropout(dropout)
            self.norm_cross = create_norm_fn(norm, d_model)
            self.layer_scale_cross: nn.Module = (
                LayerScale(d_model, layer_scale) if layer_scale is not None else nn.Identity())

    def _ff(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))

    def forward(self, x: torch.Tensor, cross_attention_src: torch.Tensor | None = None,
                cross_attention_mask: torch.Tensor | None = None,
                cache: LayerCache | None = None, offset: int = 0) -> torch.Tensor:
        """x [B, T, D] -> [B, T, D]; see MultiheadAttention.forward for the other arguments."""
        def sa(y: torch.Tensor) -> torch.Tensor:
            return self.dropout1(self.self_attn(y, cache=cache, offset=offset))

        def ca(y: torch.Tensor) -> torch.Tensor:
            assert self.cross_attention is not None
            return self.dropout_cross(self.cross_attention(
                y, cross_attention_src, key_padding_mask=cross_attention_mask, cache=cache))

        if self.norm_first:
            x = x + self.layer_scale_1(sa(self.norm1(x)))
            if self.cross_attention is not None:
                x = x + self.layer_scale_cross(ca(self.norm_cross(x)))
            x = x + self.layer_scale_2(self._ff(self.norm2(x)))
        else:
            x = self.norm1(x + self.layer_scale_1(sa(x)))
            if self.cross_attention is not None:
                x = self.norm_cross(x + self.layer_scale_cross(ca(x)))
            x = self.norm2(x + self.layer_scale_2(self._ff(x)))
        return x


class StreamingTransformer(nn.Module):
    """Stack of transformer layers with positional embeddings and an optional KV cache.

    Args:
        d_model: model dim D. num_heads: attention heads. num_layers: layers.
        dim_feedforward: hidden size of the feed-forward (doubled inside for GLUs).
        dropout: dropout of every residual branch (and of attention unless
            attention_dropout is set). activation: see `activations.ACTIVATIONS`.
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
                 dropout: float = 0.0, activation: str = "gelu", bias_ff: bool = True,
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
            for index, layer in enumerate(self.layers):
                layer = tp.cast(StreamingTransformerLayer, layer)
                if supports_fast_step(layer):
                    x = layer_step(layer, x, cache.layers[index], offset)
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
