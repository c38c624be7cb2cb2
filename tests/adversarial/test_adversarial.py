import torch

from audiocraft.adversarial import (
    MultiScaleSTFTDiscriminator,
    feature_matching_loss,
    hinge_discriminator_loss,
    hinge_generator_loss,
)
from audiocraft.adversarial.msstftd import DiscriminatorOutput


def _disc():
    return MultiScaleSTFTDiscriminator(filters=4, n_ffts=[128, 64], hop_lengths=[32, 16],
                                       win_lengths=[128, 64])


def test_msstftd_shapes_and_grad():
    disc = _disc()
    x = torch.randn(2, 1, 1600, requires_grad=True)
    out = disc(x)
    assert len(out.logits) == 2 and len(out.fmaps) == 2
    for logit, hop in zip(out.logits, [32, 16]):
        assert logit.shape[:2] == (2, 1)
        assert logit.shape[2] == 1600 // hop + 1  # frames
    hinge_generator_loss(out).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_hinge_losses_values():
    real = DiscriminatorOutput([torch.full((1, 1, 2, 2), 2.0)], [[]])
    fake = DiscriminatorOutput([torch.full((1, 1, 2, 2), -2.0)], [[]])
    assert hinge_discriminator_loss(real, fake).item() == 0.0  # both beyond the margin
    assert hinge_generator_loss(fake).item() == 2.0
    assert hinge_discriminator_loss(fake, real).item() == 6.0


def test_feature_matching_zero_on_identical_and_grows():
    disc = _disc()
    x = torch.randn(1, 1, 800)
    real = disc(x)
    assert feature_matching_loss(real, disc(x)).item() < 1e-6
    assert feature_matching_loss(real, disc(x + torch.randn_like(x))).item() > 0.01


def test_discriminator_learns_to_separate():
    torch.manual_seed(0)
    disc = _disc()
    opt = torch.optim.Adam(disc.parameters(), lr=1e-3)
    real_wav = torch.sin(torch.arange(800) * 0.2).expand(4, 1, 800)
    losses = []
    for _ in range(15):
        fake_wav = 0.5 * torch.randn(4, 1, 800)
        loss = hinge_discriminator_loss(disc(real_wav), disc(fake_wav))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
