"""Config -> objects, for every model family. The only place a model config is read.

Configs follow the reference audiocraft `xp.cfg` layout (see `config/model/`), so the
files stored inside official checkpoints build with the same functions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import torch
from omegaconf import DictConfig, OmegaConf

from ..modules.conditioners import (
    CONDITIONERS,
    FUSE_METHODS,
    BaseConditioner,
    ConditionerContext,
    ConditionFuser,
    ConditioningProvider,
)
from ..modules.patterns import CodebooksPatternProvider, get_pattern_provider
from ..modules.seanet import SEANetDecoder, SEANetEncoder
from ..quantization import BaseQuantizer, DummyQuantizer, ResidualVectorQuantizer
from .encodec import CompressionModel, EncodecModel, InterleaveStereoCompressionModel
from .lm import LMModel
from .model_size import check_compression_config, check_lm_config

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
            f"Bad config section '{section}' for {getattr(cls, '__qualname__', cls)}: {err}"
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
    # Sizes and rates first: a config cannot allocate gigabytes or divide by zero.
    check_compression_config({"encodec": kwargs, "seanet": _section(cfg, "seanet"),
                              "rvq": dict_from_config(cfg.get("rvq", None) or {})})
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


def get_wrapped_compression_model(compression_model: CompressionModel,
                                  cfg: DictConfig | None) -> CompressionModel:
    """The codec as the LM of `cfg` (its `xp.cfg`) uses it: a mono codec wrapped in
    `InterleaveStereoCompressionModel` when `interleave_stereo_codebooks.use` is true (the
    stereo MusicGen checkpoints ship the mono codec; their LM's config decides), and set
    to `compression_model_n_q` codebooks when that key is given. A codec that is already
    an interleaved wrapper is kept as it is; `cfg` None changes nothing.

    Raises ValueError for a stereo request on a codec that is not mono."""
    if cfg is None:
        return compression_model
    stereo = cfg.get("interleave_stereo_codebooks", None)
    if stereo is not None and stereo.get("use", False) and not isinstance(
            compression_model, InterleaveStereoCompressionModel):
        if not isinstance(compression_model, EncodecModel) or compression_model.channels != 1:
            raise ValueError(
                f"The LM interleaves stereo codebooks (interleave_stereo_codebooks.use: true) "
                f"and needs a mono codec, but its codec has {compression_model.channels} "
                "channels: use the mono codec the LM was trained with.")
        compression_model = InterleaveStereoCompressionModel(
            compression_model, per_timestep=bool(stereo.get("per_timestep", False)))
    n_q = cfg.get("compression_model_n_q", None)
    if n_q is not None:
        compression_model.set_num_codebooks(int(n_q))
    return compression_model


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


def get_conditioner_provider(output_dim: int, cfg: DictConfig) -> ConditioningProvider:
    """Build the conditioners of `cfg.conditioners` (reference layout: `NAME: {model: t5,
    t5: {...}}`), each projecting to `output_dim`: the class registered under `model` in
    `CONDITIONERS` is built by its `from_config` from the section of the same name, with
    `cfg.device` (where they run) and `cfg.dataset.segment_duration` (e.g. the melody
    chroma length) as context.

    Raises UnknownNameError (a ValueError) for a model name nobody registered.
    """
    dataset = cfg.get("dataset", None)
    duration = float(dataset.get("segment_duration", 30.0) or 30.0) if dataset else 30.0
    context = ConditionerContext(device=cfg.get("device", "cpu"), duration=duration)
    section = cfg.get("conditioners", None)
    dict_cfg = {} if section is None else dict_from_config(section)
    provider_args = dict_cfg.pop("args", None) or {}
    for stale in ("merge_text_conditions_p", "drop_desc_p"):  # data options in old configs
        provider_args.pop(stale, None)
    conditioners: dict[str, BaseConditioner] = {}
    for name, cond_cfg in dict_cfg.items():
        model = cond_cfg.get("model") if isinstance(cond_cfg, dict) else None
        cls = CONDITIONERS.get(model, where=f"conditioners.{name}.model")  # type: ignore[arg-type]
        args = dict(cond_cfg.get(model) or {})
        conditioners[name] = _build(
            cls.from_config, f"conditioners.{name}.{model}",
            {"output_dim": output_dim, "args": args, "context": context},
        )
    return _build(
        ConditioningProvider,
        "conditioners.args",
        {"conditioners": conditioners, "device": context.device, **provider_args},
    )


def get_condition_fuser(cfg: DictConfig) -> ConditionFuser:
    """Build the ConditionFuser of `cfg.fuser`: lists `sum`, `cross`, `prepend`, `ignore`,
    `input_interpolate` of attribute names, plus `cross_attention_pos_emb(_scale)`."""
    fuser_cfg = dict_from_config(cfg.fuser) if cfg.get("fuser", None) is not None else {}
    fuse2cond = {k: list(fuser_cfg.pop(k) or []) for k in FUSE_METHODS if k in fuser_cfg}
    return _build(ConditionFuser, "fuser", {"fuse2cond": fuse2cond, **fuser_cfg})


# -- language model and codebook patterns --


def get_codebooks_pattern_provider(n_q: int, cfg: DictConfig) -> CodebooksPatternProvider:
    """`codebooks_pattern` section -> pattern provider: `modeling` names the pattern
    (parallel, delay, unroll, coarse_first, musiclm) and the sub-section of the same name
    holds its arguments (`music_lm` is accepted for musiclm, as in reference configs)."""
    name = cfg.get("modeling", None)
    section = "music_lm" if name == "musiclm" and "musiclm" not in cfg else name
    kwargs = dict_from_config(cfg[section]) if section in cfg and cfg[section] is not None else {}
    return get_pattern_provider(str(name), n_q, **kwargs)


def _guidance_coef(value: Any) -> float | list[float]:
    """``classifier_free_guidance.inference_coef``: a number, or a list (one per codebook)."""
    if OmegaConf.is_config(value):
        value = OmegaConf.to_container(value, resolve=True)
    return value if isinstance(value, list) else float(value)


def get_lm_model(cfg: DictConfig) -> LMModel:
    """Build the LM of a full config (`lm_model: transformer_lm`, sections `transformer_lm`,
    `codebooks_pattern`, `classifier_free_guidance`, `attribute_dropout`, `fuser`,
    `conditioners`), such as the `xp.cfg` of a hub `state_dict.bin`.

    Cross-attention is switched on exactly when the fuser has `cross` conditions. The model
    goes to `cfg.device` (default cpu) in `cfg.dtype` (default float32).
    """
    if cfg.get("lm_model", None) != "transformer_lm":
        raise ValueError(
            f"Unknown lm_model {cfg.get('lm_model', None)!r}: only 'transformer_lm' exists."
        )
    kwargs = _section(cfg, "transformer_lm")
    # Sizes first: a config cannot allocate gigabytes before it is found absurd.
    check_lm_config(kwargs, dict_from_config(cfg.get("conditioners", None) or {}))
    n_q = int(kwargs["n_q"])
    q_modeling = kwargs.pop("q_modeling", None)
    pattern_cfg = cfg.get("codebooks_pattern", None)
    if pattern_cfg is None or pattern_cfg.get("modeling", None) is None:
        if q_modeling is None:
            raise ValueError(
                "Set codebooks_pattern.modeling (e.g. delay) or transformer_lm.q_modeling."
            )
        pattern_cfg = OmegaConf.create(
            {"modeling": q_modeling, "delay": {"delays": list(range(n_q))}}
        )
    guidance = dict_from_config(cfg.get("classifier_free_guidance", None) or {})
    attribute_dropout = dict_from_config(cfg.get("attribute_dropout", None) or {})
    attribute_dropout.pop("args", None)  # options of the dropout, not an attribute kind
    fuser = get_condition_fuser(cfg)
    condition_provider = get_conditioner_provider(int(kwargs["dim"]), cfg)
    kwargs["cross_attention"] = len(fuser.fuse2cond["cross"]) > 0
    model = _build(
        LMModel,
        "transformer_lm",
        {
            "pattern_provider": get_codebooks_pattern_provider(n_q, pattern_cfg),
            "condition_provider": condition_provider,
            "fuser": fuser,
            "cfg_dropout": float(guidance.get("training_dropout", 0.0)),
            "cfg_coef": _guidance_coef(guidance.get("inference_coef", 1.0)),
            "attribute_dropout": attribute_dropout,
            **kwargs,
        },
    )
    # Kept unresolved: hub configs hold interpolations such as ${oc.env:USER}.
    model.cfg = OmegaConf.create(OmegaConf.to_container(cfg, resolve=False))
    dtype = getattr(torch, str(cfg.get("dtype", "float32")))
    return model.to(device=cfg.get("device", "cpu"), dtype=dtype)


# The `debug` preset (mirrored by config/model/lm/debug.yaml): fits the debug codec
# (4 x 400 codebooks) and conditions on text through the offline lookup-table conditioner.
DEBUG_LM_CFG: dict[str, Any] = {
    "lm_model": "transformer_lm",
    "device": "cpu",
    "dtype": "float32",
    "codebooks_pattern": {"modeling": "delay", "delay": {"delays": [0, 1, 2, 3]}},
    "transformer_lm": {
        "dim": 32,
        "num_heads": 2,
        "num_layers": 2,
        "hidden_scale": 2,
        "n_q": 4,
        "card": 400,
        "norm_first": True,
        "bias_ff": False,
        "bias_attn": False,
        "bias_proj": False,
        "activation": "gelu",
        "positional_embedding": "sin",
        "weight_init": "gaussian",
        "depthwise_init": "current",
        "zero_bias_init": True,
    },
    "classifier_free_guidance": {"training_dropout": 0.3, "inference_coef": 3.0},
    "attribute_dropout": {},
    "fuser": {"cross": ["description"], "prepend": [], "sum": [], "input_interpolate": []},
    "conditioners": {
        "description": {
            "model": "lut",
            "lut": {"n_bins": 1024, "dim": 64, "tokenizer": "whitespace", "pad_idx": 0},
        }
    },
}


def get_debug_lm_model(device: torch.device | str = "cpu") -> LMModel:
    """The `debug` preset: a tiny LM (dim 32, 2 layers, 2 heads) over 4 x 400 codes (the
    debug codec), delay pattern, text through a lookup-table conditioner (no download).
    Random weights (seed 0; the global RNG is left untouched), in eval mode. Builds and
    samples a second of audio tokens in a fraction of a second on a CPU."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = get_lm_model(OmegaConf.create(DEBUG_LM_CFG))
    return model.to(device).eval()
