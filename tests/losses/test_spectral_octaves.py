"""Spectral convergence per octave band in the multi-resolution STFT loss."""

import pytest
import torch

from audiocraft.losses import MRSTFTLoss

SR = 8000
KW = dict(n_ffts=[1024, 512], hop_lengths=[128, 64], win_lengths=[1024, 512],
          factor_sc=1.0, factor_mag=0.0)


def _tone(freq: float, amp: float) -> torch.Tensor:
    t = torch.arange(SR) / SR
    return amp * torch.sin(2 * torch.pi * freq * t)[None, None]


def test_whole_spectrum_by_default():
    x, y = _tone(110, 1.0), _tone(110, 1.0) + _tone(660, 0.05)
    assert torch.equal(MRSTFTLoss(**KW)(x, y), MRSTFTLoss(sc_octaves=0, **KW)(x, y))


def test_a_quiet_missing_chord_tone_costs_as_much_as_a_loud_bass_error():
    bass, tone = _tone(110, 1.0), _tone(660, 0.05)  # a chord tone 26 dB under the bass
    target = bass + tone
    lost_tone = bass  # the reconstruction drops the quiet upper note
    plain, banded = MRSTFTLoss(**KW), MRSTFTLoss(sc_octaves=5, **KW)
    # Whole spectrum: the missing note is a few percent of the norm.
    assert plain(lost_tone, target) < 0.1
    # Per octave: its band is entirely wrong, a full 1/5 of the averaged bands.
    assert banded(lost_tone, target) > 0.15
    # An error of the same energy on the bass is cheap either way.
    assert banded(bass * 1.05 + tone, target) < 0.05
    assert banded(target, target) == 0


def test_gradient_flows_and_bad_settings_are_refused():
    x = _tone(220, 0.5).requires_grad_()
    MRSTFTLoss(sc_octaves=4, **KW)(x, _tone(230, 0.5)).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="sc_octaves"):
        MRSTFTLoss(sc_octaves=-1)
    with pytest.raises(ValueError, match="fewer octaves"):
        MRSTFTLoss(sc_octaves=9, **KW)  # 512-point FFT: the lowest band would be empty
