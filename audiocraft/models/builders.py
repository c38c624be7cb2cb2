"""Config -> objects, for every model family. The only place a model config is read.

Configs follow the reference audiocraft `xp.cfg` layout (see `config/model/`), so the
files stored inside official checkpoints build with the same functions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import torch
from omegaconf import DictConfig, OmegaConf

from ..modules.seanet import SEANetDecoder, SEANetEncoder
from ..quantization import BaseQuantizer, DummyQuantizer, ResidualVectorQuantizer
from .encodec import CompressionModel, EncodecModel, InterleaveStereoCompressionModel

T = TypeVar("T")

# ---- compression model ----


def dict_from_config(cfg: DictConfig | dict[str, Any]) -> dict[str, Any]:
    """A resolved plain dict from a config node (interpolations like `${sample_rate}` filled)."""
    if isinstance(cfg, DictConfig):
        out = OmegaConf.to_container(cfg, resolve=True)
        assert isinstance(out, dict)
        return {str(k): v for k, v in out.items()}
    return dict(cfg)


def _section(cfg: DictConfig, name: str) -> dict[str, Any]:
    if name not in cfg or cfg[name] is None:
        raise ValueError(f"Config has no '{name}' section (expected the audiocraft xp.cfg layout).")
    return dict_from_config(cfg[name])


def _build(cls: Callable[..., T], section: str, kwargs: dict[str, Any]) -> T:
    try:
        return cls(**kwargs)
    except TypeError as err:  # an unknown or missing key: name the section
        raise ValueError(
            f"Bad config section '{section}' for {getattr(cls, '__name__', cls)}: {err}"
        ) from err


def get_encodec_autoencoder(
    encoder_name: str, cfg: DictConfig
) -> tuple[SEANetEncoder, SEANetDecoder]:
    """`seanet` section -> (encoder, decoder); its `encoder`/`decoder` sub-dicts override
    the shared keys for one side (e.g. decoder.trim_right_ratio, final_activation)."""
    if encoder_name != "seanet":
        raise ValueError(f"Unknown autoencoder '{encoder_name}': only 'seanet' exists.")
    kwargs = _section(cfg, "seanet")
    encoder_override = kwargs.pop("encoder", None) or {}
    decoder_override = kwargs.pop("decoder", None) or {}
    encoder = _build(SEANetEncoder, "seanet.encoder", {**kwargs, **encoder_override})
    decoder = _build(SEANetDecoder, "seanet.decoder", {**kwargs, **decoder_override})
    return encoder, decoder


def get_quantizer(quantizer: str, cfg: DictConfig, dimension: int) -> BaseQuantizer:
    """`rvq` section -> ResidualVectorQuantizer; 'no_quant' -> DummyQuantizer."""
    if quantizer == "rvq":
        return _build(
            ResidualVectorQuantizer, "rvq", {"dimension": dimension, **_section(cfg, "rvq")}
        )
    if quantizer == "no_quant":
        return DummyQuantizer(dimension)
    raise ValueError(f"Unknown quantizer '{quantizer}': use 'rvq' or 'no_quant'.")


def get_compression_model(cfg: DictConfig) -> CompressionModel:
    """Build a compression model from a full config (`compression_model: encodec` plus the
    `encodec`, `seanet`, `rvq` sections), such as the `xp.cfg` stored in a hub file.
    Set `interleave_stereo_codebooks.use: true` for a stereo model built on a mono codec."""
    name = cfg.get("compression_model", None)
    if name != "encodec":
        raise ValueError(f"Unknown compression_model '{name}': only 'encodec' exists.")
    kwargs = _section(cfg, "encodec")
    encoder_name = kwargs.pop("autoencoder")
    quantizer_name = kwargs.pop("quantizer")
    encoder, decoder = get_encodec_autoencoder(encoder_name, cfg)
    quantizer = get_quantizer(quantizer_name, cfg, encoder.dimension)
    kwargs.pop("renorm", None)  # older configs
    frame_rate = kwargs["sample_rate"] / encoder.hop_length
    model: CompressionModel = _build(
        EncodecModel,
        "encodec",
        {
            "encoder": encoder,
            "decoder": decoder,
            "quantizer": quantizer,
            "frame_rate": frame_rate,
            **kwargs,
        },
    )
    stereo = cfg.get("interleave_stereo_codebooks", None)
    if stereo is not None and stereo.get("use", False):
        assert isinstance(model, EncodecModel)
        model = InterleaveStereoCompressionModel(
            model, per_timestep=bool(stereo.get("per_timestep", False))
        )
    model.cfg = OmegaConf.create(
        OmegaConf.to_container(cfg, resolve=False)
    )  # stored as-is on export
    return model.to(cfg.get("device", "cpu"))


# The `debug` preset (mirrored by config/model/encodec/debug.yaml).
DEBUG_COMPRESSION_CFG: dict[str, Any] = {
    "compression_model": "encodec",
    "sample_rate": 32000,
    "channels": 1,
    "encodec": {
        "autoencoder": "seanet",
        "quantizer": "rvq",
        "sample_rate": "${sample_rate}",
        "channels": "${channels}",
        "causal": False,
        "renormalize": False,
    },
    "seanet": {
        "dimension": 32,
        "channels": "${channels}",
        "causal": "${encodec.causal}",
        "n_filters": 4,
        "n_residual_layers": 1,
        "ratios": [10, 8, 16],
        "norm": "weight_norm",
        "pad_mode": "constant",
        "lstm": 0,
        "true_skip": True,
        "compress": 2,
        "encoder": {},
        "decoder": {},
    },
    "rvq": {
        "n_q": 4,
        "bins": 400,
        "q_dropout": False,
        "decay": 0.99,
        "kmeans_init": True,
        "kmeans_iters": 2,
        "threshold_ema_dead_code": 2,
    },
}


def get_debug_compression_model(
    device: torch.device | str = "cpu", sample_rate: int = 32000
) -> EncodecModel:
    """The `debug` preset: a tiny deterministic codec for tests and the toy pipeline: mono,
    4 x 400 codebooks, latent dim 32, hop 1280 (25 Hz at 32 kHz), constant padding, no
    LSTM. Random weights (seed 0) and codebooks fitted to the latents of noise, so codes
    are diverse; the global RNG is left untouched. Builds in a fraction of a second."""
    cfg = OmegaConf.create(DEBUG_COMPRESSION_CFG)
    cfg.sample_rate = sample_rate
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = get_compression_model(cfg)
        assert isinstance(model, EncodecModel) and isinstance(
            model.quantizer, ResidualVectorQuantizer
        )
        with torch.no_grad():  # codebooks from latents of noise: diverse codes from the start
            model.quantizer.init_codebooks_(model.encoder(torch.randn(2, 1, 32 * model.hop_length)))
    return model.to(device).eval()


# ---- language model, conditioners, patterns ----
