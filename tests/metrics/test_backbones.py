"""Tiny random-weight backbones run the full metric pipelines; missing weights are reported."""

import math

import pytest
import torch
from tiny_metric_backbones import TINY_VGGISH, save_tiny_ast, save_tiny_clap, save_tiny_vggish

from audiocraft.metrics.backbones import (
    WEIGHTS_ENV,
    ASTClassifier,
    AudioClassifier,
    ClapBackbone,
    CodecBackbone,
    EmbeddingBackbone,
    MetricUnavailable,
    TextAudioBackbone,
    VGGishBackbone,
)
from audiocraft.metrics.backbones.vggish import VGGISH_FILE, vggish_examples
from audiocraft.metrics.clap import CLAPTextConsistency
from audiocraft.metrics.fad import FrechetAudioDistance, frechet_distance
from audiocraft.metrics.kld import KLDivergence
from audiocraft.models.builders import get_debug_compression_model
from audiocraft.models.encodec import InterleaveStereoCompressionModel


def tones(freqs, seconds, sr, channels=1):
    t = torch.arange(int(seconds * sr)) / sr
    wav = torch.stack([torch.sin(2 * math.pi * f * t) for f in freqs])[:, None]
    return wav.expand(-1, channels, -1).clone()  # [B, C, T]


@pytest.fixture(scope="module")
def metrics_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("metrics_weights")
    save_tiny_vggish(root)
    save_tiny_clap(root / "larger_clap_music")
    save_tiny_ast(root / "ast-finetuned-audioset-10-10-0.4593")
    return root


def test_codec_backbone_fad():
    codec = get_debug_compression_model()
    frames = CodecBackbone(codec)
    assert isinstance(frames, EmbeddingBackbone) and frames.dim == 32
    wav = tones([220, 330, 440], 1.0, 16000)  # resampled to the codec's 32 kHz
    emb = frames.embed(wav, 16000)
    assert emb.shape == (3 * 25, 32)  # 25 latent frames per second each
    assert CodecBackbone(codec, pool="mean").embed(wav, 16000).shape == (3, 32)
    fad = FrechetAudioDistance(frames)
    fad.update(generated=wav, reference=wav, sample_rate=16000)
    assert abs(fad.compute()["fad"]) < 1e-6  # the same audio on both sides
    fad.reset()
    noise = 0.3 * torch.randn(3, 1, 16000)
    fad.update(generated=noise, reference=wav, sample_rate=16000)
    expected = frechet_distance(frames.embed(noise, 16000), emb)
    assert expected > 0 and fad.compute()["fad"] == pytest.approx(expected, rel=1e-6)
    stereo = CodecBackbone(InterleaveStereoCompressionModel(codec))
    assert stereo.embed(wav.expand(-1, 2, -1), 16000).shape == (75, 32)
    with pytest.raises(ValueError, match="pool"):
        CodecBackbone(codec, pool="max")
    with pytest.raises(TypeError, match="no encoder"):
        CodecBackbone(torch.nn.Linear(2, 2))


def test_fad_sizes_trim_items():
    backbone = CodecBackbone(get_debug_compression_model(), pool="mean")
    fad = FrechetAudioDistance(backbone)
    wav = tones([220, 330], 1.0, 32000)
    padded = torch.cat([wav, torch.randn(2, 1, 16000)], -1)
    emb = fad.embed(padded, 32000, sizes=torch.tensor([32000, 32000]))
    torch.testing.assert_close(emb, backbone.embed(wav, 32000), rtol=1e-4, atol=1e-5)


def test_vggish_backbone_pipeline(metrics_dir):
    backbone = VGGishBackbone(metrics_dir, **TINY_VGGISH)
    assert backbone.dim == 8 and backbone.sample_rate == 16000
    wav = tones([220, 440, 660], 2.5, 32000, channels=2)  # 2.5 s -> two 0.96 s examples
    emb = backbone.embed(wav, 32000)
    assert emb.shape == (6, 8)
    assert vggish_examples(torch.zeros(15000)).shape == (0, 1, 96, 64)  # under 0.96 s
    assert backbone.embed(torch.zeros(1, 1, 8000), 16000).shape == (0, 8)
    fad = FrechetAudioDistance(backbone)
    fad.update(generated=wav, reference=wav, sample_rate=32000)
    assert abs(fad.compute()["fad"]) < 1e-6


