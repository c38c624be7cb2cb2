"""Stereo transformers MusicGen / MusicGen-Melody folders (facebook/musicgen-stereo-*):
parity with transformers on tiny random-weight models (interleaved left/right codebooks,
delays [0, 0, 1, 1, ...], the mono EnCodec on each channel)."""

import math

import pytest
import torch
from tiny_hf_models import save_tiny_musicgen
from transformers import AutoTokenizer

from audiocraft.models.encodec import InterleaveStereoCompressionModel
from audiocraft.models.musicgen import MusicGen
from audiocraft.modules.chroma import ChromaExtractor
from audiocraft.modules.conditioners import ConditioningAttributes, WavCondition

TEXTS = ["calm piano", "rock guitar solo with fast drums"]  # row 0 is padded
K = 8  # 4 codebooks of the mono codec, for left and right
CARD = 64


@pytest.fixture(scope="module", params=[False, True], ids=["stereo", "stereo_melody"])
def stereo(request, tmp_path_factory):
    """(folder, transformers model, our MusicGen loaded from the folder, melody?)."""
    melody = request.param
    folder = tmp_path_factory.mktemp("hf_musicgen_stereo")
    hf = save_tiny_musicgen(folder, melody=melody, stereo=True)
    return folder, hf, MusicGen.get_pretrained(str(folder), device="cpu"), melody


def _capture_codes(hf):
    """Record the codes transformers' generate passes to its (left/right) EnCodec decodes."""
    captured: list[torch.Tensor] = []
    original = hf.audio_encoder.decode

    def decode(audio_codes, *args, **kwargs):
        captured.append(audio_codes.clone())
        return original(audio_codes, *args, **kwargs)

    hf.audio_encoder.decode = decode
    return captured


def _melody_wav(seconds: float = 1.0, sr: int = 32000) -> torch.Tensor:
    t = torch.arange(int(sr * seconds)) / sr
    return (torch.sin(2 * math.pi * 440 * t) + 0.5 * torch.sin(2 * math.pi * 659 * t))[None, None]


def _inputs(folder, melody: bool):
    """transformers inputs and our conditions for the same texts (and melody)."""
    texts = TEXTS[:1] if melody else TEXTS
    inputs = dict(AutoTokenizer.from_pretrained(str(folder))(texts, return_tensors="pt",
                                                             padding=True))
    attrs = [ConditioningAttributes(text={"description": t}) for t in texts]
    if melody:
        wav = _melody_wav()
        inputs["input_features"] = ChromaExtractor(32000, radix2_exp=14, argmax=True)(wav)
        cond = WavCondition(wav, torch.tensor([wav.shape[-1]]), [32000], [None], [None])
        attrs[0].wav["self_wav"] = cond
    return inputs, attrs


def test_stereo_folder_loads_as_stereo(stereo):
    _, _, model, _ = stereo
    codec = model.compression_model
    assert isinstance(codec, InterleaveStereoCompressionModel) and not codec.per_timestep
    assert model.audio_channels == 2 and model.sample_rate == 32000 and model.frame_rate == 50
    assert codec.num_codebooks == model.lm.n_q == K
    assert model.lm.pattern_provider.delays == [0, 0, 1, 1, 2, 2, 3, 3]
    assert model.lm.cfg.interleave_stereo_codebooks.use


@torch.no_grad()
def test_stereo_logits_match_transformers(stereo):
    folder, hf, model, melody = stereo
    inputs, attrs = _inputs(folder, melody)
    B, S = len(attrs), 12
    seq = torch.randint(0, CARD, (B, K, S))  # [B, K, S]
    seq[:, :, 0] = CARD  # the start step is all special tokens
    out = hf(**inputs, decoder_input_ids=seq.reshape(B * K, S)).logits
    ref = out[:, -S:].reshape(B, K, S, -1)  # melody: drop the prepended condition steps
    logits = model.lm(seq, attrs)
    assert logits.shape == ref.shape == (B, K, S, CARD)
    assert (logits - ref).abs().max() < 1e-4


