"""Properties of LMModel.generate on tiny random models."""

import threading

import pytest
import torch
from lm_fixture_utils import tiny_lm

from audiocraft.modules.conditioners import ConditioningAttributes


def attrs(*texts):
    return [ConditioningAttributes(text={"description": t}) for t in texts]


def naive_greedy(model, conditions, max_gen_len, cfg_coef, prompt=None, guidance=True):
    """Greedy decoding that recomputes the whole sequence at every step (no KV cache)."""
    B = len(conditions)
    provider = model.condition_provider
    rows = conditions + attrs(*[None] * B) if guidance else conditions
    tensors = provider(provider.tokenize(rows))
    pattern = model.pattern_provider.get_pattern(max_gen_len)
    codes = torch.full((B, model.n_q, max_gen_len), -1, dtype=torch.long)
    T_p = 0 if prompt is None else prompt.shape[-1]
    if prompt is not None:
        codes[..., :T_p] = prompt
    seq, _, mask = pattern.build_pattern_sequence(codes, model.card)
    all_logits = []
    with torch.no_grad():
        for offset in range(pattern.get_first_step_with_timesteps(T_p), seq.shape[-1]):
            batch = torch.cat([seq[..., :offset]] * (2 if guidance else 1))
            logits = model(batch, [], tensors)[:, :, -1]  # [rows, K, card]
            if guidance:
                cond, uncond = logits.split(B)
                logits = uncond + (cond - uncond) * cfg_coef
            all_logits.append(logits)
            token = logits.argmax(-1, keepdim=True)  # [B, K, 1]
            token[~mask[None, :, offset:offset + 1].expand(B, -1, -1)] = model.card
            step = seq[..., offset:offset + 1]
            seq[..., offset:offset + 1] = torch.where(step == -1, token, step)
    out, _, _ = pattern.revert_pattern_sequence(seq, -1)
    return out[..., :max_gen_len], torch.stack(all_logits)


def spy_logits(model):
    """Collect the guided logits of every generation step."""
    seen = []
    original = model._guided_logits

    def wrapper(*args, **kwargs):
        out = original(*args, **kwargs)
        seen.append(out)
        return out

    model._guided_logits = wrapper
    return seen


@pytest.mark.parametrize("fuse", ["cross", "prepend"])
@pytest.mark.parametrize("with_prompt", [False, True])
def test_kv_cached_generation_equals_full_recomputation(fuse, with_prompt):
    model = tiny_lm(fuse)
    conditions = attrs("a", "c")  # 'c' is padded
    prompt = torch.randint(0, model.card, (2, 4, 5)) if with_prompt else None
    expected, expected_logits = naive_greedy(model, conditions, 12, 3.0, prompt)
    seen = spy_logits(model)
    codes = model.generate(prompt, conditions, max_gen_len=12, use_sampling=False, check=True)
    assert torch.equal(codes, expected)
    torch.testing.assert_close(torch.stack(seen), expected_logits, atol=1e-5, rtol=1e-5)


