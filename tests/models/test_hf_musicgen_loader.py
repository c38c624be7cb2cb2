"""Parity with transformers' MusicGen / MusicGen-Melody on tiny random-weight models."""

import math

import pytest
import torch
from tiny_hf_models import save_tiny_musicgen
from transformers import AutoTokenizer

from audiocraft.models.loaders import is_hf_musicgen, load_hf_musicgen_lm
from audiocraft.modules.chroma import ChromaExtractor
from audiocraft.modules.conditioners import ConditioningAttributes, WavCondition

TEXTS = ["calm piano", "rock guitar solo with fast drums"]  # row 0 is padded


@pytest.fixture(scope="module")
def musicgen(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hf_musicgen")
    hf = save_tiny_musicgen(folder)
    return folder, hf, load_hf_musicgen_lm(folder)


@pytest.fixture(scope="module")
def melody(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hf_musicgen_melody")
    hf = save_tiny_musicgen(folder, melody=True)
    return folder, hf, load_hf_musicgen_lm(folder)


def _sequence(B: int, K: int = 4, S: int = 12, card: int = 64) -> torch.Tensor:
    seq = torch.randint(0, card, (B, K, S))
    seq[:, :, 0] = card  # the start step is all special tokens
    return seq  # [B, K, S]


def _capture_codes(hf):
    """Wrap the audio decoder of a transformers model to record the generated codes."""
    captured = {}
    original = hf.audio_encoder.decode

    def decode(audio_codes, *args, **kwargs):
        captured["codes"] = audio_codes.clone()
        return original(audio_codes, *args, **kwargs)

    hf.audio_encoder.decode = decode
    return captured


def test_folder_detection(musicgen, tmp_path):
    folder, _, _ = musicgen
    assert is_hf_musicgen(folder)
    assert not is_hf_musicgen(tmp_path)


@torch.no_grad()
def test_logits_match_transformers(musicgen):
    folder, hf, ours = musicgen
    tok = AutoTokenizer.from_pretrained(str(folder))
    inputs = tok(TEXTS, return_tensors="pt", padding=True)
    assert inputs["attention_mask"][0].min() == 0  # padding exercised
    seq = _sequence(2)
    ref = hf(**inputs, decoder_input_ids=seq.reshape(-1, seq.shape[-1])).logits
    ref = ref.reshape(2, 4, seq.shape[-1], -1)  # [B, K, S, card]
    attrs = [ConditioningAttributes(text={"description": t}) for t in TEXTS]
    logits = ours(seq, attrs)
    assert logits.shape == ref.shape
    assert (logits - ref).abs().max() < 1e-4


@pytest.mark.slow
@torch.no_grad()
def test_greedy_tokens_with_guidance_match_transformers(musicgen):
    folder, hf, ours = musicgen
    tok = AutoTokenizer.from_pretrained(str(folder))
    inputs = tok(TEXTS, return_tensors="pt", padding=True)
    captured = _capture_codes(hf)
    hf.generate(**inputs, do_sample=False, guidance_scale=3.0, max_new_tokens=12)
    ref = captured["codes"][0]  # [B, K, T]
    attrs = [ConditioningAttributes(text={"description": t}) for t in TEXTS]
    codes = ours.generate(None, attrs, max_gen_len=ref.shape[-1], use_sampling=False,
                          cfg_coef=3.0)
    assert codes.shape == ref.shape and ref.shape[-1] >= 6
    assert torch.equal(codes, ref)
    assert len(set(codes.flatten().tolist())) > 4  # not a degenerate constant output


def _melody_wav(seconds: float = 1.0, sr: int = 32000) -> torch.Tensor:
    t = torch.arange(int(sr * seconds)) / sr
    return (torch.sin(2 * math.pi * 440 * t) + 0.5 * torch.sin(2 * math.pi * 659 * t))[None, None]


@torch.no_grad()
def test_melody_logits_with_and_without_melody(melody):
    folder, hf, ours = melody
    tok = AutoTokenizer.from_pretrained(str(folder))
    inputs = tok(TEXTS[:1], return_tensors="pt")
    seq = _sequence(1)
    wav = _melody_wav()
    chroma = ChromaExtractor(32000, radix2_exp=14, argmax=True)(wav)  # [1, frames, 12]
    cond = WavCondition(wav, torch.tensor([wav.shape[-1]]), [32000], [None], [None])
    for features, attrs in [
        (chroma, ConditioningAttributes(text={"description": TEXTS[0]}, wav={"self_wav": cond})),
        (None, ConditioningAttributes(text={"description": TEXTS[0]})),
    ]:
        out = hf(**inputs, input_features=features,
                 decoder_input_ids=seq.reshape(-1, seq.shape[-1])).logits
        ref = out[:, -seq.shape[-1]:].reshape(1, 4, seq.shape[-1], -1)
        logits = ours(seq, [attrs])
        assert (logits - ref).abs().max() < 1e-4
    with_melody = ours(seq, [ConditioningAttributes(text={"description": TEXTS[0]},
                                                    wav={"self_wav": cond})])
    without = ours(seq, [ConditioningAttributes(text={"description": TEXTS[0]})])
    assert (with_melody - without).abs().max() > 1e-3  # the melody matters


@pytest.mark.slow
@torch.no_grad()
def test_melody_greedy_generation_matches_transformers(melody):
    folder, hf, ours = melody
    tok = AutoTokenizer.from_pretrained(str(folder))
    inputs = tok(TEXTS[:1], return_tensors="pt")
    wav = _melody_wav()
    chroma = ChromaExtractor(32000, radix2_exp=14, argmax=True)(wav)
    cond = WavCondition(wav, torch.tensor([wav.shape[-1]]), [32000], [None], [None])
    captured = _capture_codes(hf)
    for features, attrs in [
        (chroma, ConditioningAttributes(text={"description": TEXTS[0]}, wav={"self_wav": cond})),
        (None, ConditioningAttributes(text={"description": TEXTS[0]})),
    ]:
        hf.generate(**inputs, input_features=features, do_sample=False, guidance_scale=3.0,
                    max_new_tokens=10)
        ref = captured["codes"][0]
        codes = ours.generate(None, [attrs], max_gen_len=ref.shape[-1], use_sampling=False,
                              cfg_coef=3.0)
        assert torch.equal(codes, ref)


@torch.no_grad()
def test_encodec_inside_the_folder_matches_transformers(musicgen):
    from audiocraft.models.loaders import load_compression_model

    folder, hf, ours = musicgen
    codec = load_compression_model(folder)
    assert codec.cardinality == ours.card and codec.num_codebooks == ours.n_q
    codes = torch.randint(0, ours.card, (1, ours.n_q, 10))  # [B, K, T]
    ref = hf.audio_encoder.decode(codes[None], [None]).audio_values
    wav = codec.decode(codes)
    assert wav.shape == ref.shape
    assert (wav - ref).abs().max() < 1e-4


@torch.no_grad()
def test_melody_batch_mixing_with_and_without_melody(melody):
    _, _, ours = melody
    wav = _melody_wav()
    cond = WavCondition(wav, torch.tensor([wav.shape[-1]]), [32000], [None], [None])
    with_melody = ConditioningAttributes(text={"description": TEXTS[0]}, wav={"self_wav": cond})
    without = ConditioningAttributes(text={"description": TEXTS[0]})
    seq = _sequence(2)
    both = ours(seq, [with_melody, without])
    torch.testing.assert_close(both[:1], ours(seq[:1], [with_melody]), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(both[1:], ours(seq[1:], [without]), atol=1e-5, rtol=1e-5)


@torch.no_grad()
def test_export_to_audiocraft_format_round_trip(musicgen, melody, tmp_path):
    from omegaconf import OmegaConf

    from audiocraft.models.builders import get_lm_model
    from audiocraft.models.loaders import export_lm, load_lm_model

    for name, (_, _, ours) in [("musicgen", musicgen), ("melody", melody)]:
        rebuilt = get_lm_model(OmegaConf.create(ours.cfg))
        assert {k: v.shape for k, v in rebuilt.state_dict().items()} == {
            k: v.shape for k, v in ours.state_dict().items()}
        back = load_lm_model(export_lm(ours, None, tmp_path / name))
        assert back.cross_attention_mask == ours.cross_attention_mask
        seq = _sequence(2)
        attrs = [ConditioningAttributes(text={"description": t}) for t in TEXTS]
        torch.testing.assert_close(back(seq, attrs), ours(seq, attrs), atol=1e-6, rtol=1e-6)
