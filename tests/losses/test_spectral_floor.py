"""The log-magnitude floor of the multi-resolution STFT loss."""

import pytest
import torch

from audiocraft.losses import MRSTFTLoss


def _tone_and_hiss():
    t = torch.arange(4000) / 8000
    tone = 0.5 * torch.sin(2 * torch.pi * 440 * t)[None, None]
    hiss = 1e-6 * torch.randn(1, 1, 4000, generator=torch.Generator().manual_seed(0))
    return tone, tone + hiss


def test_zero_floor_is_the_reference_loss():
    x, y = _tone_and_hiss()
    kw = dict(n_ffts=[256], hop_lengths=[64], win_lengths=[256], factor_sc=0.0, factor_mag=1.0)
    assert torch.equal(MRSTFTLoss(**kw)(x, y), MRSTFTLoss(mag_floor=0.0, **kw)(x, y))


def test_floor_ignores_near_silent_bins_but_not_missing_partials():
    tone, noisy = _tone_and_hiss()
    kw = dict(n_ffts=[256], hop_lengths=[64], win_lengths=[256], factor_sc=0.0, factor_mag=1.0)
    plain, floored = MRSTFTLoss(**kw), MRSTFTLoss(mag_floor=0.1, **kw)
    # Hiss 110 dB below the tone: it counts under the reference log, hardly with a floor.
    assert floored(noisy, tone) < plain(noisy, tone) / 100
    # A missing partial still costs with the floor.
    assert floored(torch.zeros_like(tone) + 1e-9, tone) > 0.1


def test_negative_floor_is_refused():
    with pytest.raises(ValueError, match="mag_floor"):
        MRSTFTLoss(mag_floor=-1.0)
