"""Hugging Face transformers EnCodec config and key maps <-> ours.

Part of the checkpoint formats of `loaders.py` (which exposes the entry points
`load_hf_encodec` and `export_compression_hf`); kept in its own file because the maps are
long. A transformers EnCodec keeps weight-normed convs as `*.conv.weight_{g,v}` (or the
newer `parametrizations.weight.original{0,1}`) under `encoder.layers.N` /
`decoder.layers.N`, and codebooks as `quantizer.layers.N.codebook.*`; ours follow the
audiocraft layout (`encoder.model.N.conv.conv.*`, `quantizer.vq.layers.N._codebook.*`).
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
from omegaconf import DictConfig

from ..modules.conv import StreamableConvTranspose1d
from ..utils.safe_config import inert_config
from .builders import dict_from_config
from .encodec import EncodecModel
from .errors import CheckpointError

_HF_WEIGHT_RENAMES = {
    "parametrizations.weight.original0": "weight_g",
    "parametrizations.weight.original1": "weight_v",
}


# transformers' EncodecConfig defaults, for config.json files written without some keys.
_HF_ENCODEC_DEFAULTS: dict[str, Any] = {
    "audio_channels": 1, "sampling_rate": 24000, "hidden_size": 128, "num_filters": 32,
    "num_residual_layers": 1, "upsampling_ratios": [8, 5, 4, 2], "norm_type": "weight_norm",
    "kernel_size": 7, "last_kernel_size": 7, "residual_kernel_size": 3, "dilation_growth_rate": 2,
    "use_causal_conv": True, "pad_mode": "reflect", "compress": 2, "num_lstm_layers": 2,
    "trim_right_ratio": 1.0, "codebook_size": 1024, "codebook_dim": None,
    "use_conv_shortcut": True, "normalize": False, "chunk_length_s": None,
    "target_bandwidths": [1.5, 3.0, 6.0, 12.0, 24.0],
}  # fmt: skip


def hf_encodec_to_cfg(hf: dict[str, Any]) -> DictConfig:
    """A transformers `EncodecConfig` dict -> our config (xp.cfg layout)."""
    given = {k: v for k, v in hf.items() if v is not None or k == "chunk_length_s"}
    hf = {**_HF_ENCODEC_DEFAULTS, **given}
    if hf["codebook_dim"] is None:
        hf["codebook_dim"] = hf["hidden_size"]
    if hf.get("chunk_length_s") is not None:
        raise CheckpointError(
            "Chunked EnCodec models (chunk_length_s set, e.g. 48 kHz) are not supported."
        )
    if hf.get("codebook_dim", hf["hidden_size"]) != hf["hidden_size"]:
        raise CheckpointError("EnCodec configs with codebook_dim != hidden_size are not supported.")
    bins = int(hf.get("codebook_size", 1024))
    sample_rate = int(hf["sampling_rate"])
    hop = int(np.prod(hf["upsampling_ratios"]))
    frame_rate = math.ceil(sample_rate / hop)
    bandwidth = max(hf.get("target_bandwidths") or [1.5])
    n_q = int(1000 * bandwidth // (frame_rate * 10))  # codebooks stored: the rule transformers uses
    return inert_config(  # its strings come from a file: data, never resolver calls
        {
            "compression_model": "encodec",
            "sample_rate": sample_rate,
            "channels": int(hf["audio_channels"]),
            "encodec": {
                "autoencoder": "seanet",
                "quantizer": "rvq",
                "sample_rate": sample_rate,
                "channels": int(hf["audio_channels"]),
                "causal": bool(hf["use_causal_conv"]),
                "renormalize": bool(hf.get("normalize", False)),
            },
            "seanet": {
                "dimension": int(hf["hidden_size"]),
                "channels": int(hf["audio_channels"]),
                "causal": bool(hf["use_causal_conv"]),
                "n_filters": int(hf["num_filters"]),
                "n_residual_layers": int(hf["num_residual_layers"]),
                "ratios": list(hf["upsampling_ratios"]),
                "activation": "ELU",
                "activation_params": {"alpha": 1.0},
                "norm": hf["norm_type"],
                "kernel_size": int(hf["kernel_size"]),
                "residual_kernel_size": int(hf["residual_kernel_size"]),
                "last_kernel_size": int(hf["last_kernel_size"]),
                "dilation_base": int(hf["dilation_growth_rate"]),
                "pad_mode": hf["pad_mode"],
                "true_skip": not hf["use_conv_shortcut"],
                "compress": int(hf["compress"]),
                "lstm": int(hf["num_lstm_layers"]),
                "disable_norm_outer_blocks": 0,
                "encoder": {},
                "decoder": {"trim_right_ratio": float(hf.get("trim_right_ratio", 1.0))},
            },
            "rvq": {
                "n_q": n_q,
                "bins": bins,
                "q_dropout": False,
                "decay": 0.99,
                "kmeans_init": True,
                "kmeans_iters": 50,
                "threshold_ema_dead_code": 2,
            },
        }
    )


def hf_key_to_ours(key: str, model: EncodecModel) -> str:
    for old, new in _HF_WEIGHT_RENAMES.items():
        key = key.replace(old, new)
    match = re.fullmatch(r"quantizer\.layers\.(\d+)\.codebook\.(\w+)", key)
    if match:
        return f"quantizer.vq.layers.{match[1]}._codebook.{match[2]}"
    match = re.fullmatch(
        r"(encoder|decoder)\.layers\.(\d+)\.((?:block\.\d+\.|shortcut\.)?)(conv|norm|lstm)\.(.+)",
        key,
    )
    if not match:
        raise CheckpointError(f"Unexpected key in the transformers EnCodec weights: {key}")
    side, index, sub, kind, rest = match.groups()
    path = f"{side}.model.{index}.{sub}"
    if kind == "lstm":
        return f"{path}lstm.{rest}"
    module = model.get_submodule(path.rstrip("."))
    inner = "convtr" if isinstance(module, StreamableConvTranspose1d) else "conv"
    return f"{path}{inner}.{inner if kind == 'conv' else 'norm'}.{rest}"


def our_key_to_hf(key: str) -> str:
    key = re.sub(
        r"^quantizer\.vq\.layers\.(\d+)\._codebook\.", r"quantizer.layers.\1.codebook.", key
    )
    key = re.sub(r"^(encoder|decoder)\.model\.", r"\1.layers.", key)
    key = re.sub(r"\.(conv|convtr)\.(conv|convtr)\.", ".conv.", key)
    key = re.sub(r"\.(conv|convtr)\.norm\.", ".norm.", key)
    for hf_name, ours in _HF_WEIGHT_RENAMES.items():
        key = re.sub(rf"\.{ours}$", f".{hf_name}", key)
    return key


def _hf_bandwidths(n_use: int, n_total: int, bins: int, frame_rate: int) -> list[float]:
    """transformers encodes with floor(bw / (log2(bins) * frame_rate)) codebooks at a
    bandwidth bw, and stores int(bw_max / (10 * frame_rate)) of them: list bandwidths that
    use `n_use` by default and store `n_total`."""
    use = n_use * math.log2(bins) * frame_rate / 1000
    bandwidths = [use]
    if int(1000 * use // (frame_rate * 10)) < n_total:
        bandwidths.append(max(use, n_total * frame_rate * 10 / 1000) + 1e-6)
    return bandwidths


def encodec_to_hf_config(model: EncodecModel, cfg: DictConfig) -> dict[str, Any]:
    """The transformers `EncodecConfig` dict of `model` (whose config is `cfg`); raises a
    ValueError for the options transformers' EnCodec cannot express."""
    seanet = dict_from_config(cfg.seanet)
    decoder = {**seanet, **(seanet.get("decoder") or {})}
    if seanet.get("disable_norm_outer_blocks", 0) or seanet.get("activation", "ELU") != "ELU":
        raise ValueError("transformers' EnCodec needs ELU and normalisation on every block.")
    if decoder.get("final_activation") is not None:
        raise ValueError("transformers' EnCodec has no final activation.")
    if not seanet.get("lstm"):
        raise ValueError("transformers' EnCodec always has an LSTM (seanet.lstm >= 1).")
    frame_rate = math.ceil(model.frame_rate)
    hf = {
        "architectures": ["EncodecModel"],
        "model_type": "encodec",
        "audio_channels": model.channels,
        "sampling_rate": model.sample_rate,
        "chunk_length_s": None,
        "overlap": None,
        "codebook_size": model.cardinality,
        "codebook_dim": seanet["dimension"],
        "hidden_size": seanet["dimension"],
        "num_filters": seanet["n_filters"],
        "num_residual_layers": seanet.get("n_residual_layers", 3),
        "upsampling_ratios": seanet["ratios"],
        "norm_type": seanet.get("norm", "none"),
        "kernel_size": seanet.get("kernel_size", 7),
        "last_kernel_size": seanet.get("last_kernel_size", 7),
        "residual_kernel_size": seanet.get("residual_kernel_size", 3),
        "dilation_growth_rate": seanet.get("dilation_base", 2),
        "use_causal_conv": bool(model.causal),
        "pad_mode": seanet.get("pad_mode", "reflect"),
        "compress": seanet.get("compress", 2),
        "num_lstm_layers": seanet["lstm"],
        "trim_right_ratio": decoder.get("trim_right_ratio", 1.0),
        "use_conv_shortcut": not seanet.get("true_skip", True),
        "normalize": bool(model.renormalize),
        "target_bandwidths": _hf_bandwidths(
            model.num_codebooks, model.total_codebooks, model.cardinality, frame_rate
        ),
    }
    if hf["norm_type"] not in ("weight_norm", "time_group_norm"):
        raise ValueError("transformers' EnCodec needs norm 'weight_norm' or 'time_group_norm'.")
    return hf
