"""Pitch-class reconstruction loss."""

import pytest
import torch

from audiocraft.losses import ChromaLoss

SR = 8000


def _notes(*freqs_amps: tuple[float, float], seconds: float = 1.0) -> torch.Tensor:
    t = torch.arange(int(seconds * SR)) / SR
    x = sum(a * torch.sin(2 * torch.pi * f * t) for f, a in freqs_amps)
    return x[None, None]


BASS = (65.4, 1.0)  # C2
C_MINOR = [BASS, (261.6, 0.05), (311.1, 0.05), (392.0, 0.05)]  # chord 26 dB under the bass
C_MAJOR = [BASS, (261.6, 0.05), (329.6, 0.05), (392.0, 0.05)]


def test_a_quiet_wrong_third_costs_more_than_a_loud_level_error():
    loss = ChromaLoss(SR)
    target = _notes(*C_MINOR)
    assert loss(target, target).item() == pytest.approx(0.0, abs=1e-6)
    # The level does not count: the shape of the pitch-class distribution does.
    assert loss(0.5 * target, target).item() == pytest.approx(0.0, abs=1e-5)
    wrong_third = loss(_notes(*C_MAJOR), target).item()
    louder_bass = loss(target + _notes((65.4, 0.3)), target).item()
    assert wrong_third > 0.1
    assert wrong_third > 3 * louder_bass


def test_silent_reference_frames_are_ignored():
    loss = ChromaLoss(SR, n_fft=512, hop_length=128)
    tone = _notes((440.0, 0.5), seconds=0.5)
    target = torch.cat([tone, torch.zeros_like(tone)], dim=-1)
    # Noise where the reference is silent costs nothing: there is no pitch to match.
    estimate = target.clone()
    estimate[..., SR // 2 + 512:] += 0.1 * torch.randn(1, 1, SR // 2 - 512)
    assert loss(estimate, target).item() < 1e-3
    # The same noise over the tone does.
    noisy = target.clone()
    noisy[..., : SR // 2] += 0.3 * torch.randn(1, 1, SR // 2)
    assert loss(noisy, target).item() > 0.05


def test_power_and_gradient_and_bad_settings():
    target = _notes(*C_MINOR)
    x = _notes(*C_MAJOR).requires_grad_()
    # Magnitudes to a power < 1 lift quiet partials: the chord counts for more.
    assert ChromaLoss(SR, power=0.5)(x, target) > ChromaLoss(SR, power=2.0)(x, target)
    ChromaLoss(SR)(x, target).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="power"):
        ChromaLoss(SR, power=0.0)
    with pytest.raises(ValueError, match="silence"):
        ChromaLoss(SR, silence=1.0)
