import pytest
import torch

from audiocraft.losses import LOSSES, Balancer, MultiScaleMelSpectrogramLoss, SISNRLoss, si_snr
from audiocraft.losses.specs import mel_filterbank

SR = 8000


def _args(name: str) -> dict:
    if name in ("l1", "l2"):
        return {}
    if name == "mrstft":
        return {"n_ffts": [256, 128], "hop_lengths": [64, 32], "win_lengths": [256, 128]}
    if name == "msspec":
        return {"sample_rate": SR, "range_start": 6, "range_end": 9, "n_mels": 16}
    if name == "chroma":
        return {"sample_rate": SR, "n_fft": 512, "hop_length": 128}
    if name == "mel":
        return {"sample_rate": SR, "n_fft": 256, "hop_length": 64, "win_length": 256, "n_mels": 16}
    return {"sample_rate": SR, "segment": 0.1}


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_named_loss_zero_on_identity_and_positive_otherwise(name):
    loss = LOSSES[name](**_args(name))
    x = torch.randn(2, 1, 2000)
    y = x + 0.3 * torch.randn_like(x)
    same = loss(x, x).item()
    diff = loss(y, x).item()
    assert diff > same
    if name != "sisnr":  # SI-SNR of identical signals is a large negative number.
        assert abs(same) < 1e-5
    y.requires_grad_(True)
    loss(y, x).backward()
    assert y.grad is not None and torch.isfinite(y.grad).all()


def test_mel_filterbank_shape_and_partition():
    fb = mel_filterbank(16000, 512, 40, 0.0, None)
    assert fb.shape == (257, 40)
    assert (fb >= 0).all() and fb.max() <= 1.0 + 1e-6
    # Every band has a peak of 1 near its centre frequency, so no band is empty.
    assert (fb.max(dim=0).values > 0.3).all()
    with pytest.raises(ValueError, match="Nyquist"):
        mel_filterbank(16000, 512, 40, 0.0, 9000.0)


def test_si_snr_scale_invariant_and_known_value():
    ref = torch.randn(3, 1000)
    est = ref + 0.1 * torch.randn_like(ref)
    assert torch.allclose(si_snr(2.5 * est, ref), si_snr(est, ref), atol=1e-3)
    noise = torch.randn(3, 1000)
    noise = noise - noise.mean(-1, keepdim=True)
    ref = ref - ref.mean(-1, keepdim=True)
    # Make the noise orthogonal to the reference: SI-SNR is then exactly the power ratio.
    noise = noise - (noise * ref).sum(-1, keepdim=True) / ref.pow(2).sum(-1, keepdim=True) * ref
    expected = 10 * torch.log10(ref.pow(2).sum(-1) / noise.pow(2).sum(-1))
    assert torch.allclose(si_snr(ref + noise, ref), expected, atol=1e-3)
    assert SISNRLoss(SR, segment=None)(ref[:, None] + noise[:, None], ref[:, None]).item() == (
        pytest.approx(-expected.mean().item(), abs=1e-3))


def test_msspec_rejects_empty_range():
    with pytest.raises(ValueError, match="range_end"):
        MultiScaleMelSpectrogramLoss(SR, range_start=8, range_end=8)


def test_balancer_gives_each_loss_its_share_of_the_gradient():
    out = torch.randn(4, 1, 100, requires_grad=True)
    target = torch.randn(4, 1, 100)
    # Two losses whose raw gradients differ by a factor of 1000.
    losses = {"a": 1000 * (out - target).pow(2).mean(), "b": (out - target).abs().mean()}
    bal = Balancer({"a": 1.0, "b": 3.0}, total_norm=2.0, ema_decay=0.0)
    grad = bal.compute(losses, out)
    ga = torch.autograd.grad(losses["a"], out, retain_graph=True)[0]
    gb = torch.autograd.grad(losses["b"], out, retain_graph=True)[0]
    na = ga.flatten(1).norm(dim=1).mean()
    nb = gb.flatten(1).norm(dim=1).mean()
    expected = 2.0 * (0.25 * ga / na + 0.75 * gb / nb)
    assert torch.allclose(grad, expected, rtol=1e-5, atol=1e-7)
    # Unbalanced mode is the plain weighted sum.
    plain = Balancer({"a": 1.0, "b": 3.0}, balance_grads=False).compute(losses, out)
    assert torch.allclose(plain, ga + 3 * gb, rtol=1e-5)
    # State round trip.
    bal2 = Balancer({"a": 1.0, "b": 3.0})
    bal2.load_state_dict(bal.state_dict())
    assert bal2.state_dict() == bal.state_dict()


def test_balancer_errors_when_no_weighted_loss():
    out = torch.randn(2, 1, 10, requires_grad=True)
    with pytest.raises(ValueError, match="non-zero balancer weight"):
        Balancer({"a": 0.0}).compute({"a": out.sum()}, out)
