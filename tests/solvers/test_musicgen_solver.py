"""The MusicGen solver's loss ignores padded audio and the pattern's invalid positions."""

import math

import torch

from audiocraft.models import builders
from audiocraft.modules.conditioners import ConditioningAttributes
from audiocraft.solvers.musicgen import MusicGenSolver


class _Info:
    def __init__(self, n_frames):
        self.n_frames = n_frames

    def to_condition_attributes(self):
        return ConditioningAttributes(text={"description": "piano", "bpm": "120"})


def _solver():
    lm = builders.get_debug_lm_model()
    codec = builders.get_debug_compression_model()
    return MusicGenSolver(lm, codec, optimizer=lambda p: torch.optim.SGD(p, lr=0.1))


def test_padding_mask_follows_real_audio_length():
    solver = _solver()
    sr, fr = solver.compression_model.sample_rate, solver.compression_model.frame_rate
    wav = torch.randn(2, 1, sr)  # [B, C, T]: 1 s
    codes, padding = solver.tokenize(wav, [_Info(sr), _Info(sr // 4)])
    T = codes.shape[-1]
    assert padding[0].all()
    valid = math.ceil(sr // 4 / sr * fr)
    assert padding[1, :, :valid].all() and not padding[1, :, valid:].any() and valid < T


def test_loss_does_not_see_padded_frames():
    torch.manual_seed(0)
    solver = _solver().eval()
    sr = solver.compression_model.sample_rate
    wav = torch.randn(2, 1, sr)
    infos = [_Info(sr), _Info(sr // 2)]
    codes, padding = solver.tokenize(wav, infos)
    attributes = solver.conditions(infos, 2)
    # Only the attributes the model has conditioners for are passed on.
    assert set(attributes[0].text) == {"description"}

    def loss(c):
        out = solver._predict(c, attributes)
        from audiocraft.solvers.musicgen import masked_cross_entropy
        return masked_cross_entropy(out.logits, c, out.mask & padding).ce

    base = loss(codes)
    changed = codes.clone()
    changed[1, :, -2:] = (changed[1, :, -2:] + 1) % solver.lm.card  # inside the padding
    # Causal model: later (padded) tokens change no earlier prediction, and are not scored.
    assert torch.allclose(loss(changed), base)
    changed[0, :, -2:] = (changed[0, :, -2:] + 1) % solver.lm.card  # real audio of item 0
    assert not torch.allclose(loss(changed), base)
