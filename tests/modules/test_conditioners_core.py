import pytest
import torch

from audiocraft.modules.conditioners import (
    AttributeDropout,
    ClassifierFreeGuidanceDropout,
    ConditionFuser,
    ConditioningAttributes,
    ConditioningProvider,
    WavCondition,
    nullify_wav,
)
from audiocraft.modules.conditioners.lut import (
    LUTConditioner,
    WhiteSpaceTokenizer,
    number_encoding,
)


def _provider(dim: int = 8) -> ConditioningProvider:
    return ConditioningProvider({"description": LUTConditioner(n_bins=32, dim=6, output_dim=dim)})


def test_flat_dict_round_trip():
    wav = WavCondition(torch.randn(1, 1, 10), torch.tensor([10]), [100], [None], [None])
    attr = ConditioningAttributes(text={"description": "a b"}, wav={"self_wav": wav})
    flat = attr.to_flat_dict()
    assert set(flat) == {"text.description", "wav.self_wav"}
    back = ConditioningAttributes.from_flat_dict(flat)
    assert back.text == attr.text and back.wav["self_wav"] is wav
    with pytest.raises(ValueError, match="Bad flat attribute key"):
        ConditioningAttributes.from_flat_dict({"nokind": 1})


def test_tokenizer_stable_and_pads():
    tok = WhiteSpaceTokenizer(n_bins=16, pad_idx=0)
    tokens, mask = tok(["Hello, world", None, "hello"])
    assert tokens.shape == (3, 2) and mask.tolist() == [[1, 1], [0, 0], [1, 0]]
    assert tokens[0, 0] == tokens[2, 0]  # case-insensitive, stable
    assert (tokens[mask.bool()] != 0).all() and (tokens[~mask.bool()] == 0).all()


def test_tokenizer_keeps_sharps_apart():
    tok = WhiteSpaceTokenizer(n_bins=4096, pad_idx=0)
    words = tok.words("in F# minor, not F; it's C#")
    assert words == ["in", "f#", "minor", "not", "f", "it's", "c#"]
    sharp, plain = tok(["F#", "F"])[0][:, 0].tolist()
    assert sharp != plain


def test_tokenizer_number_values_align_with_words():
    tok = WhiteSpaceTokenizer(n_bins=64)
    values = tok.values(["pop at 109 BPM", None, "83 beats, 4/4"])
    assert values.tolist() == [[0, 0, 109, 0], [0, 0, 0, 0], [83, 0, 4, 4]]
    assert values.shape == tok(["pop at 109 BPM", None, "83 beats, 4/4"])[0].shape


def test_tokenizer_numbers_joined_to_a_word_carry_no_value():
    # "8" of "8-bit" would encode as 128 (numbers 16x apart share every feature).
    enc = number_encoding(torch.tensor([8.0, 128.0]), 8)
    assert torch.allclose(enc[0], enc[1], atol=1e-4)
    tok = WhiteSpaceTokenizer(n_bins=64, max_words=6)
    texts = ["8-bit chiptune at 128 bpm", "a 16-bar intro, 90-100 bpm", "x 4 - 4 y"]
    assert tok.values(texts).tolist() == [[0, 0, 0, 0, 128, 0],
                                          [0, 0, 0, 0, 90, 100],
                                          [0, 4, 4, 0, 0, 0]]
    assert tok(texts)[0].shape == (3, 6)  # still one token per word


def test_number_encoding_is_smooth_in_log_value():
    enc = number_encoding(torch.tensor([120.0, 121.0, 126.0, 180.0, 0.0]), 8)  # [5, 16]
    assert enc.shape == (5, 16) and enc[4].abs().sum() == 0  # no value: zeros
    dist = [float((enc[0] - enc[i]).norm()) for i in (1, 2, 3)]
    assert dist[0] < dist[1] < dist[2]  # 1% closer than 5%, closer than 50%
    # Scale-free: the same ratio gives the same distance at any tempo.
    low = number_encoding(torch.tensor([60.0, 63.0]), 8)
    assert abs(float((low[0] - low[1]).norm()) - dist[1]) < 1e-4


def test_lut_number_features_add_value_to_number_words_only():
    torch.manual_seed(0)
    cond = LUTConditioner(n_bins=64, dim=6, output_dim=8, number_features=4)
    plain = LUTConditioner(n_bins=64, dim=6, output_dim=8)
    plain.load_state_dict(cond.state_dict(), strict=False)  # same table and projection
    texts = ["pop at 109 BPM", "pop at 110 BPM", None]
    inputs = cond.tokenize(texts)
    assert len(inputs) == 3 and len(plain.tokenize(texts)) == 2
    emb, mask = cond(inputs)
    base, _ = plain(plain.tokenize(texts))
    torch.testing.assert_close(emb[:, :2], base[:, :2])  # words keep their rows
    torch.testing.assert_close(emb[:, 3], base[:, 3])
    assert not torch.allclose(emb[0, 2], base[0, 2])  # "109" carries its value
    assert not torch.allclose(emb[0, 2], emb[1, 2] - base[1, 2] + base[0, 2])
    assert emb[2].abs().sum() == 0 and mask[2].sum() == 0  # null text stays zero
    emb.sum().backward()
    assert cond.number_proj.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="number features"):
        cond(inputs[:2])
    with pytest.raises(ValueError, match="number_features"):
        LUTConditioner(n_bins=64, dim=6, output_dim=8, number_features=-1)


