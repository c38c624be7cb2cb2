"""Parity with transformers' EncodecModel (random weights) through our HF loader, and
export round trips to both checkpoint formats."""

import pytest
import torch
from transformers import EncodecConfig
from transformers import EncodecModel as HFEncodecModel

from audiocraft.models import loaders
from audiocraft.models.encodec import EncodecModel


def _hf_model(**overrides) -> HFEncodecModel:
    """A small model shaped like facebook/encodec_32khz (ratios 8,5,4,4; 2 LSTM layers;
    4 x 2048 codebooks at 2.2 kbps) with random weights and random non-zero codebooks
    fitted to its latents (all-zero codebooks would make every code 0)."""
    kwargs = dict(
        sampling_rate=32000,
        audio_channels=1,
        num_filters=8,
        hidden_size=32,
        codebook_dim=32,
        codebook_size=2048,
        upsampling_ratios=[8, 5, 4, 4],
        num_lstm_layers=2,
        target_bandwidths=[2.2],
        pad_mode="reflect",
        use_causal_conv=False,
        use_conv_shortcut=False,
        normalize=False,
        chunk_length_s=None,
        overlap=None,
    )
    kwargs.update(overrides)
    model = HFEncodecModel(EncodecConfig(**kwargs)).eval()
    with torch.no_grad():
        residual = model.encoder(torch.randn(2, kwargs["audio_channels"], 32000))  # [B, D, T]
        for layer in model.quantizer.layers:
            flat = residual.transpose(1, 2).reshape(-1, residual.shape[1])
            embed = flat.mean(0) + torch.randn(kwargs["codebook_size"], flat.shape[1]) * flat.std(0)
            layer.codebook.embed.copy_(embed)
            layer.codebook.embed_avg.copy_(embed)
            residual = residual - layer.decode(layer.encode(residual))
    return model


def _hf_codes(model: HFEncodecModel, wav: torch.Tensor) -> torch.Tensor:
    return model.encode(wav, bandwidth=model.config.target_bandwidths[0]).audio_codes[
        0
    ]  # [B, K, T]


@pytest.mark.parametrize(
    "overrides",
    [
        {},  # the official 32 kHz layout: non-causal, reflect padding, identity skips
        {"use_causal_conv": True, "use_conv_shortcut": True, "pad_mode": "constant"},
    ],
)
def test_hf_parity(tmp_path, overrides):
    hf = _hf_model(**overrides)
    hf.save_pretrained(tmp_path / "hf")
    ours = loaders.load_compression_model(tmp_path / "hf")
    assert isinstance(ours, EncodecModel)
    assert (ours.sample_rate, ours.frame_rate, ours.num_codebooks, ours.cardinality) == (
        32000,
        50.0,
        4,
        2048,
    )
    wav = torch.randn(2, 1, 32000 + 123)  # not a whole number of frames
    with torch.no_grad():
        codes, scale = ours.encode(wav)
        ref_codes = _hf_codes(hf, wav)
        assert scale is None
        assert codes.shape == (2, 4, 51)
        assert len(torch.unique(codes)) > 20  # diverse, so the comparison means something
        assert torch.equal(codes, ref_codes)
        decoded = ours.decode(codes)
        ref = hf.decode(ref_codes[None], [None]).audio_values
        assert decoded.shape == ref.shape == (2, 1, 51 * 640)
        assert (decoded - ref).abs().max() < 1e-4


def test_hf_cache_lookup_and_musicgen_layout(tmp_path, monkeypatch):
    """A hub id resolves in the HF cache; a MusicGen-style folder yields its audio_encoder."""
    hf = _hf_model()
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    repo = tmp_path / "hub" / "models--facebook--encodec_32khz"
    hf.save_pretrained(repo / "snapshots" / "0123abc")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abc")
    ours = loaders.load_compression_model("facebook/encodec_32khz")
    wav = torch.randn(1, 1, 6400)
    with torch.no_grad():
        assert torch.equal(ours.encode(wav)[0], _hf_codes(hf, wav))
    # A pointer hub file (as in the official MusicGen repos) resolves through the cache too.
    pointer = tmp_path / "musicgen" / "compression_state_dict.bin"
    pointer.parent.mkdir()
    torch.save({"pretrained": "facebook/encodec_32khz"}, pointer)
    via_pointer = loaders.load_compression_model(pointer.parent)
    with torch.no_grad():
        assert torch.equal(via_pointer.encode(wav)[0], _hf_codes(hf, wav))


def test_missing_pointer_target_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty_cache"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    pointer = tmp_path / "compression_state_dict.bin"
    torch.save({"pretrained": "facebook/encodec_32khz"}, pointer)
    with pytest.raises(loaders.MissingWeightsError) as err:
        loaders.load_compression_model(pointer)
    msg = str(err.value)
    assert (
        "models--facebook--encodec_32khz" in msg
        and "huggingface-cli download" in msg
        and "HF_HOME" in msg
    )
    with pytest.raises(loaders.MissingWeightsError, match="Looked in"):
        loaders.load_compression_model(tmp_path / "nowhere")


def test_export_round_trips(tmp_path):
    hf = _hf_model()
    hf.save_pretrained(tmp_path / "hf")
    ours = loaders.load_compression_model(tmp_path / "hf")
    wav = torch.randn(1, 1, 12800)
    with torch.no_grad():
        codes = ours.encode(wav)[0]
        decoded = ours.decode(codes)
    # audiocraft hub format
    hub = loaders.export_compression(ours, tmp_path / "hub")
    assert hub.name == "compression_state_dict.bin"
    again = loaders.load_compression_model(hub)
    # transformers format, read back by transformers itself and by us
    loaders.export_compression_hf(ours, tmp_path / "hf_out")
    hf_again = HFEncodecModel.from_pretrained(tmp_path / "hf_out").eval()
    ours_again = loaders.load_compression_model(tmp_path / "hf_out")
    with torch.no_grad():
        for model in (again, ours_again):
            assert torch.equal(model.encode(wav)[0], codes)
            assert torch.equal(model.decode(codes), decoded)
        assert torch.equal(_hf_codes(hf_again, wav), codes)
        assert (hf_again.decode(codes[None], [None]).audio_values - decoded).abs().max() < 1e-4


def test_official_file_layout_legacy_keys_and_sparse_config(tmp_path):
    """The published facebook/encodec_32khz files store weight norm as `weight_g`/`weight_v`
    and an older config.json; both load."""
    import json

    import safetensors.torch

    hf = _hf_model()
    hf.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    for key in ("compress", "dilation_growth_rate", "trim_right_ratio", "kernel_size"):
        config.pop(key)  # default values, absent from older files
    (tmp_path / "config.json").write_text(json.dumps(config))
    state = safetensors.torch.load_file(str(tmp_path / "model.safetensors"))
    legacy = {
        k.replace("parametrizations.weight.original0", "weight_g").replace(
            "parametrizations.weight.original1", "weight_v"
        ): v
        for k, v in state.items()
    }
    assert any(k.endswith("weight_g") for k in legacy)
    safetensors.torch.save_file(legacy, str(tmp_path / "model.safetensors"))
    ours = loaders.load_compression_model(tmp_path)
    wav = torch.randn(1, 1, 6400)
    with torch.no_grad():
        assert torch.equal(ours.encode(wav)[0], _hf_codes(hf, wav))
