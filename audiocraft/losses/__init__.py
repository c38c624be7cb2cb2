"""Training losses of the compression model, each under the name its weight uses in
`config/solver/compression/*.yaml` (`losses.<name>: weight`)."""

from torch import nn

from ..utils.registry import Registry
from .balancer import Balancer
from .chroma import ChromaLoss
from .sisnr import SISNRLoss, si_snr
from .spectral import MelSpectrogramL1Loss, MRSTFTLoss, MultiScaleMelSpectrogramLoss, STFTLoss

# Registry: loss name -> class. `l1`/`l2` take no arguments, the others their own config
# section of the same name (e.g. `mel:` holds MelSpectrogramL1Loss's arguments).
SISNR = SISNRLoss  # the reference audiocraft's name

LOSSES: Registry[type[nn.Module]] = Registry("loss")
LOSSES.add("l1", nn.L1Loss)
LOSSES.add("l2", nn.MSELoss)
LOSSES.add("chroma", ChromaLoss)
LOSSES.add("mel", MelSpectrogramL1Loss)
LOSSES.add("msspec", MultiScaleMelSpectrogramLoss)
LOSSES.add("mrstft", MRSTFTLoss)
LOSSES.add("sisnr", SISNRLoss)

__all__ = [
    "LOSSES",
    "Balancer",
    "ChromaLoss",
    "MRSTFTLoss",
    "STFTLoss",
    "MelSpectrogramL1Loss",
    "MultiScaleMelSpectrogramLoss",
    "SISNR",
    "SISNRLoss",
    "si_snr",
]
