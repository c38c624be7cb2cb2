"""Adversarial objectives: hinge loss for both players, and feature matching."""

from __future__ import annotations

import torch
from torch.nn import functional as F

from .msstftd import DiscriminatorOutput


def hinge_discriminator_loss(real: DiscriminatorOutput, fake: DiscriminatorOutput) -> torch.Tensor:
    """mean(relu(1 - D(x))) + mean(relu(1 + D(G(z)))), averaged over scales."""
    loss = real.logits[0].new_zeros(())
    for lr, lf in zip(real.logits, fake.logits):
        loss = loss + F.relu(1 - lr).mean() + F.relu(1 + lf).mean()
    return loss / len(real.logits)


def hinge_generator_loss(fake: DiscriminatorOutput) -> torch.Tensor:
    """-mean(D(G(z))), averaged over scales."""
    loss = fake.logits[0].new_zeros(())
    for lf in fake.logits:
        loss = loss - lf.mean()
    return loss / len(fake.logits)


def feature_matching_loss(real: DiscriminatorOutput, fake: DiscriminatorOutput,
                          normalize: bool = True) -> torch.Tensor:
    """L1 between the discriminator's feature maps of real and generated audio.

    With `normalize`, each layer's distance is divided by the mean magnitude of its real
    features (so every layer counts alike); the result is averaged over layers.
    """
    loss = fake.logits[0].new_zeros(())
    count = 0
    for fmap_real, fmap_fake in zip(real.fmaps, fake.fmaps):
        for fr, ff in zip(fmap_real, fmap_fake):
            fr = fr.detach()
            dist = F.l1_loss(ff, fr)
            if normalize:
                dist = dist / (fr.abs().mean() + 1e-8)
            loss = loss + dist
            count += 1
    return loss / max(count, 1)
