"""The metrics registry: every metric of the evaluation issue is registered, builds from an
EvalContext, reads an EvalBatch, and reports absent weights as unavailable."""

import pytest
import torch

from audiocraft.metrics import METRICS
from audiocraft.metrics.evaluation import EvalBatch, EvalContext, build_metrics
from audiocraft.models.builders import get_debug_compression_model
from audiocraft.utils.registry import UnknownNameError

NAMES = ["fad_codec", "fad_vggish", "fad_clap", "kld", "clap", "chroma_cosine", "tempo", "key",
         "sisnr", "mel"]


def test_every_metric_is_registered():
    assert sorted(NAMES) == METRICS.names()


def test_missing_weights_are_unavailable_with_the_file(tmp_path):
    codec = get_debug_compression_model("cpu")
    metrics, unavailable = build_metrics(NAMES, EvalContext(codec.sample_rate, codec, tmp_path))
    assert sorted(unavailable) == ["clap", "fad_clap", "fad_vggish", "kld"]
    assert "vggish-10086976.pth" in unavailable["fad_vggish"]
    assert "larger_clap_music" in unavailable["clap"]
    assert "ast-finetuned-audioset" in unavailable["kld"]
    assert sorted(metrics) == ["chroma_cosine", "fad_codec", "key", "mel", "sisnr", "tempo"]


def test_fad_codec_without_a_compression_model_is_unavailable():
    _, unavailable = build_metrics(["fad_codec"], EvalContext(32000))
    assert "compression model" in unavailable["fad_codec"]


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(UnknownNameError, match="fad_codec"):
        build_metrics(["fad_codecs"], EvalContext(32000))


def test_offline_metrics_read_a_batch():
    codec = get_debug_compression_model("cpu")
    sr = codec.sample_rate
    metrics, _ = build_metrics(["fad_codec", "sisnr", "mel", "chroma_cosine"],
                               EvalContext(sr, codec))
    t = torch.arange(sr) / sr
    ref = torch.sin(2 * torch.pi * 440 * t)[None, None].repeat(2, 1, 1)  # [2, 1, T]
    gen = ref[..., : sr // 2] * 0.5  # shorter: paired metrics cut the reference
    for metric in metrics.values():
        metric.update(EvalBatch(gen, sr, ref))
    values = {name: m.compute() for name, m in metrics.items()}
    assert values["sisnr"]["sisnr"] > 40  # a scaled copy: SI-SNR ignores the gain
    assert values["chroma_cosine"]["chroma_cosine"] == pytest.approx(1.0, abs=1e-4)
    assert values["fad_codec"]["fad"] >= 0


def test_per_metric_options_reach_the_metric():
    metrics, _ = build_metrics(["key", "tempo"], EvalContext(
        32000, options={"key": {"profiles": "synthetic"}, "tempo": {"tolerance": 0.1}}))
    assert metrics["key"].metric.profiles == "synthetic"
    assert metrics["tempo"].metric.tolerance == 0.1