@torch.no_grad()
def test_stereo_greedy_generation_and_audio_match_transformers(stereo):
    folder, hf, model, melody = stereo
    inputs, attrs = _inputs(folder, melody)
    captured = _capture_codes(hf)
    ref_audio = hf.generate(**inputs, do_sample=False, guidance_scale=3.0, max_new_tokens=12)
    left, right = captured[-2][0], captured[-1][0]  # [B, 4, T] each
    ref_codes = torch.stack([left, right], dim=2).flatten(1, 2)  # [B, K, T]: L0, R0, L1, ...
    codes = model.lm.generate(None, attrs, max_gen_len=ref_codes.shape[-1], use_sampling=False,
                              cfg_coef=3.0)
    assert codes.shape == ref_codes.shape and ref_codes.shape[-1] >= 6
    assert torch.equal(codes, ref_codes)
    assert not torch.equal(codes[:, 0::2], codes[:, 1::2])  # left and right differ

    wav = model.compression_model.decode(codes)
    assert wav.shape == ref_audio.shape == (len(attrs), 2, ref_codes.shape[-1] * 640)
    assert (wav - ref_audio).abs().max() < 1e-4
    assert (wav[:, 0] - wav[:, 1]).abs().max() > 1e-3

    # The public API gives the same tokens and audio.
    model.set_generation_params(use_sampling=False, cfg_coef=3.0,
                                duration=ref_codes.shape[-1] / model.frame_rate)
    texts = [a.text["description"] for a in attrs]
    if melody:
        api_wav, api_codes = model.generate_with_chroma(
            texts, [_melody_wav()[0]], 32000, return_tokens=True)
    else:
        api_wav, api_codes = model.generate(texts, return_tokens=True)
    assert torch.equal(api_codes, ref_codes)
    assert (api_wav - ref_audio).abs().max() < 1e-4


@torch.no_grad()
def test_stereo_encode_matches_transformers_left_right_codes(stereo):
    _, hf, model, _ = stereo
    wav = 0.1 * torch.randn(1, 2, 32000 // 5)  # [B, C, T]
    codes, scale = model.compression_model.encode(wav)
    left = hf.audio_encoder.encode(wav[:, :1]).audio_codes[0]  # [B, 4, T_f]
    right = hf.audio_encoder.encode(wav[:, 1:]).audio_codes[0]
    assert scale is None and codes.shape == (1, K, left.shape[-1])
    assert torch.equal(codes[:, 0::2], left) and torch.equal(codes[:, 1::2], right)


@torch.no_grad()
def test_stereo_export_to_audiocraft_format_round_trip(stereo, tmp_path):
    from audiocraft.models.loaders import export_compression, export_lm

    folder, _, model, melody = stereo
    export_lm(model.lm, None, tmp_path / "state_dict.bin")
    export_compression(model.compression_model, tmp_path / "compression_state_dict.bin")
    back = MusicGen.get_pretrained(str(tmp_path), device="cpu")
    assert isinstance(back.compression_model, InterleaveStereoCompressionModel)
    assert back.lm.pattern_provider.delays == model.lm.pattern_provider.delays
    _, attrs = _inputs(folder, melody)
    seq = torch.randint(0, CARD, (len(attrs), K, 6))  # [B, K, S]
    torch.testing.assert_close(back.lm(seq, attrs), model.lm(seq, attrs), atol=1e-6, rtol=1e-6)
    codes = seq[:1]
    assert torch.equal(back.compression_model.decode(codes), model.compression_model.decode(codes))


def test_stereo_hub_id_resolves_from_the_hf_cache(stereo, tmp_path, monkeypatch):
    import shutil

    folder, _, model, melody = stereo
    name = "facebook/musicgen-stereo-melody" if melody else "facebook/musicgen-stereo-small"
    repo = tmp_path / "hf" / "hub" / ("models--" + name.replace("/", "--"))
    shutil.copytree(folder, repo / "snapshots" / "0123abc")
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0123abc")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    cached = MusicGen.get_pretrained(name, device="cpu")
    assert cached.audio_channels == 2 and cached.lm.n_q == K
    assert ("self_wav" in cached.lm.condition_provider.conditioners) == melody
    codes = torch.randint(0, CARD, (1, K, 5))  # [B, K, T]
    wav = cached.compression_model.decode(codes)
    assert torch.equal(wav, model.compression_model.decode(codes))
