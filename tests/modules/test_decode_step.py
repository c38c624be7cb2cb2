"""The fast decoding step (decode_step.py) gives exactly what the modules give."""

import pytest
import torch
from test_lm_transformer import VARIANTS, _src, make

from audiocraft.modules.decode_step import supports_fast_step
from audiocraft.modules.transformer import KVCache, StreamingTransformer


def _decode(model: StreamingTransformer, x, src, mask, fast: bool) -> torch.Tensor:
    """Prefill 5 steps, then a 2-step chunk, then single steps; outputs [B, T, D]."""
    model.fast_decode = fast
    cache = KVCache(extra_steps=x.shape[1])
    outs = [model(x[:, :5], cross_attention_src=src, cross_attention_mask=mask, cache=cache),
            model(x[:, 5:7], cache=cache)]
    outs += [model(x[:, t:t + 1], cache=cache) for t in range(7, x.shape[1])]
    return torch.cat(outs, dim=1)


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_fast_step_is_bitwise_the_module_path(name):
    torch.manual_seed(0)
    model = make(**VARIANTS[name])
    x = torch.randn(2, 11, 16)  # [B, T, D]
    src, mask = _src()
    with torch.no_grad():
        slow = _decode(model, x, src, mask, fast=False)
        fast = _decode(model, x, src, mask, fast=True)
    assert torch.equal(slow, fast)


def test_musicgen_layers_take_the_fast_step():
    model = make(cross_attention=True, norm_first=True, bias_ff=False, bias_attn=False)
    assert all(supports_fast_step(layer) for layer in model.layers)
    assert not any(supports_fast_step(layer) for layer in make(kv_repeat=2).layers)
    assert not any(supports_fast_step(layer) for layer in make(qk_layer_norm=True).layers)
    # Rotary positions (the toy model's) take it too, the rotation computed once per step.
    rope = make(positional_embedding="rope", cross_attention=True, norm_first=True)
    assert all(supports_fast_step(layer) for layer in rope.layers)


def test_rope_fast_step_with_cross_attention_is_bitwise_the_module_path():
    torch.manual_seed(1)
    model = make(positional_embedding="rope", cross_attention=True, norm_first=True)
    x = torch.randn(2, 11, 16)  # [B, T, D]
    src, mask = _src()
    with torch.no_grad():
        slow = _decode(model, x, src, mask, fast=False)
        fast = _decode(model, x, src, mask, fast=True)
    assert torch.equal(slow, fast)
