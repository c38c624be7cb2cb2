"""The `style` conditioner: an excerpt through a frozen local encoder (a tiny HuBERT in
place of MERT), a quantised bottleneck, excerpt options, clear errors; a style MusicGen
round trip; double guidance that changes the output only when a style is given."""

import json

import pytest
import torch
from style_fixtures import (
    fit_bottleneck,
    save_tiny_encoder,
    style_args,
    style_lm_cfg,
    tiny_style_musicgen,
)

from audiocraft.models import builders, loaders
from audiocraft.models.musicgen import MusicGen
from audiocraft.modules.conditioners import (
    CONDITIONERS,
    ConditionerContext,
    ConditioningAttributes,
    StyleConditioner,
    WavCondition,
    null_wav_condition,
)


@pytest.fixture(scope="module")
def encoder(tmp_path_factory):
    return save_tiny_encoder(tmp_path_factory.mktemp("encoder"))


def build(encoder, **overrides) -> StyleConditioner:
    cls = CONDITIONERS.get("style")
    cond = cls.from_config(32, style_args(encoder, **overrides), ConditionerContext())
    assert isinstance(cond, StyleConditioner)
    return cond


def wavs(*seconds: float) -> WavCondition:
    """A batch of noise wavs of the given lengths (0: a null style), padded."""
    n = [int(s * 32000) for s in seconds]
    wav = torch.randn(len(n), 1, max(max(n), 1))
    return WavCondition(wav, torch.tensor(n), [32000] * len(n))


def test_style_embeds_an_excerpt_and_masks_null_styles(encoder):
    cond = build(encoder)
    fit_bottleneck(cond)
    emb, mask = cond(cond.tokenize(wavs(1.0, 0.0)))
    # 0.5 s at 8 kHz -> 50 encoder frames (hop 80) -> every 5th: 10 steps.
    assert emb.shape == (2, 10, 32) and mask.tolist() == [[1] * 10, [0] * 10]
    assert emb[0].abs().sum() > 0 and emb[1].abs().sum() == 0
    # The frozen encoder is not part of the module (nor of checkpoints).
    assert not any(k.startswith("_encoder") or "encoder.layers" in k for k in cond.state_dict())
    # At sampling the middle of the audio is taken: the same audio gives the same output.
    x = wavs(1.0)
    torch.testing.assert_close(cond(x)[0], cond(x)[0])


def test_fewer_codebooks_at_sampling_change_the_condition(encoder):
    cond = build(encoder)
    fit_bottleneck(cond)
    x = wavs(1.0)
    cond.set_params(eval_q=1, excerpt_length=0.5)
    one = cond(x)[0]
    cond.set_params(eval_q=4, excerpt_length=0.5)
    assert not torch.allclose(one, cond(x)[0])


def test_training_draws_excerpt_lengths_and_records_them_for_the_loss(encoder):
    cond = build(encoder, varying_lengths=[0.3, 0.3])
    cond.train()
    emb, mask = cond(cond.tokenize(wavs(1.0, 1.0, 0.0)))
    assert emb.shape[1] == 6  # 0.3 s -> 30 frames -> 6 steps
    starts, lengths = cond.loss_excerpt
    assert lengths.tolist() == pytest.approx([0.3, 0.3, 0.0])
    assert all(0 <= s <= 0.7 + 1e-6 for s in starts[:2].tolist())
    emb.sum().backward()  # the projection and bottleneck input train; the encoder does not
    assert cond.embed.weight.grad is not None and cond.embed.weight.grad.abs().sum() > 0


def test_a_style_excerpt_shorter_than_required_is_refused(encoder):
    cond = build(encoder).eval()
    with pytest.raises(ValueError, match=r"0\.20 s long .* 0\.50 s excerpts"):
        cond(cond.tokenize(wavs(0.2)))


def test_missing_encoder_names_the_folder_and_the_official_source(tmp_path):
    cond = build(tmp_path / "no-such-folder")
    with pytest.raises(FileNotFoundError) as err:
        cond(cond.tokenize(wavs(1.0)))
    assert "no-such-folder" in str(err.value) and "m-a-p/MERT-v1-95M" in str(err.value)


def test_encoder_code_from_the_folder_needs_explicit_trust(encoder, tmp_path):
    folder = tmp_path / "mert-like"
    folder.mkdir()
    config = json.loads((encoder / "config.json").read_text())
    config["auto_map"] = {"AutoModel": "modeling_MERT.MERTModel"}
    (folder / "config.json").write_text(json.dumps(config))
    cond = build(folder)
    with pytest.raises(ValueError, match="trust_remote_code: true"):
        cond(cond.tokenize(wavs(1.0)))


