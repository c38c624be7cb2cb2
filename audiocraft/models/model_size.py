"""Model sizes, estimated from a config before anything is built.

A config is a few lines of text; the model it describes can need any amount of memory.
The builders (``builders.get_lm_model``, ``builders.get_compression_model``,
``hf_musicgen.build_lm_from_hf``) call the checks here first, so a config asking for an
absurd model fails at once with a message instead of allocating gigabytes (or failing in
the allocator), and a zero or negative size or rate is refused before it divides by zero.

The cap is :func:`max_params`: ``set_max_params(n)`` for this process, else the
environment variable ``AUDIOCRAFT_MAX_PARAMS``, else :data:`DEFAULT_MAX_PARAMS` (above the
largest MusicGen, 3.3 billion parameters).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

DEFAULT_MAX_PARAMS = 4_000_000_000
MAX_PARAMS_ENV = "AUDIOCRAFT_MAX_PARAMS"
_TEXT_ENCODER_DIM = 1024  # the widest T5 output (t5-large/3b/11b) a text conditioner projects
_MAX_RATIOS = 32

_override: int | None = None


class ModelTooLargeError(ValueError):
    """A config asks for more parameters than the cap (:func:`max_params`) allows."""


def set_max_params(count: int | None) -> None:
    """Set the cap for this process (None: back to ``AUDIOCRAFT_MAX_PARAMS`` or the default)."""
    global _override
    if count is not None and (isinstance(count, bool) or int(count) != count or count < 1):
        raise ValueError(f"The parameter cap must be a whole number >= 1, got {count!r}.")
    _override = None if count is None else int(count)


def max_params() -> int:
    """The largest model (in parameters) a config may ask for."""
    if _override is not None:
        return _override
    text = os.environ.get(MAX_PARAMS_ENV, "").strip()
    if not text:
        return DEFAULT_MAX_PARAMS
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not (math.isfinite(value) and value >= 1):
        raise ValueError(f"{MAX_PARAMS_ENV}={text!r} is not a parameter count: set it to a "
                         "number such as 4e9, or unset it for the default.")
    return int(value)


def positive_int(section: Mapping[str, Any], key: str, where: str,
                 default: Any = None) -> int:
    """``section[key]`` as an int >= 1, or a ValueError naming ``where.key``."""
    value = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value) \
            or value < 1:
        raise ValueError(f"Config {where}.{key} must be a whole number >= 1, got {value!r}.")
    return int(value)


def positive_number(section: Mapping[str, Any], key: str, where: str,
                    default: Any = None) -> float:
    """``section[key]`` as a finite float > 0, or a ValueError naming ``where.key``."""
    value = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value) or value <= 0:
        raise ValueError(f"Config {where}.{key} must be a number > 0, got {value!r}.")
    return float(value)


def check_size(count: int, what: str, details: str) -> None:
    """Raise ``ModelTooLargeError`` when ``count`` parameters exceed the cap."""
    cap = max_params()
    if count > cap:
        raise ModelTooLargeError(
            f"The config asks for a {what} of about {count:.3g} parameters ({details}; "
            f"{4 * count / 1e9:.3g} GB in float32), over the cap of {cap:.3g}. If you trust "
            f"this config and have the memory, raise the cap: {MAX_PARAMS_ENV}={count:.2g} "
            "in the environment, audiocraft.models.model_size.set_max_params(...) in "
            "Python, or --max-params in the app.")


def lm_params(dim: int, num_layers: int, hidden_scale: float, n_q: int, card: int,
              cross_attention: bool = True, conditioner_params: int = 0) -> int:
    """Parameters of a transformer LM over ``n_q`` codebooks of ``card`` codes: embeddings
    and heads per codebook, attention (self and cross) and feed-forward per layer."""
    per_layer = 4 * dim * dim + 2 * int(hidden_scale * dim) * dim + 4 * dim
    if cross_attention:
        per_layer += 4 * dim * dim + 2 * dim
    tables = n_q * (card + 1) * dim + n_q * card * dim
    return num_layers * per_layer + tables + conditioner_params


def check_lm_config(section: Mapping[str, Any], conditioners: Mapping[str, Any] | None = None,
                    where: str = "transformer_lm") -> int:
    """Check the sizes of an LM section (``dim``, ``num_heads``, ``num_layers``,
    ``hidden_scale``, ``n_q``, ``card``) and its conditioners against the cap, before
    building. Returns the estimated parameter count."""
    dim = positive_int(section, "dim", where)
    positive_int(section, "num_heads", where)
    layers = positive_int(section, "num_layers", where)
    scale = positive_number(section, "hidden_scale", where, default=4)
    n_q = positive_int(section, "n_q", where)
    card = positive_int(section, "card", where)
    extra = 0
    for name, cond in (conditioners or {}).items():
        if not isinstance(cond, Mapping):
            continue
        extra += _TEXT_ENCODER_DIM * dim
        lut = cond.get("lut") if cond.get("model") == "lut" else None
        if isinstance(lut, Mapping):
            extra += (positive_int(lut, "n_bins", f"conditioners.{name}.lut")
                      * positive_int(lut, "dim", f"conditioners.{name}.lut", default=dim))
    count = lm_params(dim, layers, scale, n_q, card, True, extra)
    check_size(count, "language model",
               f"dim={dim}, num_layers={layers}, hidden_scale={scale:g}, n_q={n_q}, card={card}")
    return count


def check_compression_config(cfg: Mapping[str, Any]) -> int:
    """Check an EnCodec config's rates and sizes (``sample_rate``, ``channels``, the
    ``seanet`` and ``rvq`` sections) against the cap, before building. ``cfg`` holds the
    resolved ``encodec``, ``seanet`` and ``rvq`` sections (plain dicts). Returns the
    estimated parameter count."""
    encodec, seanet = cfg.get("encodec") or {}, cfg.get("seanet") or {}
    positive_number(encodec, "sample_rate", "encodec")
    channels = positive_int(encodec, "channels", "encodec", default=1)
    dimension = positive_int(seanet, "dimension", "seanet", default=128)
    filters = positive_int(seanet, "n_filters", "seanet", default=32)
    residual = positive_int(seanet, "n_residual_layers", "seanet", default=1)
    compress = positive_int(seanet, "compress", "seanet", default=2)
    kernel = positive_int(seanet, "kernel_size", "seanet", default=7)
    ratios = seanet.get("ratios", [8, 5, 4, 2])
    if not isinstance(ratios, list) or not 0 < len(ratios) <= _MAX_RATIOS:
        raise ValueError(f"Config seanet.ratios must be a list of 1 to {_MAX_RATIOS} whole "
                         f"numbers >= 1, got {ratios!r}.")
    for i in range(len(ratios)):
        positive_int({"ratio": ratios[i]}, "ratio", f"seanet.ratios[{i}]")
    lstm = seanet.get("lstm", 0)
    if isinstance(lstm, bool) or not isinstance(lstm, int) or lstm < 0:
        raise ValueError(f"Config seanet.lstm must be a whole number >= 0, got {lstm!r}.")
    count = channels * filters * kernel
    width = filters
    for ratio in ratios:
        hidden = max(width // compress, 1)
        count += residual * (3 * width * hidden + hidden * width) + width * 2 * width * 2 * ratio
        width *= 2
    count += lstm * 8 * width * width + width * dimension * kernel
    count *= 2  # the decoder mirrors the encoder
    rvq = cfg.get("rvq") or {}
    if cfg.get("encodec", {}).get("quantizer", "rvq") == "rvq":
        count += (positive_int(rvq, "n_q", "rvq", default=8)
                  * positive_int(rvq, "bins", "rvq", default=1024) * dimension)
    check_size(count, "compression model",
               f"n_filters={filters}, ratios={ratios}, dimension={dimension}, "
               f"rvq n_q={rvq.get('n_q')}, bins={rvq.get('bins')}")
    return count
