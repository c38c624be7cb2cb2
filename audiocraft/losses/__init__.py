"""Training losses of the compression model, each under the name its weight uses in
`config/solver/compression/*.yaml` (`losses.<name>: weight`)."""

from torch import nn

from .balancer import Balancer
from .chroma import ChromaLoss
from .sisnr import SISNRLoss, si_snr
from .spectral import MelSpectrogramL1Loss, MRSTFTLoss, MultiScaleMelSpectrogramLoss

# Registry: loss name -> class. `l1`/`l2` take no arguments, the others their own config
# section of the same name (e.g. `mel:` holds MelSpectrogramL1Loss's arguments).
SISNR = SISNRLoss  # the reference audiocraft's name

LOSSES: dict[str, type[nn.Module]] = {
    "l1": nn.L1Loss,
    "l2": nn.MSELoss,
    "chroma": ChromaLoss,
    "mel": MelSpectrogramL1Loss,
    "msspec": MultiScaleMelSpectrogramLoss,
    "mrstft": MRSTFTLoss,
    "sisnr": SISNRLoss,
}

__all__ = [
    "LOSSES",
    "Balancer",
    "ChromaLoss",
    "MRSTFTLoss",
    "MelSpectrogramL1Loss",
    "MultiScaleMelSpectrogramLoss",
    "SISNR",
    "SISNRLoss",
    "si_snr",
]
