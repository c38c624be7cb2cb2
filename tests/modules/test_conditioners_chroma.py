import logging
import math

import torch
from torch import nn

from audiocraft.modules.conditioners import (
    ConditioningAttributes,
    ConditioningProvider,
    WavCondition,
    null_wav_condition,
)
from audiocraft.modules.conditioners.chroma import ChromaStemConditioner

SR = 8000
PITCH_C, PITCH_A = 0, 9


def _tone(freq: float, seconds: float = 1.0) -> torch.Tensor:
    t = torch.arange(int(SR * seconds)) / SR
    return torch.sin(2 * math.pi * freq * t)[None, None]  # [1, 1, T]


def _cond(wav: torch.Tensor) -> WavCondition:
    return WavCondition(wav, torch.tensor([wav.shape[-1]]), [SR], [None], [None])


def _conditioner(**kwargs) -> ChromaStemConditioner:
    kwargs.setdefault("use_demucs", False)
    return ChromaStemConditioner(output_dim=6, sample_rate=SR, radix2_exp=10, duration=2.0,
                                 **kwargs)


def test_match_len_repeats_and_null_is_constant():
    cond = _conditioner(match_len_on_eval=True)
    assert cond.chroma_len == cond.chroma.num_frames(2 * SR)
    emb, mask = cond(cond.tokenize(_cond(_tone(440.0))))
    assert emb.shape == (1, cond.chroma_len, 6) and bool(mask.all())
    emb_null, mask_null = cond(cond.tokenize(null_wav_condition(2, SR)))
    assert emb_null.shape == (2, cond.chroma_len, 6) and bool(mask_null.all())
    one_hot = torch.zeros(12)
    one_hot[0] = 1
    torch.testing.assert_close(emb_null, cond.output_proj(one_hot).expand(2, cond.chroma_len, 6))


def test_masked_mode_null_is_zero():
    cond = _conditioner(match_len_on_eval=False)
    emb, mask = cond(cond.tokenize(_cond(_tone(440.0))))
    assert emb.shape[1] == cond.chroma.num_frames(SR) and bool(mask.all())
    emb_null, mask_null = cond(cond.tokenize(null_wav_condition(1, SR)))
    assert mask_null.sum() == 0 and emb_null.abs().sum() == 0


class _FakeSeparator(nn.Module):
    """Puts a C tone in 'other' and the input in 'drums'."""

    sources = ["drums", "bass", "other", "vocals"]
    samplerate = SR
    audio_channels = 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        stems = torch.zeros(x.shape[0], 4, *x.shape[1:])  # [B, S, C, T]
        stems[:, 0] = x
        stems[:, 2] = _tone(261.63, x.shape[-1] / SR)[0]
        return stems


def test_stems_are_used_when_a_separator_is_available():
    melody = _cond(_tone(440.0))
    plain = _conditioner(match_len_on_eval=False)
    stems = _conditioner(match_len_on_eval=False, use_demucs=True, demucs_model=_FakeSeparator())
    assert int(plain._get_wav_embedding(melody)[0, 3].argmax()) == PITCH_A
    assert int(stems._get_wav_embedding(melody)[0, 3].argmax()) == PITCH_C
    assert set(stems.state_dict()) == {"output_proj.weight", "output_proj.bias"}


def test_missing_demucs_warns_and_uses_the_mix(caplog, monkeypatch):
    import audiocraft.modules.conditioners.chroma as chroma_module

    monkeypatch.setattr(chroma_module, "load_local_demucs", lambda name="htdemucs": None)
    cond = _conditioner(use_demucs=True, match_len_on_eval=False)
    with caplog.at_level(logging.WARNING):
        feats = cond._get_wav_embedding(_cond(_tone(440.0)))
    assert "full mix" in caplog.text
    assert int(feats[0, 3].argmax()) == PITCH_A


def test_provider_without_melody_uses_null():
    provider = ConditioningProvider({"self_wav": _conditioner(match_len_on_eval=False)})
    attrs = [ConditioningAttributes(wav={"self_wav": _cond(_tone(440.0))}),
             ConditioningAttributes()]
    emb, mask = provider(provider.tokenize(attrs))["self_wav"]
    assert emb.shape[0] == 2 and mask[0].sum() > 0 and mask[1].sum() == 0
