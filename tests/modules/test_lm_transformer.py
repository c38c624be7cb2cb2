import math

import pytest
import torch

from audiocraft.modules.activations import get_activation_fn
from audiocraft.modules.transformer import KVCache, StreamingTransformer, create_sin_embedding


def make(**kwargs):
    args = dict(d_model=16, num_heads=2, num_layers=2, dim_feedforward=32, causal=True)
    args.update(kwargs)
    return StreamingTransformer(**args).eval()


VARIANTS = {
    "pre_norm_sin": dict(norm_first=True),
    "post_norm_bias": dict(norm_first=False, bias_ff=True, bias_attn=True),
    "rope": dict(positional_embedding="rope", norm_first=True),
    "sin_rope_layer_scale": dict(positional_embedding="sin_rope", layer_scale=0.1),
    "swiglu_qk_norm": dict(activation="swiglu", qk_layer_norm=True, norm_first=True),
    "kv_repeat_rms": dict(kv_repeat=2, norm="rms_norm", norm_first=True),
    "past_context": dict(past_context=3, norm_first=True),
    "cross": dict(cross_attention=True, norm_first=True),
    "cross_masked": dict(cross_attention=True, cross_attention_mask=True),
}


def _src(B=2, Tc=5):
    src = torch.randn(B, Tc, 16)  # [B, Tc, D]
    mask = torch.ones(B, Tc, dtype=torch.bool)
    mask[1, 3:] = False
    src[1, 3:] = 0
    return src, mask


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_causality_by_gradients(name):
    model = make(**VARIANTS[name])
    x = torch.randn(2, 12, 16, requires_grad=True)  # [B, T, D]
    src, mask = _src()
    out = model(x, cross_attention_src=src, cross_attention_mask=mask)
    t = 6
    # a random projection: the plain sum of a LayerNorm output is constant
    (out[:, t] * torch.randn(16)).sum().backward()
    grad = x.grad.abs().sum(dim=(0, 2))  # [T]
    assert (grad[t + 1:] == 0).all(), "output at t depends on the future"
    assert grad[t] > 0 and grad[t - 1] > 0
    if name == "past_context":
        # attention reaches back 3 steps per layer, 2 layers: nothing before t - 6
        assert (grad[: t - 6] == 0).all()


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_kv_cache_equals_full_pass(name):
    model = make(**VARIANTS[name])
    x = torch.randn(2, 11, 16)
    src, mask = _src()
    full = model(x, cross_attention_src=src, cross_attention_mask=mask)
    cache = KVCache(extra_steps=11)
    chunks = [x[:, :4], x[:, 4:5], x[:, 5:6], x[:, 6:9], x[:, 9:11]]
    outs = []
    for i, chunk in enumerate(chunks):
        # the cross-attention source is only needed on the first call
        outs.append(model(chunk, cross_attention_src=src if i == 0 else None,
                          cross_attention_mask=mask if i == 0 else None, cache=cache))
    assert cache.offset == 11
    torch.testing.assert_close(torch.cat(outs, dim=1), full, atol=1e-5, rtol=1e-5)


def test_cache_overflow_is_an_error():
    model = make()
    cache = KVCache(extra_steps=1)
    model(torch.randn(1, 3, 16), cache=cache)
    model(torch.randn(1, 1, 16), cache=cache)
    with pytest.raises(RuntimeError, match="KV cache full"):
        model(torch.randn(1, 1, 16), cache=cache)


def test_sin_embedding_formula():
    pos = torch.arange(7).view(1, -1, 1)
    emb = create_sin_embedding(pos, 8)
    half = 4
    for p in range(7):
        for i in range(half):
            phase = p / (10000 ** (i / (half - 1)))
            assert emb[0, p, i].item() == pytest.approx(math.cos(phase), abs=1e-6)
            assert emb[0, p, half + i].item() == pytest.approx(math.sin(phase), abs=1e-6)


def test_cross_attention_mask_flag():
    """Unmasked (reference audiocraft): padded zero vectors still get attention weight, so
    padding changes the result. Masked: a row's output does not depend on its padding."""
    src = torch.randn(1, 3, 16)
    padded = torch.cat([src, torch.zeros(1, 4, 16)], dim=1)  # [1, 7, D]
    mask = torch.tensor([[True] * 3 + [False] * 4])
    x = torch.randn(1, 5, 16)
    for masked in (False, True):
        model = make(cross_attention=True, cross_attention_mask=masked)
        ref = model(x, cross_attention_src=src)
        out = model(x, cross_attention_src=padded, cross_attention_mask=mask)
        assert torch.allclose(ref, out, atol=1e-5) == masked
    # a fully masked row (the guidance null condition) gives no NaN
    model = make(cross_attention=True, cross_attention_mask=True)
    out = model(x, cross_attention_src=torch.zeros(1, 4, 16),
                cross_attention_mask=torch.zeros(1, 4, dtype=torch.bool))
    assert torch.isfinite(out).all()


def test_activation_checkpointing_same_gradients():
    torch.manual_seed(1)
    plain = make(norm_first=True).train()
    ckpt = make(norm_first=True, checkpointing="torch").train()
    ckpt.load_state_dict(plain.state_dict())
    x = torch.randn(2, 6, 16)
    grads = []
    for model in (plain, ckpt):
        model.zero_grad()
        model(x).pow(2).sum().backward()
        grads.append([p.grad.clone() for p in model.parameters()])
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b)


def test_state_dict_keys_follow_reference_layout():
    model = make(cross_attention=True, layer_scale=0.1, bias_attn=False, bias_ff=False)
    keys = set(model.state_dict())
    for k in ["self_attn.in_proj_weight", "self_attn.out_proj.weight", "linear1.weight",
              "linear2.weight", "norm1.weight", "norm2.bias", "cross_attention.in_proj_weight",
              "cross_attention.out_proj.weight", "norm_cross.weight", "layer_scale_1.scale",
              "layer_scale_2.scale", "layer_scale_cross.scale"]:
        assert f"layers.0.{k}" in keys
    assert "layers.0.linear1.bias" not in keys
    assert "layers.0.self_attn.in_proj_bias" not in keys


def test_bad_arguments():
    with pytest.raises(ValueError, match="positional_embedding"):
        make(positional_embedding="learnt")
    with pytest.raises(ValueError, match="Unknown activation 'mish2'"):
        get_activation_fn("mish2")
    with pytest.raises(ValueError, match="checkpointing"):
        make(checkpointing="xformers_default")
    with pytest.raises(ValueError, match="multiple of num_heads"):
        make(d_model=15)
    glu = get_activation_fn("swiglu")
    assert glu(torch.randn(3, 8)).shape == (3, 4)