def test_clap_backbone_fad_and_score(metrics_dir):
    backbone = ClapBackbone(metrics_dir)
    assert isinstance(backbone, TextAudioBackbone) and backbone.sample_rate == 48000
    wav = tones([220, 440], 2.3, 32000)  # 1 s windows at 48 kHz: 1 + 1 + a 0.3 s tail
    emb = backbone.embed(wav, 32000)
    assert emb.shape == (4, 8)  # the tail under 1 s is dropped
    torch.testing.assert_close(backbone.embed(wav, 32000), emb)  # no random crops
    clips = backbone.embed_clips(wav, 32000)
    assert clips.shape == (2, 8)
    torch.testing.assert_close(clips.norm(dim=-1), torch.ones(2))
    short = backbone.embed(tones([330], 0.4, 48000), 48000)  # shorter than one window: kept
    assert short.shape == (1, 8)
    fad = FrechetAudioDistance(backbone)
    fad.update(generated=wav, reference=wav, sample_rate=32000)
    assert abs(fad.compute()["fad"]) < 1e-6
    texts = ["calm piano", "fast rock drums"]
    score = CLAPTextConsistency(backbone)
    score.update(wav, texts, sample_rate=32000)
    expected = (backbone.embed_text(texts) * clips).sum(-1).mean().item()
    assert score.compute()["clap"] == pytest.approx(expected, abs=1e-6)
    with pytest.raises(ValueError, match="B texts"):
        score.update(wav, texts[:1], sample_rate=32000)


def test_ast_classifier_kl(metrics_dir):
    classifier = ASTClassifier(metrics_dir)
    assert isinstance(classifier, AudioClassifier)
    assert classifier.sample_rate == 16000 and classifier.max_samples == 99 * 160 + 400
    probs = classifier.probabilities(torch.randn(2, classifier.max_samples))
    assert probs.shape == (2, 5)
    torch.testing.assert_close(probs.sum(-1), torch.ones(2))
    kl = KLDivergence(classifier)
    gen, ref = tones([220, 440], 2.5, 32000), tones([230, 300], 2.5, 32000)
    kl.update(gen, gen, sample_rate=32000)
    assert kl.compute()["kld"] == pytest.approx(0.0, abs=1e-5)  # only the epsilon remains
    kl.reset()
    kl.update(gen, 0.5 * torch.randn_like(ref), sample_rate=32000)
    assert kl.compute()["kld"] > 0


@pytest.mark.parametrize("build, needs", [
    (lambda d: VGGishBackbone(d), VGGISH_FILE),
    (lambda d: ClapBackbone(d), "larger_clap_music/config.json"),
    (lambda d: ASTClassifier(d), "ast-finetuned-audioset-10-10-0.4593/config.json"),
])
def test_missing_weights_raise_metric_unavailable(tmp_path, build, needs):
    with pytest.raises(MetricUnavailable) as info:
        build(tmp_path)
    assert info.value.needs == str(tmp_path / needs)
    assert str(tmp_path / needs) in str(info.value) and "nothing is downloaded" in str(info.value)


def test_missing_weight_file_inside_a_model_folder(tmp_path, metrics_dir):
    folder = tmp_path / "larger_clap_music"
    folder.mkdir()
    (folder / "config.json").write_text((metrics_dir / "larger_clap_music" / "config.json")
                                        .read_text())
    with pytest.raises(MetricUnavailable, match="model.safetensors"):
        ClapBackbone(tmp_path)


def test_weights_folder_from_environment(monkeypatch, metrics_dir):
    monkeypatch.delenv(WEIGHTS_ENV, raising=False)
    with pytest.raises(MetricUnavailable, match=WEIGHTS_ENV):
        VGGishBackbone()
    monkeypatch.setenv(WEIGHTS_ENV, str(metrics_dir))
    assert VGGishBackbone(**TINY_VGGISH).dim == 8
