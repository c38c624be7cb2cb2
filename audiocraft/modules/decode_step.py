"""One decoding step of a `StreamingTransformer` through its KV cache, with few Python calls.

Sampling runs the transformer on one new step at a time, where every layer costs a few
dozen small tensor operations around its matrix products. Called through the modules,
they also pay for module calls, hooks, and dropouts and identities that do nothing in
eval mode: about 50 us per layer, 1.2 ms of a step's 5 ms of Python on a 24-layer model.
`layer_step` runs the same operations in the same order as
`StreamingTransformerLayer.forward` (so float32 results are bit for bit the same), calling
each submodule's `forward` directly and skipping what eval mode leaves out.

It covers the layers MusicGen uses: self-attention without grouped keys/values, q/k
norms, limited context or float32 upcast, with or without rotary positions (whose
rotation the transformer computes once per step for all layers); `supports_fast_step` says
whether a layer qualifies, and the transformer falls back to the modules otherwise.
"""

from __future__ import annotations

import typing as tp

import torch
import torch.nn.functional as F
from torch import nn

if tp.TYPE_CHECKING:
    from .kv_cache import LayerCache
    from .transformer_layer import MultiheadAttention, StreamingTransformerLayer


def supports_fast_step(layer: StreamingTransformerLayer) -> bool:
    """Whether `layer_step` computes exactly what `layer.forward` does for this layer."""
    attn = layer.self_attn
    simple = (attn.kv_repeat == 1 and attn.q_layer_norm is None and attn.k_layer_norm is None
              and attn.past_context is None and not attn.attention_as_float32 and attn.causal)
    cross = layer.cross_attention
    if cross is not None:
        simple = simple and cross.q_layer_norm is None and cross.kv_repeat == 1 and (
            not cross.attention_as_float32)
    return simple and not layer.training


def _identity_or(module: nn.Module) -> tp.Callable[[torch.Tensor], torch.Tensor] | None:
    return None if isinstance(module, nn.Identity) else module.forward


def _self_attention(attn: MultiheadAttention, x: torch.Tensor, cache: LayerCache,
                    offset: int, rotation: torch.Tensor | None) -> torch.Tensor:
    """Causal self-attention of new steps x [B, T, D] over the cache; `rotation`: the
    rotary rotations of these positions [T, Dh/2] when the attention has rotary ones."""
    B, T, D = x.shape
    if attn.in_proj_modules:
        qkv = attn.in_proj_modules["qkv"].forward(x)
    else:
        qkv = F.linear(x, attn.in_proj_weight, attn.in_proj_bias)  # [B, T, D + 2 Dkv]
    q, k, v = qkv.split([D, attn.kv_dim, attn.kv_dim], dim=-1)
    H, Dh = attn.num_heads, attn.head_dim
    q = q.view(B, T, H, Dh).transpose(1, 2)  # [B, H, T, Dh]
    k = k.view(B, T, H, Dh).transpose(1, 2)
    if attn.rope is not None:
        if rotation is None:
            rotation = attn.rope.rotation(offset, T, x.device)
        q, k = attn.rope.apply_rotation(q, rotation), attn.rope.apply_rotation(k, rotation)
    end = offset + T
    keys, values = cache.keys, cache.values
    assert keys is not None and values is not None
    if end > keys.shape[2]:
        raise RuntimeError(f"KV cache full: {end} steps for a capacity of {keys.shape[2]}; "
                           "create the KVCache with more extra_steps.")
    keys[:, :, offset:end] = k
    values[:, :, offset:end] = v.view(B, T, H, Dh).transpose(1, 2)
    mask = None
    if T > 1:
        q_pos = torch.arange(offset, end, device=x.device).view(-1, 1)  # [T, 1]
        mask = torch.arange(end, device=x.device).view(1, -1) <= q_pos  # [T, Tk]
    out = F.scaled_dot_product_attention(
        q, keys[:, :, :end], values[:, :, :end], attn_mask=mask)  # [B, H, T, Dh]
    out = out.transpose(1, 2).reshape(B, T, D)
    return attn.out_proj.forward(out)


def _cross_attention(attn: MultiheadAttention, x: torch.Tensor,
                     cache: LayerCache) -> torch.Tensor:
    """Cross-attention of x [B, T, D] to the cached keys/values of the source."""
    B, T, D = x.shape
    if attn.in_proj_modules:
        q = attn.in_proj_modules["q"].forward(x)
    else:
        bias = attn.in_proj_bias[:D] if attn.in_proj_bias is not None else None
        q = F.linear(x, attn.in_proj_weight[:D], bias)  # [B, T, D]
    q = q.view(B, T, attn.num_heads, attn.head_dim).transpose(1, 2)  # [B, H, T, Dh]
    assert cache.cross_keys is not None and cache.cross_values is not None
    out = F.scaled_dot_product_attention(q, cache.cross_keys, cache.cross_values,
                                         attn_mask=cache.cross_mask)  # [B, H, T, Dh]
    out = out.transpose(1, 2).reshape(B, T, D)
    return attn.out_proj.forward(out)


def layer_step(layer: StreamingTransformerLayer, x: torch.Tensor, cache: LayerCache,
               offset: int, rotation: torch.Tensor | None = None) -> torch.Tensor:
    """`layer.forward(x, cache=cache, offset=offset)` for a layer that `supports_fast_step`,
    once the cache holds the cross-attention keys/values (every call after the first).

    Args:
        x: [B, T, D] new steps at positions offset..offset+T-1.
        rotation: `RotaryEmbedding.rotation(offset, T)` [T, Dh/2] of the layer's rotary
            embedding, computed once for all layers (None: computed here if needed).
    Returns:
        [B, T, D].
    """
    scale_1 = _identity_or(layer.layer_scale_1)
    scale_2 = _identity_or(layer.layer_scale_2)
    cross = layer.cross_attention
    if layer.norm_first:
        y = _self_attention(layer.self_attn, layer.norm1.forward(x), cache, offset, rotation)
        x = x + (scale_1(y) if scale_1 is not None else y)
        if cross is not None:
            y = _cross_attention(cross, layer.norm_cross.forward(x), cache)
            scale = _identity_or(layer.layer_scale_cross)
            x = x + (scale(y) if scale is not None else y)
        y = layer.linear2.forward(layer.activation.forward(layer.linear1.forward(
            layer.norm2.forward(x))))
        return x + (scale_2(y) if scale_2 is not None else y)
    y = _self_attention(layer.self_attn, x, cache, offset, rotation)
    x = layer.norm1.forward(x + (scale_1(y) if scale_1 is not None else y))
    if cross is not None:
        y = _cross_attention(cross, x, cache)
        scale = _identity_or(layer.layer_scale_cross)
        x = layer.norm_cross.forward(x + (scale(y) if scale is not None else y))
    y = layer.linear2.forward(layer.activation.forward(layer.linear1.forward(x)))
    return layer.norm2.forward(x + (scale_2(y) if scale_2 is not None else y))
