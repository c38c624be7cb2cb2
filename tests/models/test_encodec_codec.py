"""EncodecModel against the reference outputs of audiocraft 1.3.0, configs, presets and
error messages."""

from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf, open_dict

from audiocraft.models import builders, loaders
from audiocraft.models.encodec import EncodecModel, InterleaveStereoCompressionModel

FIXTURES = Path(__file__).parents[1] / "fixtures" / "audiocraft"
CONFIG_DIR = str(Path(__file__).parents[2] / "config")


@pytest.fixture(scope="module")
def reference():
    return dict(np.load(FIXTURES / "reference.npz"))


@pytest.fixture(scope="module")
def fixture_model() -> EncodecModel:
    model = loaders.load_compression_model(FIXTURES / "compression_state_dict.bin")
    assert isinstance(model, EncodecModel)
    return model


@pytest.mark.parametrize("suffix", ["", "_odd"])
def test_reference_parity(fixture_model, reference, suffix):
    model = fixture_model
    assert (model.sample_rate, model.frame_rate, model.channels) == (32000, 50.0, 1)
    assert (model.num_codebooks, model.total_codebooks, model.cardinality) == (4, 4, 2048)
    wav = torch.from_numpy(reference["enc_wav" + suffix])
    ref_codes = torch.from_numpy(reference["enc_codes" + suffix])
    with torch.no_grad():
        latent = model.encoder(wav)
        codes, scale = model.encode(wav)
        quantized = model.decode_latent(ref_codes)
        decoded = model.decode(ref_codes)
    assert scale is None
    assert torch.allclose(
        latent, torch.from_numpy(reference["enc_latent" + suffix]), rtol=0, atol=1e-5
    )
    assert codes.dtype == torch.long and torch.equal(codes, ref_codes)
    assert torch.allclose(
        quantized, torch.from_numpy(reference["enc_quantized" + suffix]), rtol=0, atol=1e-5
    )
    ref_decoded = torch.from_numpy(reference["enc_decoded" + suffix])
    assert decoded.shape == ref_decoded.shape
    assert (decoded - ref_decoded).abs().max() < 1e-5


def test_hub_file_round_trip(fixture_model, tmp_path):
    path = loaders.export_compression(fixture_model, tmp_path / "out")
    pkg = loaders.load_compression_model_ckpt(tmp_path / "out")  # a folder holding the file
    assert set(pkg) >= {"best_state", "xp.cfg", "version", "exported"}
    again = loaders.load_compression_model(path)
    for key, value in fixture_model.state_dict().items():
        assert torch.equal(again.state_dict()[key], value)


