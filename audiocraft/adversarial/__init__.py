"""Adversarial training of the compression model: the multi-scale STFT discriminator,
the hinge loss and the feature-matching loss."""

from torch import nn

from ..utils.registry import Registry
from .losses import feature_matching_loss, hinge_discriminator_loss, hinge_generator_loss
from .msstftd import DiscriminatorOutput, DiscriminatorSTFT, MultiScaleSTFTDiscriminator

# Registry: adversary name -> class (config section of the same name holds its arguments).
ADVERSARIES: Registry[type[nn.Module]] = Registry("adversary")
ADVERSARIES.add("msstftd", MultiScaleSTFTDiscriminator)

__all__ = [
    "ADVERSARIES",
    "DiscriminatorOutput",
    "DiscriminatorSTFT",
    "MultiScaleSTFTDiscriminator",
    "feature_matching_loss",
    "hinge_discriminator_loss",
    "hinge_generator_loss",
]
