"""The `clap` conditioner: transformers' ClapModel from a local folder (a tiny random
one), audio embeddings in training and text at sampling, normalisation, the quantised
bottleneck, `text_p`; a clear message for missing weights; a CLAP MusicGen round trip."""

import pytest
import torch
from clap_fixtures import clap_args, clap_lm_cfg, save_tiny_clap

from audiocraft.models import builders, loaders
from audiocraft.models.musicgen import MusicGen
from audiocraft.modules.conditioners import (
    CONDITIONERS,
    CLAPEmbeddingConditioner,
    ConditionerContext,
    JointEmbedCondition,
    nullify_joint_embed,
)


@pytest.fixture(scope="module")
def clap_folder(tmp_path_factory):
    return save_tiny_clap(tmp_path_factory.mktemp("clap"))


def build(folder, **overrides) -> CLAPEmbeddingConditioner:
    cond = CONDITIONERS.get("clap").from_config(32, clap_args(folder, **overrides),
                                                ConditionerContext())
    assert isinstance(cond, CLAPEmbeddingConditioner)
    return cond


def batch(texts, seconds=1.2, seed=0) -> JointEmbedCondition:
    n = int(seconds * 32000)
    wav = torch.randn(len(texts), 1, n, generator=torch.Generator().manual_seed(seed))
    return JointEmbedCondition(wav, list(texts), torch.full((len(texts),), n),
                               [32000] * len(texts), [None] * len(texts), [None] * len(texts))


def fit(cond, x) -> None:
    """One training pass: k-means initialises the quantiser's codebooks."""
    cond.train()
    with torch.no_grad():
        cond(x)
    cond.eval()


def test_text_at_sampling_with_null_texts_masked(clap_folder):
    cond = build(clap_folder, quantize=False).eval()
    emb, mask = cond(cond.tokenize(batch(["calm piano", None])))
    assert emb.shape == (2, 1, 32) and mask.tolist() == [[1], [0]]
    assert emb[0].abs().sum() > 0 and emb[1].abs().sum() == 0
    # Only the projection is stored: CLAP itself stays out of checkpoints.
    assert set(cond.state_dict()) == {"output_proj.weight", "output_proj.bias"}


def test_audio_in_training_text_with_probability_text_p(clap_folder):
    cond = build(clap_folder, quantize=False).train()
    x, y = batch(["calm piano"]), batch(["loud rock"])  # same audio, other text
    torch.testing.assert_close(cond(x)[0], cond(y)[0])  # audio: the text is not read
    cond.text_p = 1.0
    assert not torch.allclose(cond(x)[0], cond(y)[0])  # text
    # A dropped (null) condition is masked in training too.
    assert cond(nullify_joint_embed(x))[1].tolist() == [[0]]


def test_embeddings_are_normalised_and_long_audio_is_windowed(clap_folder):
    cond = build(clap_folder).eval()
    embed, valid = cond._get_embed(batch(["calm piano", "drums"]))
    assert embed.shape == (2, 8) and valid.all()
    torch.testing.assert_close(embed.norm(dim=-1), torch.ones(2))
    # 2.5 s at 48 kHz in 1 s windows every 0.5 s: 4 windows, averaged.
    assert cond._windows(torch.zeros(120000)).shape == (4, 48000)
    assert cond._windows(torch.zeros(1000)).shape == (1, 1000)
    # transformers' CLAP normalises each window; the mean of several is normalised only
    # with `normalize`.
    long = batch(["a"], seconds=2.5)
    for normalize in (True, False):
        audio = build(clap_folder, normalize=normalize).train()._get_embed(long)[0]
        assert (abs(float(audio.norm()) - 1.0) < 1e-5) == normalize


def test_quantised_embeddings(clap_folder):
    cond = build(clap_folder)
    x = batch(["calm piano", "loud rock", "jazz", "folk"], seconds=1.0)
    fit(cond, x)
    assert any(k.startswith("quantizer.") for k in cond.state_dict())
    embed, _ = cond._get_embed(x)
    quantised = cond.quantizer(embed[:, :, None], frame_rate=1.0).x[:, :, 0]
    assert quantised.shape == embed.shape and quantised.abs().sum() > 0


def test_missing_weights_name_the_folder_and_the_official_source(tmp_path):
    cond = build(tmp_path / "no-clap-here").eval()
    with pytest.raises(FileNotFoundError) as err:
        cond(batch(["calm piano"]))
    assert "no-clap-here" in str(err.value) and "laion/larger_clap_music" in str(err.value)
    with pytest.raises(ValueError, match="laion_clap file"):
        build(tmp_path / "music_audioset_epoch_15_esc_90.14.pt").eval()(batch(["a"]))


def test_dim_must_match_the_clap_projection(clap_folder):
    cond = build(clap_folder, dim=16).eval()
    with pytest.raises(ValueError, match="embeds in 8 dimensions"):
        cond(batch(["a"]))


def test_clap_model_round_trip_build_save_load_generate(clap_folder, tmp_path):
    torch.manual_seed(0)
    lm = builders.get_lm_model(clap_lm_cfg(clap_folder))
    clap = lm.condition_provider.conditioners["description"]
    fit(clap, batch(["calm piano", "loud rock", "jazz", "folk"], seconds=1.0))
    loaders.export_compression(builders.get_debug_compression_model(),
                               tmp_path / "compression_state_dict.bin")
    loaders.export_lm(lm.eval(), None, tmp_path / "state_dict.bin")

    model = MusicGen.get_pretrained(str(tmp_path), device="cpu")
    assert isinstance(model.lm.condition_provider.conditioners["description"],
                      CLAPEmbeddingConditioner)
    for (k, a), b in zip(lm.state_dict().items(), model.lm.state_dict().values()):
        assert torch.equal(a, b), k
    # Text at sampling: the description reaches CLAP's text tower.
    attrs = model._build_conditions(["calm piano"], [None])
    provider = model.lm.condition_provider
    emb, mask = provider(provider.tokenize(attrs))["description"]
    assert mask.tolist() == [[1]] and emb.abs().sum() > 0
    model.set_generation_params(duration=0.4, top_k=10)
    wav = model.generate(["calm piano", "loud rock"], seed=0)
    assert wav.shape[:2] == (2, 1) and torch.isfinite(wav).all()