def test_truncated_and_mismatching_checkpoints(tmp_path, fixture_model):
    data = (FIXTURES / "compression_state_dict.bin").read_bytes()
    (tmp_path / "trunc.bin").write_bytes(data[: len(data) // 2])
    with pytest.raises(loaders.CheckpointError, match="truncated"):
        loaders.load_compression_model(tmp_path / "trunc.bin")
    pkg = loaders.load_compression_model_ckpt(FIXTURES / "compression_state_dict.bin")
    cfg = OmegaConf.create(pkg["xp.cfg"])
    cfg.rvq.n_q = 8  # weights of 4 codebooks cannot fill 8
    pkg["xp.cfg"] = OmegaConf.to_yaml(cfg)
    torch.save(pkg, tmp_path / "bad.bin")
    with pytest.raises(loaders.CheckpointError, match="do not fit"):
        loaders.load_compression_model(tmp_path / "bad.bin")


def test_bad_inputs_raise_clear_errors(fixture_model):
    model = fixture_model
    with pytest.raises(ValueError, match="channel"):
        model.encode(torch.zeros(1, 2, 640))
    with pytest.raises(ValueError, match="resample"):
        model.encode(torch.zeros(1, 1, 640), sample_rate=44100)
    with pytest.raises(ValueError, match="empty"):
        model.encode(torch.zeros(1, 1, 0))
    with pytest.raises(ValueError, match=r"\[B, C, T\]"):
        model.encode(torch.zeros(640))
    with pytest.raises(ValueError, match="out of range"):
        model.decode(torch.full((1, 4, 3), 2048))
    with pytest.raises(ValueError, match="out of range"):
        model.decode(torch.full((1, 4, 3), -1))
    with pytest.raises(ValueError, match="integers"):
        model.decode(torch.zeros(1, 4, 3))
    assert model.decode(torch.zeros(2, 4, 0, dtype=torch.long)).shape == (2, 1, 0)
    with pytest.raises(ValueError, match="1 <= K <= 4"):
        model.decode(torch.zeros(1, 5, 3, dtype=torch.long))


def test_set_num_codebooks(fixture_model, reference):
    model = fixture_model
    wav = torch.from_numpy(reference["enc_wav"])
    try:
        model.set_num_codebooks(2)
        codes, _ = model.encode(wav)
        assert codes.shape == (1, 2, 50)
        assert torch.equal(codes, torch.from_numpy(reference["enc_codes"])[:, :2])
        assert model.decode(codes).shape == (1, 1, 32000)
        with pytest.raises(ValueError, match="Number of codebooks"):
            model.set_num_codebooks(5)
    finally:
        model.set_num_codebooks(4)


def _compose(name: str):
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(
            config_name=f"model/encodec/{name}", overrides=["+sample_rate=32000", "+channels=1"]
        )


SLOW = pytest.mark.slow  # full-size models take seconds to build


@pytest.mark.parametrize(
    "name, frame_rate, n_q, bins",
    [
        ("default", 100.0, 8, 1024),
        pytest.param("encodec_large_nq4_s640", 50.0, 4, 2048, marks=SLOW),
        pytest.param("encodec_32khz", 50.0, 4, 2048, marks=SLOW),
        pytest.param("encodec_base_causal", 100.0, 32, 1024, marks=SLOW),
        ("debug", 25.0, 4, 400),
    ],
)
def test_every_config_builds(name, frame_rate, n_q, bins):
    model = builders.get_compression_model(_compose(name))
    assert isinstance(model, EncodecModel)
    assert (model.frame_rate, model.num_codebooks, model.cardinality) == (frame_rate, n_q, bins)
    if name == "encodec_32khz":  # the alias is the reference's 32 kHz music codec
        expected = {}
        for line in (FIXTURES / "keys_encodec_32khz.txt").read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                key, shape = line.split("\t")[:2]
                expected[key] = tuple(int(s) for s in shape.strip("()").split(",") if s.strip())
        assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == expected
    with torch.no_grad():
        codes, _ = model.encode(torch.randn(1, 1, 6400))
        assert codes.shape == (1, n_q, int(6400 * frame_rate / 32000))
        assert model.decode(codes).shape == (1, 1, 6400)


def test_debug_preset_matches_its_yaml_and_is_deterministic():
    state_before = torch.random.get_rng_state()
    a = builders.get_debug_compression_model()
    assert torch.equal(torch.random.get_rng_state(), state_before)  # global RNG untouched
    b = builders.get_debug_compression_model()
    from_yaml = builders.get_compression_model(_compose("debug"))
    assert {k: v.shape for k, v in a.state_dict().items()} == {
        k: v.shape for k, v in from_yaml.state_dict().items()
    }
    for key, value in a.state_dict().items():
        assert torch.equal(value, b.state_dict()[key])
    codes, _ = a.encode(torch.randn(1, 1, 32000))
    assert codes.shape == (1, 4, 25)
    assert all(len(torch.unique(codes[0, k])) > 5 for k in range(4))  # diverse codes


def test_bad_config_names_the_section():
    cfg = _compose("debug")
    with open_dict(cfg):
        cfg.seanet.bogus_key = 3
    with pytest.raises(ValueError, match="seanet"):
        builders.get_compression_model(cfg)


def test_interleaved_stereo():
    mono = builders.get_debug_compression_model()
    stereo = InterleaveStereoCompressionModel(mono)
    assert (stereo.channels, stereo.num_codebooks, stereo.total_codebooks) == (2, 8, 8)
    wav = torch.randn(2, 2, 12800)
    with torch.no_grad():
        codes, _ = stereo.encode(wav)
        left, _ = mono.encode(wav[:, :1])
        right, _ = mono.encode(wav[:, 1:])
        assert torch.equal(codes[:, 0::2], left) and torch.equal(codes[:, 1::2], right)
        decoded = stereo.decode(codes)
        assert torch.equal(decoded, torch.cat([mono.decode(left), mono.decode(right)], dim=1))
        streamed = torch.cat(list(stereo.decode_stream(codes, chunk_frames=3)), dim=-1)
        assert (streamed - decoded).abs().max() < 1e-5
    per_step = InterleaveStereoCompressionModel(mono, per_timestep=True)
    with torch.no_grad():
        codes2, _ = per_step.encode(wav)
        assert codes2.shape == (2, 4, 20) and per_step.frame_rate == 2 * mono.frame_rate
        assert torch.equal(per_step.decode(codes2), decoded)


def test_a_codec_without_quantizer_decodes_its_own_latents():
    cfg = _compose("debug")
    with open_dict(cfg):
        cfg.encodec.quantizer = "no_quant"
    model = builders.get_compression_model(cfg).eval()
    x = torch.randn(2, 1, 3200)
    with torch.no_grad():
        codes, scale = model.encode(x)
        assert codes.is_floating_point() and codes.shape[:2] == (2, 1)
        # The latent passes through unquantized: decode(encode(x)) is the forward pass.
        assert torch.allclose(model.decode(codes, scale)[..., :3200], model(x).x, atol=1e-6)
        with pytest.raises(ValueError, match="no quantizer"):
            model.decode(torch.zeros(2, 4, 10, dtype=torch.long))