def test_guidance_coef_one_equals_conditional_model():
    model = tiny_lm()
    conditions = attrs("a", "b")
    expected, expected_logits = naive_greedy(model, conditions, 10, 1.0, guidance=False)
    seen = spy_logits(model)
    codes = model.generate(None, conditions, max_gen_len=10, use_sampling=False, cfg_coef=1.0)
    assert torch.equal(codes, expected)
    torch.testing.assert_close(torch.stack(seen), expected_logits, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("coef", [1.0, 4.5])
def test_two_step_cfg_honours_cfg_coef(coef):
    model = tiny_lm(cfg_coef=3.0)
    one = spy_logits(model)
    codes = model.generate(None, attrs("a"), max_gen_len=10, use_sampling=False, cfg_coef=coef)
    model = tiny_lm(cfg_coef=3.0)
    two = spy_logits(model)
    codes_two = model.generate(None, attrs("a"), max_gen_len=10, use_sampling=False,
                               cfg_coef=coef, two_step_cfg=True)
    assert torch.equal(codes, codes_two)
    torch.testing.assert_close(torch.stack(two), torch.stack(one), atol=1e-5, rtol=1e-5)


def test_per_codebook_guidance_guides_each_codebook_by_its_own_coefficient():
    model = tiny_lm()
    coefs = [1.0, 5.0, 0.5, 3.0]
    expected, expected_logits = naive_greedy(model, attrs("a", "c"), 12,
                                             torch.tensor(coefs)[:, None])
    seen = spy_logits(model)
    codes = model.generate(None, attrs("a", "c"), max_gen_len=12, use_sampling=False,
                           cfg_coef=coefs)
    assert torch.equal(codes, expected)
    torch.testing.assert_close(torch.stack(seen), expected_logits, atol=1e-5, rtol=1e-5)
    # Against one coefficient for all: equal lists are the scalar, unequal ones are not.
    for scalar in (3.0, 5.0):
        model = tiny_lm()
        one = spy_logits(model)
        model.generate(None, attrs("a", "c"), max_gen_len=12, use_sampling=False,
                       cfg_coef=scalar)
        model = tiny_lm()
        same = spy_logits(model)
        model.generate(None, attrs("a", "c"), max_gen_len=12, use_sampling=False,
                       cfg_coef=[scalar] * model.n_q)
        torch.testing.assert_close(torch.stack(same), torch.stack(one))
        # Codebook 0 is guided by 1.0 in the per-codebook run.
        assert not torch.allclose(torch.stack(seen)[:, :, 0], torch.stack(one)[:, :, 0])


def test_model_default_guidance_may_be_per_codebook():
    model = tiny_lm(cfg_coef=[2, 4, 4, 4])
    assert model.cfg_coef == [2.0, 4.0, 4.0, 4.0]
    seen = spy_logits(model)
    model.generate(None, attrs("a"), max_gen_len=8, use_sampling=False)
    explicit = tiny_lm()
    expected = spy_logits(explicit)
    explicit.generate(None, attrs("a"), max_gen_len=8, use_sampling=False,
                      cfg_coef=model.cfg_coef)
    torch.testing.assert_close(torch.stack(seen), torch.stack(expected))


@pytest.mark.parametrize("coef, message", [
    ([3.0, 6.0], "has 2 values but the model has 4 codebooks"),
    ([3.0, -1.0, 1.0, 1.0], "must be a number >= 0"),
    ("3,6,6,6", "is text"),
    (float("nan"), "must be a number >= 0"),
])
def test_bad_guidance_coefficients_are_refused_with_what_to_give(coef, message):
    model = tiny_lm()
    assert model.n_q == 4
    with pytest.raises(ValueError, match=message):
        model.generate(None, attrs("a"), max_gen_len=8, use_sampling=False, cfg_coef=coef)


def test_double_guidance_reduces_to_single_guidance_without_other_conditions():
    """Text-only model: the text-free row equals the null row, so cfg_coef_beta b with
    coef c gives single guidance with coef b * c; beta 1 gives coef c."""
    for beta, coef, single in [(1.0, 3.0, 3.0), (2.0, 1.5, 3.0)]:
        model = tiny_lm()
        expected = spy_logits(model)
        a = model.generate(None, attrs("a", "b"), max_gen_len=8, use_sampling=False,
                           cfg_coef=single)
        model = tiny_lm()
        seen = spy_logits(model)
        b = model.generate(None, attrs("a", "b"), max_gen_len=8, use_sampling=False,
                           cfg_coef=coef, cfg_coef_beta=beta)
        assert torch.equal(a, b)
        torch.testing.assert_close(torch.stack(seen), torch.stack(expected), atol=1e-4,
                                   rtol=1e-5)


def test_same_generator_seed_same_tokens():
    model = tiny_lm(card=256)

    def run(seed, **kw):
        gen = torch.Generator().manual_seed(seed)
        return model.generate(None, attrs("a", "b"), max_gen_len=10, generator=gen, **kw)

    first = run(7)
    torch.manual_seed(123)  # the global RNG does not matter when a generator is given
    assert torch.equal(run(7), first)
    assert not torch.equal(run(8), first)
    assert torch.equal(run(3, top_p=0.9), run(3, top_p=0.9))
    assert torch.equal(run(3, top_k=0, temp=0.7), run(3, top_k=0, temp=0.7))


def test_output_length_prompt_and_callback():
    model = tiny_lm()
    prompt = torch.randint(0, model.card, (1, 4, 3))
    calls = []
    out = model.generate(prompt, attrs("b"), max_gen_len=9,
                         callback=lambda s, t: calls.append((s, t)))
    assert out.shape == (1, 4, 9)
    assert torch.equal(out[..., :3], prompt)
    assert ((out >= 0) & (out < model.card)).all()
    total = calls[0][1]
    assert calls == [(i, total) for i in range(1, total + 1)]
    # delay pattern: steps of frames 3..8 plus the 3 steps of the delayed tail
    assert total == (9 - 3) + 3
    new = model.generate(prompt, attrs("b"), max_gen_len=9, remove_prompts=True)
    assert new.shape == (1, 4, 6)
    uncond = model.generate(None, [], num_samples=2, max_gen_len=4)
    assert uncond.shape == (2, 4, 4)


@pytest.mark.parametrize("stop_after, kept", [(0, 3), (1, 3), (4, 4), (6, 6), (9, 9)])
def test_stop_returns_the_complete_frames_made(stop_after, kept):
    """Stopped after `stop_after` of its 9 steps (delays [0, 1, 2, 3], 3 prompt frames),
    generate returns the frames whose every codebook was sampled, the same as the
    uninterrupted call's first frames."""
    model = tiny_lm()
    prompt = torch.randint(0, model.card, (2, 4, 3))
    full = model.generate(prompt, attrs("a", "b"), max_gen_len=9,
                          generator=torch.Generator().manual_seed(1))
    stop = threading.Event()

    def on_step(step, total):
        if step >= stop_after:
            stop.set()

    if stop_after == 0:
        stop.set()
    out = model.generate(prompt, attrs("a", "b"), max_gen_len=9, callback=on_step, stop=stop,
                         generator=torch.Generator().manual_seed(1))
    assert out.shape == (2, 4, kept)
    assert torch.equal(out, full[..., :kept])
    new = model.generate(prompt, attrs("a", "b"), max_gen_len=9, stop=stop,
                         remove_prompts=True)
    assert new.shape == (2, 4, 0)  # set before the first step: only the prompt


def test_bad_inputs_raise_clear_errors():
    model = tiny_lm()
    prompt = torch.randint(0, model.card, (1, 4, 8))
    with pytest.raises(ValueError, match="nothing is left to generate"):
        model.generate(prompt, attrs("a"), max_gen_len=8)
    with pytest.raises(ValueError, match="top_p"):
        model.generate(None, attrs("a"), max_gen_len=4, top_p=1.5)
    with pytest.raises(ValueError, match="top_p"):
        model.generate(None, attrs("a"), max_gen_len=4, top_p=-0.1)
    with pytest.raises(ValueError, match="top_k"):
        model.generate(None, attrs("a"), max_gen_len=4, top_k=-1)
    with pytest.raises(ValueError, match="temp"):
        model.generate(None, attrs("a"), max_gen_len=4, temp=-1.0)
    with pytest.raises(ValueError, match="Batch sizes disagree"):
        model.generate(None, attrs("a"), num_samples=2, max_gen_len=4)
    with pytest.raises(ValueError, match="Batch sizes disagree"):
        model.generate(prompt[..., :2].expand(2, -1, -1), attrs("a", "b", "c"), max_gen_len=4)
    with pytest.raises(ValueError, match=r"prompt must be codes \[B, 4, T\]"):
        model.generate(prompt[:, :3], attrs("a"), max_gen_len=12)
    with pytest.raises(ValueError, match="integer codes"):
        model.generate(prompt.float(), attrs("a"), max_gen_len=12)
    with pytest.raises(ValueError, match=r"prompt codes must be in \[0, 64\)"):
        model.generate(prompt + model.card, attrs("a"), max_gen_len=12)
    with pytest.raises(RuntimeError, match="eval"):
        model.train()
        model.generate(None, attrs("a"), max_gen_len=4)


def test_compute_predictions_shapes_and_training_forward():
    model = tiny_lm().train()
    codes = torch.randint(0, model.card, (2, 4, 7))
    out = model.compute_predictions(codes, attrs("a", "c"))
    assert out.logits.shape == (2, 4, 7, model.card)
    assert out.mask.shape == (2, 4, 7)
    assert torch.isfinite(out.logits[out.mask]).all()
    assert torch.isnan(out.logits[~out.mask]).all()
    loss = torch.nn.functional.cross_entropy(out.logits[out.mask], codes[out.mask])
    loss.backward()
    assert model.emb[0].weight.grad is not None


@pytest.mark.parametrize("two_step_cfg", [False, True])
def test_cross_attention_keys_values_computed_once_per_pass(two_step_cfg):
    model = tiny_lm()
    calls = []
    for layer in model.transformer.layers:
        original = layer.cross_attention._keys_values

        def counting(k, v, _original=original):
            calls.append(k.shape[0])
            return _original(k, v)

        layer.cross_attention._keys_values = counting
    model.generate(None, attrs("a", "b"), max_gen_len=10, use_sampling=False,
                   two_step_cfg=two_step_cfg)
    passes = 2 if two_step_cfg else 1
    rows = 2 if two_step_cfg else 4  # separate [cond], [null] batches or one doubled batch
    assert calls == [rows] * (passes * len(model.transformer.layers))


def test_bfloat16_model_generates_close_to_float32():
    model = tiny_lm()
    codes = torch.randint(0, model.card, (2, 4, 6))
    with torch.no_grad():
        ref = model.compute_predictions(codes, attrs("a", "b")).logits
        half = tiny_lm().to(torch.bfloat16)
        out = half.compute_predictions(codes, attrs("a", "b")).logits.float()
    valid = ~torch.isnan(ref)
    assert (out[valid] - ref[valid]).abs().max() < 0.1
    gen = half.generate(None, attrs("a"), max_gen_len=6, generator=torch.Generator().manual_seed(0))
    assert gen.shape == (1, 4, 6) and ((gen >= 0) & (gen < half.card)).all()


def test_unconditional_model_accepts_null_attributes_only():
    from audiocraft.models.lm import LMModel
    from audiocraft.modules.conditioners import ConditionFuser, ConditioningProvider
    from audiocraft.modules.patterns import DelayedPatternProvider

    model = LMModel(DelayedPatternProvider(2, [0, 1]), ConditioningProvider({}),
                    ConditionFuser({}), n_q=2, card=16, dim=16, num_heads=2, num_layers=1).eval()
    out = model.generate(None, attrs(None, None), max_gen_len=5, cfg_coef=3.0)
    assert out.shape == (2, 2, 5)
    with pytest.raises(ValueError, match="no conditioners.*description"):
        model.generate(None, attrs("piano"), max_gen_len=5)


@pytest.mark.parametrize("name", ["parallel", "unroll", "coarse_first", "musiclm"])
def test_kv_cached_generation_equals_recomputation_for_other_patterns(name):
    from audiocraft.modules.patterns import get_pattern_provider

    model = tiny_lm(pattern=get_pattern_provider(name, 4))
    prompt = torch.randint(0, model.card, (1, 4, 2))
    expected, expected_logits = naive_greedy(model, attrs("b"), 5, 3.0, prompt)
    seen = spy_logits(model)
    codes = model.generate(prompt, attrs("b"), max_gen_len=5, use_sampling=False, check=True)
    assert torch.equal(codes, expected)
    torch.testing.assert_close(torch.stack(seen), expected_logits, atol=1e-5, rtol=1e-5)


def test_reference_weight_init():
    """gaussian init: std 1/sqrt(fan_in), divided by sqrt(2 * depth) inside layer `depth`
    (depthwise_init current), truncated at 3 std; zero biases."""
    model = tiny_lm(dim=128, num_heads=4, num_layers=3, bias_ff=True)
    for depth, layer in enumerate(model.transformer.layers, start=1):
        w = layer.linear1.weight
        std = 1 / (128 ** 0.5) / (2 * depth) ** 0.5
        assert abs(w.std().item() / std - 1) < 0.1
        assert w.abs().max() <= 3 * std + 1e-6
        assert (layer.linear1.bias == 0).all()
    emb = model.emb[0].weight
    assert abs(emb.std().item() * 128 ** 0.5 - 1) < 0.1


@pytest.mark.parametrize("fuse", ["cross", "prepend"])
def test_lm_is_causal_over_pattern_steps(fuse):
    """Changing the sequence from step s on leaves the logits of earlier steps unchanged."""
    model = tiny_lm(fuse)
    conditions = model.condition_provider(model.condition_provider.tokenize(attrs("a", "c")))
    seq = torch.randint(0, model.card, (2, 4, 9))
    changed = seq.clone()
    changed[..., 5:] = torch.randint(0, model.card, (2, 4, 4))
    with torch.no_grad():
        a = model(seq, [], conditions)
        b = model(changed, [], conditions)
    torch.testing.assert_close(a[:, :, :5], b[:, :, :5], atol=1e-6, rtol=1e-6)
    assert not torch.allclose(a[:, :, 5:], b[:, :, 5:])