def test_style_model_round_trip_build_save_load_generate(encoder, tmp_path):
    model = tiny_style_musicgen(encoder)
    loaders.export_compression(model.compression_model, tmp_path / "compression_state_dict.bin")
    loaders.export_lm(model.lm, None, tmp_path / "state_dict.bin")
    loaded = MusicGen.get_pretrained(str(tmp_path), device="cpu")
    assert isinstance(loaded.melody_conditioner(), StyleConditioner)
    for (k, a), b in zip(model.lm.state_dict().items(), loaded.lm.state_dict().values()):
        assert torch.equal(a, b), k
    loaded.set_generation_params(duration=0.6, top_k=10, cfg_coef=3.0, cfg_coef_beta=5.0)
    style = torch.randn(1, 32000)
    wav = loaded.generate_with_chroma(["calm piano"], [style], 32000, seed=0)
    assert wav.shape[:2] == (1, 1) and torch.isfinite(wav).all()


def _tokens(model, style, beta, coef=3.0):
    model.set_generation_params(duration=0.6, use_sampling=False, cfg_coef=coef,
                                cfg_coef_beta=beta)
    _, codes = model.generate_with_chroma(["calm piano"], [style], 32000, return_tokens=True)
    return codes


def test_double_guidance_second_coefficient_changes_the_output_with_a_style(encoder):
    model = tiny_style_musicgen(encoder)
    style = torch.randn(1, 32000)
    low, high = _tokens(model, style, 1.0), _tokens(model, style, 8.0)
    assert not torch.equal(low, high)


def test_double_guidance_without_a_style_is_single_guidance(encoder):
    """No style: the text-free rows equal the null rows, so (coef c, beta b) is single
    guidance with coefficient c * b."""
    model = tiny_style_musicgen(encoder)
    double = _tokens(model, None, 2.0, coef=1.5)
    single = _tokens(model, None, None, coef=3.0)
    assert torch.equal(double, single)


def test_style_config_builds_from_the_registry(encoder):
    lm = builders.get_lm_model(style_lm_cfg(encoder))
    provider = lm.condition_provider
    assert provider.wav_conditions == ["self_wav"]
    out = provider(provider.tokenize([ConditioningAttributes(
        text={"description": "a"}, wav={"self_wav": null_wav_condition()})]))
    assert out["self_wav"][1].sum() == 0


def test_style_settings_through_the_api(encoder):
    model = tiny_style_musicgen(encoder)
    model.set_style_conditioner_params(eval_q=1, excerpt_length=0.4)
    style = model.melody_conditioner()
    assert (style.eval_q, style.length) == (1, 0.4)
    with pytest.raises(ValueError, match="eval_q"):
        model.set_style_conditioner_params(eval_q=9)
    # A model without a style conditioner says so.
    plain = MusicGen.get_pretrained("debug", device="cpu")
    with pytest.raises(ValueError, match="no style conditioner"):
        plain.set_style_conditioner_params()


def test_encoder_path_can_be_set_after_building(encoder, tmp_path):
    cond = build(tmp_path / "not-here", encoder_dim=16)  # 768 (MERT) without the folder
    cond.encoder_path = str(encoder)  # e.g. a loaded checkpoint naming the hub id
    emb, mask = cond.eval()(cond.tokenize(wavs(1.0)))
    assert emb.shape == (1, 10, 32) and cond.encoder_hop == 80


def test_short_style_audio_is_refused_before_generating(encoder, monkeypatch):
    """Windows would loop a short style audio into a long one: the API refuses it first."""
    model = tiny_style_musicgen(encoder)  # 0.5 s excerpts

    def never(*args, **kwargs):
        raise AssertionError("generation started")

    monkeypatch.setattr(model.lm, "generate", never)
    with pytest.raises(ValueError, match=r"0\.30 s long .* 0\.50 s excerpts"):
        model.generate_with_chroma(["calm"], [torch.randn(1, 9600)], 32000)
    with pytest.raises(ValueError, match="excerpt_length"):
        model.generate_stream(["calm"], melody_wavs=[torch.randn(1, 9600)],
                              melody_sample_rate=32000)


def test_null_styles_in_a_batch_do_not_touch_the_real_ones(encoder):
    cond = build(encoder, batch_norm=True)
    fit_bottleneck(cond)
    x = wavs(1.0, 0.0)
    alone = WavCondition(x.wav[:1], x.length[:1], [32000])
    torch.testing.assert_close(cond(x)[0][:1], cond(alone)[0])
