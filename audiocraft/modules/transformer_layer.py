"""Attention and the transformer layer of the language model (reference state-dict layout).

Layers follow the reference audiocraft layout (state-dict keys `layers.N.self_attn.
in_proj_weight`, `linear1`, `norm1`, `cross_attention`, `norm_cross`, `layer_scale_1`...),
so official checkpoints load without renaming. Attention runs through
`torch.nn.functional.scaled_dot_product_attention`. `transformer.py` stacks the layers;
`decode_step.py` runs one of them on a single new step.
"""

from __future__ import annotations

import typing as tp

import torch
import torch.nn.functional as F
from torch import nn

from .activations import get_activation_fn, is_glu
from .kv_cache import LayerCache

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
        return self.apply_rotation(x, self.rotation(start, x.shape[2], x.device))

    def rotation(self, start: int, length: int, device: torch.device) -> torch.Tensor:
        """The complex rotations of positions start..start+length-1: [length, Dh/2]
        (shared by every layer of a step; see `apply_rotation`)."""
        idx = torch.arange(start, start + length, device=device, dtype=torch.float32)
        angles = torch.outer(idx, self.frequencies.to(device))  # [T, Dh/2]
        rotation = torch.polar(torch.ones_like(angles), angles)
        return rotation * self.scale + (1.0 - self.scale)

    @staticmethod
    def apply_rotation(x: torch.Tensor, rotation: torch.Tensor) -> torch.Tensor:
        """x [B, H, T, Dh] rotated by `rotation` [T, Dh/2] -> same shape and dtype."""
        pairs = torch.view_as_complex(x.float().reshape(*x.shape[:-1], -1, 2))  # [B, H, T, Dh/2]
        return torch.view_as_real(pairs * rotation).reshape(x.shape).type_as(x)

    def rotate_qk(self, query: torch.Tensor, key: torch.Tensor, start: int = 0,
                  time_dim: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        """Rotate queries and keys whose time axis is `time_dim` (the reference's layout
        ``[B, T, H, Dh]`` by default), at positions start, start + 1...; same shapes."""
        def rotated(x: torch.Tensor) -> torch.Tensor:
            return self.rotate(x.movedim(time_dim, 2), start).movedim(2, time_dim)
        return rotated(query), rotated(key)


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
