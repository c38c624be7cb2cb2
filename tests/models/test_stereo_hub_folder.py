"""Stereo checkpoints in the audiocraft hub format: `state_dict.bin` whose xp.cfg sets
`interleave_stereo_codebooks.use: true` beside the mono `compression_state_dict.bin`.
The LM's config decides: the mono codec is wrapped as stereo and the model generates
8-codebook, 2-channel audio."""

import pytest
import torch
from omegaconf import OmegaConf

from audiocraft.models import builders, loaders
from audiocraft.models.encodec import InterleaveStereoCompressionModel
from audiocraft.models.genmodel import load_parts
from audiocraft.models.musicgen import MusicGen


def _stereo_lm_cfg(stereo: bool = True):
    cfg = OmegaConf.create(builders.DEBUG_LM_CFG)
    cfg.transformer_lm.n_q = 8
    cfg.codebooks_pattern.delay.delays = [0, 0, 1, 1, 2, 2, 3, 3]
    cfg.channels = 2
    cfg.interleave_stereo_codebooks = {"use": stereo, "per_timestep": False}
    cfg.dataset = {"segment_duration": 1.0}
    return cfg


@pytest.fixture
def stereo_folder(tmp_path):
    """A tiny random stereo MusicGen saved as the official stereo models are."""
    codec = builders.get_debug_compression_model()  # mono
    lm = builders.get_lm_model(_stereo_lm_cfg())
    loaders.export_compression(codec, tmp_path / "compression_state_dict.bin")
    loaders.export_lm(lm, None, tmp_path / "state_dict.bin")
    return tmp_path


def test_stereo_folder_wraps_the_mono_codec_and_generates_stereo(stereo_folder):
    assert loaders.load_compression_model(stereo_folder).channels == 1  # the file is mono
    model = MusicGen.get_pretrained(str(stereo_folder), device="cpu")
    assert isinstance(model.compression_model, InterleaveStereoCompressionModel)
    assert model.audio_channels == 2 and model.lm.n_q == 8
    model.set_generation_params(duration=0.4, top_k=10)
    wav, codes = model.generate(["a calm piano piece"], return_tokens=True, seed=1)
    assert codes.shape[:2] == (1, 8)
    assert wav.shape[:2] == (1, 2) and torch.isfinite(wav).all()
    # Left and right come from their own codebooks (l0, r0, l1, r1, ...).
    left, right = model.compression_model.split_codes(codes)
    assert torch.equal(left, codes[:, 0::2]) and torch.equal(right, codes[:, 1::2])


def test_stereo_lm_without_the_key_is_refused_before_generation(tmp_path):
    codec = builders.get_debug_compression_model()
    loaders.export_compression(codec, tmp_path / "compression_state_dict.bin")
    loaders.export_lm(builders.get_lm_model(_stereo_lm_cfg(stereo=False)), None,
                      tmp_path / "state_dict.bin")
    with pytest.raises(ValueError, match="interleave_stereo_codebooks.use: true"):
        load_parts(str(tmp_path), "cpu")


def test_wrapping_is_idempotent_and_refuses_a_stereo_codec():
    codec = builders.get_debug_compression_model()
    cfg = _stereo_lm_cfg()
    wrapped = builders.get_wrapped_compression_model(codec, cfg)
    assert builders.get_wrapped_compression_model(wrapped, cfg) is wrapped
    assert builders.get_wrapped_compression_model(codec, None) is codec
    stereo_cfg = OmegaConf.create(builders.DEBUG_COMPRESSION_CFG)
    stereo_cfg.channels = 2
    stereo_codec = builders.get_compression_model(stereo_cfg)
    with pytest.raises(ValueError, match="needs a mono codec"):
        builders.get_wrapped_compression_model(stereo_codec, cfg)


def test_a_wrapped_codec_exports_its_mono_codec(tmp_path):
    codec = builders.get_debug_compression_model()
    wrapped = builders.get_wrapped_compression_model(codec, _stereo_lm_cfg())
    loaders.export_compression(wrapped, tmp_path / "compression_state_dict.bin")
    again = loaders.load_compression_model(tmp_path / "compression_state_dict.bin")
    assert again.channels == 1
    for (k, a), b in zip(codec.state_dict().items(), again.state_dict().values()):
        assert torch.equal(a, b), k