def test_provider_null_text_is_zero_and_batch_invariant():
    provider = _provider()
    attrs = [ConditioningAttributes(text={"description": "rock guitar solo"}),
             ConditioningAttributes(text={"description": None}),
             ConditioningAttributes(text={"description": "jazz"})]
    emb, mask = provider(provider.tokenize(attrs))["description"]
    assert emb.shape == (3, 3, 8) and mask.shape == (3, 3)
    assert mask[1].sum() == 0 and emb[1].abs().sum() == 0
    assert emb[2, 1:].abs().sum() == 0
    alone, _ = provider(provider.tokenize(attrs[2:]))["description"]
    torch.testing.assert_close(alone[0, 0], emb[2, 0])


def test_provider_unknown_attribute_is_clear_error():
    provider = _provider()
    with pytest.raises(ValueError, match="Unknown text condition"):
        provider.tokenize([ConditioningAttributes(text={"genre": "rock"})])


def test_fuser_methods_and_masks():
    B, S, D = 2, 5, 4
    x = torch.randn(B, S, D)
    cond_a = (torch.randn(B, 3, D), torch.tensor([[1, 1, 0], [1, 0, 0]]))
    cond_b = (torch.randn(B, 2, D), torch.ones(B, 2, dtype=torch.long))
    cond_s = (torch.randn(B, 1, D), torch.ones(B, 1, dtype=torch.long))
    cond_i = (torch.randn(B, 2, D), torch.ones(B, 2, dtype=torch.long))
    fuser = ConditionFuser({"cross": ["a", "b"], "sum": ["s"], "input_interpolate": ["i"],
                            "prepend": ["p1", "p2"], "ignore": ["z"]})
    p1 = (torch.randn(B, 1, D), torch.ones(B, 1))
    p2 = (torch.randn(B, 2, D), torch.ones(B, 2))
    out = fuser(x, {"a": cond_a, "b": cond_b, "s": cond_s, "i": cond_i, "p1": p1, "p2": p2,
                    "z": cond_b})
    expected = x + cond_s[0] + cond_i[0].repeat_interleave(3, dim=1)[:, :S]
    assert out.prepend_length == 3
    torch.testing.assert_close(out.input[:, 3:], expected)
    torch.testing.assert_close(out.input[:, :2], p2[0])  # later prepends go in front
    torch.testing.assert_close(out.input[:, 2:3], p1[0])
    assert out.cross_attention_input is not None and out.cross_attention_mask is not None
    torch.testing.assert_close(out.cross_attention_input, torch.cat([cond_a[0], cond_b[0]], 1))
    assert out.cross_attention_mask.dtype == torch.bool
    assert out.cross_attention_mask.tolist() == [[True, True, False, True, True],
                                                 [True, False, False, True, True]]
    later = fuser(x, {"p1": p1}, first_step=False)
    assert later.prepend_length == 0 and later.input.shape == x.shape
    assert later.cross_attention_input is None and later.cross_attention_mask is None


def test_fuser_errors():
    with pytest.raises(ValueError, match="Unknown fuse method"):
        ConditionFuser({"concat": ["a"]})
    with pytest.raises(ValueError, match="one method only"):
        ConditionFuser({"cross": ["a"], "sum": ["a"]})
    with pytest.raises(ValueError, match="no fuse method"):
        ConditionFuser({"cross": ["a"]})(torch.zeros(1, 2, 4), {"b": (torch.zeros(1, 1, 4),
                                                                      torch.ones(1, 1))})


def _attrs(n: int) -> list[ConditioningAttributes]:
    wav = WavCondition(torch.randn(1, 1, 50), torch.tensor([50]), [100], ["x.wav"], [0.0])
    return [ConditioningAttributes(text={"description": f"t{i}"}, wav={"self_wav": wav})
            for i in range(n)]


def test_cfg_dropout_per_batch_and_per_sample():
    batch = ClassifierFreeGuidanceDropout(p=1.0)
    out = batch(_attrs(3))
    assert all(a.text["description"] is None for a in out)
    assert all(a.wav["self_wav"].wav.shape[-1] == 1 and a.wav["self_wav"].length.item() == 0
               for a in out)
    batch.eval()
    assert batch(_attrs(3))[0].text["description"] == "t0"
    # Per batch: every sample shares the decision; per sample: decisions differ.
    shared = ClassifierFreeGuidanceDropout(p=0.5, seed=3)
    per_sample = ClassifierFreeGuidanceDropout(p=0.5, seed=3, per_sample=True)
    mixed = False
    for _ in range(20):
        dropped = [a.text["description"] is None for a in shared(_attrs(8))]
        assert len(set(dropped)) == 1
        mixed |= len({a.text["description"] is None for a in per_sample(_attrs(8))}) == 2
    assert mixed
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ClassifierFreeGuidanceDropout(p=1.5)


def test_attribute_dropout_only_named_attribute():
    drop = AttributeDropout({"wav": {"self_wav": 1.0}})
    out = drop(_attrs(2))
    assert all(a.text["description"] is not None for a in out)
    assert all(a.wav["self_wav"].length.item() == 0 for a in out)
    original = _attrs(1)
    drop(original)
    assert original[0].wav["self_wav"].length.item() == 50  # inputs are not modified
    with pytest.raises(ValueError, match="Unknown condition kind"):
        AttributeDropout({"audio": {"x": 0.1}})


def test_nullify_wav_keeps_batch_and_rate():
    wav = WavCondition(torch.randn(2, 1, 50), torch.tensor([50, 40]), [100, 100])
    null = nullify_wav(wav)
    assert null.wav.shape == (2, 1, 1) and null.length.tolist() == [0, 0]
    assert null.sample_rate == [100, 100] and null.path == [None, None]
