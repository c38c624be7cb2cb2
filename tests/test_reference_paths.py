"""The reference audiocraft's public import paths resolve in our package (thin aliases),
so code written against the reference imports the parts it extends unchanged."""

import importlib

import pytest


@pytest.mark.parametrize("module, names", [
    ("audiocraft.models", ["MusicGen", "EncodecModel", "CompressionModel", "LMModel",
                           "builders", "loaders"]),
    ("audiocraft.modules", ["NormConv1d", "NormConvTranspose1d", "StreamableConv1d",
                            "StreamableConvTranspose1d", "pad1d", "unpad1d",
                            "StreamableLSTM", "SEANetEncoder", "SEANetDecoder"]),
    ("audiocraft.modules.codebooks_patterns", [
        "Pattern", "LayoutCoord", "CodebooksPatternProvider", "DelayedPatternProvider",
        "ParallelPatternProvider", "UnrolledPatternProvider"]),
    ("audiocraft.losses", ["SISNR", "MelSpectrogramL1Loss", "MultiScaleMelSpectrogramLoss",
                           "MRSTFTLoss", "STFTLoss"]),
    ("audiocraft.modules.rope", ["RotaryEmbedding"]),
    ("audiocraft.modules.transformer", ["StreamingTransformer", "StreamingMultiheadAttention",
                                        "set_efficient_attention_backend"]),
    ("audiocraft.adversarial.discriminators", ["MultiScaleSTFTDiscriminator"]),
    ("audiocraft.quantization", ["DummyQuantizer", "ResidualVectorQuantizer"]),
])
def test_reference_names_import(module, names):
    loaded = importlib.import_module(module)
    missing = [name for name in names if not hasattr(loaded, name)]
    assert not missing, f"{module} lacks {missing}"


def test_aliases_are_the_same_objects():
    from audiocraft import losses, models, modules
    from audiocraft.adversarial import discriminators, msstftd
    from audiocraft.models import encodec, lm, musicgen
    from audiocraft.modules import codebooks_patterns, conv, patterns, seanet

    assert models.MusicGen is musicgen.MusicGen
    assert models.EncodecModel is encodec.EncodecModel
    assert models.CompressionModel is encodec.CompressionModel
    assert models.LMModel is lm.LMModel
    assert models.loaders.torch_load is importlib.import_module(
        "audiocraft.models.loaders").torch_load
    assert modules.StreamableConv1d is conv.StreamableConv1d
    assert modules.SEANetEncoder is seanet.SEANetEncoder
    for name in codebooks_patterns.__all__:
        assert getattr(codebooks_patterns, name) is getattr(patterns, name)
    assert losses.SISNR is losses.SISNRLoss
    assert discriminators.MultiScaleSTFTDiscriminator is msstftd.MultiScaleSTFTDiscriminator


def test_reference_style_encodec_model_round_trip():
    """As the reference's tests build it: SEANet parts from ``audiocraft.modules`` and
    ``EncodecModel`` from ``audiocraft.models``."""
    import torch

    from audiocraft.models import EncodecModel
    from audiocraft.modules import SEANetDecoder, SEANetEncoder
    from audiocraft.quantization import DummyQuantizer

    ratios = [4, 2]
    encoder = SEANetEncoder(channels=1, dimension=4, n_filters=2, n_residual_layers=1,
                            ratios=ratios)
    decoder = SEANetDecoder(channels=1, dimension=4, n_filters=2, n_residual_layers=1,
                            ratios=ratios)
    model = EncodecModel(encoder, decoder, DummyQuantizer(), frame_rate=1000 / 8,
                         sample_rate=1000, channels=1)
    x = torch.randn(2, 1, 800)  # [B, C, T]
    assert model(x).x.shape == x.shape


def test_reference_behaviours_of_aliases():
    """What the reference's own tests rely on beyond the names: default delays 0..n_q-1,
    `num_virtual_steps`, `rotate_qk` on [B, T, H, C], a single-resolution STFT loss."""
    import torch

    from audiocraft.losses import MRSTFTLoss, STFTLoss
    from audiocraft.modules.codebooks_patterns import (
        DelayedPatternProvider,
        UnrolledPatternProvider,
    )
    from audiocraft.modules.rope import RotaryEmbedding
    from audiocraft.modules.transformer import set_efficient_attention_backend

    assert DelayedPatternProvider(4).delays == [0, 1, 2, 3]
    provider = UnrolledPatternProvider(3, [0, 1, 1], [0, 5, 5])
    assert len(provider.get_pattern(16).layout) == provider.num_virtual_steps(16) + 5
    rope = RotaryEmbedding(8)
    q, k = torch.randn(2, 5, 3, 8), torch.randn(2, 5, 3, 8)
    rq, rk = rope.rotate_qk(q, k, start=7)
    assert torch.allclose(rq, rope.rotate(q.transpose(1, 2), 7).transpose(1, 2))
    assert torch.allclose(rk[:, 0], rope.rotate(k.transpose(1, 2), 7).transpose(1, 2)[:, 0])
    assert not torch.allclose(rq, q)
    x, y = torch.randn(1, 1, 8000), torch.randn(1, 1, 8000)
    single = MRSTFTLoss((1024,), (120,), (600,))
    assert torch.allclose(STFTLoss()(x, y), single(x, y))
    set_efficient_attention_backend("torch")
    with pytest.raises(ValueError, match="scaled_dot_product_attention"):
        set_efficient_attention_backend("xformers")
