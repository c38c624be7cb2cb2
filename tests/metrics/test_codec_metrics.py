"""SI-SNR against a numpy formula and the mel distance."""

import numpy as np
import pytest
import torch

from audiocraft.metrics.codec import SISNR, MelDistance, log_mel_spectrogram, si_snr


def _numpy_si_snr(x, y):
    x, y = x - x.mean(), y - y.mean()
    s = (x @ y) / (y @ y) * y
    return 10 * np.log10((s @ s) / ((x - s) @ (x - s)))


def test_si_snr_matches_numpy():
    rng = np.random.default_rng(0)
    ref = rng.standard_normal((3, 2, 400))
    est = 0.7 * ref + 0.2 * rng.standard_normal((3, 2, 400)) + 0.5  # offset removed by SI-SNR
    expected = np.array([[_numpy_si_snr(e, r) for e, r in zip(ei, ri)]
                         for ei, ri in zip(est, ref)])
    got = si_snr(torch.from_numpy(est), torch.from_numpy(ref))
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-6)
    metric = SISNR()
    metric.update(torch.from_numpy(est[:2]).float(), torch.from_numpy(ref[:2]).float())
    metric.update(torch.from_numpy(est[2:]).float(), torch.from_numpy(ref[2:]).float())
    assert metric.compute()["sisnr"] == pytest.approx(expected.mean(), rel=1e-4)


def test_si_snr_is_scale_invariant_and_uses_sizes():
    ref = torch.randn(1, 1, 500)
    est = ref + 0.1 * torch.randn(1, 1, 500)
    assert si_snr(3.0 * est, ref).item() == pytest.approx(si_snr(est, ref).item(), rel=1e-6)
    metric = SISNR()
    noisy_tail = torch.cat([est[..., :300], torch.randn(1, 1, 200)], -1)
    metric.update(noisy_tail, ref, sizes=torch.tensor([300]))
    assert metric.compute()["sisnr"] == pytest.approx(
        si_snr(est[..., :300], ref[..., :300]).item(), rel=1e-6)


def test_mel_distance():
    sr = 16000
    t = torch.arange(sr) / sr
    a = torch.sin(2 * torch.pi * 440 * t)[None, None]
    b = torch.sin(2 * torch.pi * 880 * t)[None, None]
    metric = MelDistance(sr)
    metric.update(a, a)
    assert metric.compute()["mel"] == 0.0
    metric.update(b, a)
    far = 0.5 * ((log_mel_spectrogram(b, sr) - log_mel_spectrogram(a, sr)).abs().mean().item())
    assert metric.compute()["mel"] == pytest.approx(far, rel=1e-6)
    quiet = MelDistance(sr)
    quiet.update(0.9 * a, a)
    assert 0 < quiet.compute()["mel"] < far  # a small gain change is closer than another note
    assert log_mel_spectrogram(torch.randn(2, 3, 100), sr).shape[:3] == (2, 3, 64)
    with pytest.raises(ValueError, match="one shape"):
        metric.update(a, b[..., :100])
