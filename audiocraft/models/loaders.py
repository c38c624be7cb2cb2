"""Checkpoint formats: the only module that reads or writes model files.

Formats: audiocraft hub files (`state_dict.bin`, `compression_state_dict.bin`) and
Hugging Face transformers folders (`config.json` + weights), from a local path or the HF
cache, with no network. Every load uses `torch.load(weights_only=True)`.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Any

import safetensors
import safetensors.torch
import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

from ..utils.atomic import atomic_path, atomic_write_text
from . import builders
from .checkpoint_io import (  # noqa: F401  (re-exported: every checkpoint read goes through here)
    checkpoint_config,
    read_hub_file,
    save_hub_file,
    torch_load,
    torch_save,
)
from .encodec import CompressionModel, EncodecModel, InterleaveStereoCompressionModel
from .errors import CheckpointError, MissingWeightsError
from .hf_encodec import encodec_to_hf_config, hf_encodec_to_cfg, hf_key_to_ours, our_key_to_hf
from .hf_musicgen import build_lm_from_hf, hf_musicgen_codec, is_hf_musicgen_config
from .hub import (  # noqa: F401  (re-exported: callers find weights through loaders)
    TOY_MODEL_DIR,
    candidate_locations,
    find_file,
    hf_cache_dir,
    missing_weights_message,
    resolve_hf_folder,
)
from .lm import LMModel
from .model_size import ModelTooLargeError, check_compression_config, check_lm_config

# ---- shared: reading files (finding them is hub.py's job) ----

HF_WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")


def read_hf_config(folder: str | os.PathLike) -> dict[str, Any]:
    """`config.json` of a Hugging Face transformers model folder, as a dict."""
    path = Path(folder) / "config.json"
    if not path.is_file():
        raise MissingWeightsError(f"{folder} has no config.json: not a transformers model folder.")
    try:
        return dict(json.loads(path.read_text()))
    except json.JSONDecodeError as err:
        raise CheckpointError(f"{path} is not valid JSON ({err}): copy it again.") from err


def read_hf_state_dict(folder: str | os.PathLike) -> dict[str, torch.Tensor]:
    """All tensors of a transformers model folder: `model.safetensors`, sharded safetensors
    (`model.safetensors.index.json`) or `pytorch_model.bin` (read with weights_only=True)."""
    folder = Path(folder)
    try:
        if (folder / "model.safetensors").is_file():
            return dict(safetensors.torch.load_file(str(folder / "model.safetensors")))
        index = folder / "model.safetensors.index.json"
        if index.is_file():
            shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
            state: dict[str, torch.Tensor] = {}
            for shard in shards:
                state.update(safetensors.torch.load_file(str(folder / shard)))
            return state
    except (safetensors.SafetensorError, OSError, KeyError, json.JSONDecodeError) as err:
        raise CheckpointError(
            f"Could not read the weights in {folder}: {err}. The files are probably truncated "
            "(an interrupted download?): download or copy them again."
        ) from err
    if (folder / "pytorch_model.bin").is_file():
        return dict(torch_load(folder / "pytorch_model.bin"))
    raise MissingWeightsError(
        f"{folder} holds no weights (looked for {', '.join(HF_WEIGHT_FILES)})."
    )


# A config may describe more parameters than its file stores (buffers, cross-attention
# counted for every LM): twice the stored count plus this slack is the most it may ask.
_UNSTORED_SLACK = 1_000_000


def _check_config_fits_weights(cfg: DictConfig, state: Any, source: str, kind: str) -> None:
    """Refuse, before building, a hub file whose config asks for far more parameters than
    its `best_state` holds: building would allocate that memory only to find the weights
    do not fit (a small file could ask for gigabytes). Malformed sections are left to the
    builders' own messages; a model over the size cap raises ModelTooLargeError."""
    if not isinstance(state, dict):
        raise CheckpointError(f"{source}: best_state must be a dict of tensors.")
    stored = sum(v.numel() for v in state.values() if isinstance(v, torch.Tensor))
    try:
        if kind == "lm":
            estimate = check_lm_config(
                builders.dict_from_config(cfg.transformer_lm),
                builders.dict_from_config(cfg.get("conditioners", None) or {}))
        else:
            estimate = check_compression_config({
                name: builders.dict_from_config(cfg.get(name, None) or {})
                for name in ("encodec", "seanet", "rvq")})
    except ModelTooLargeError:
        raise
    except (ValueError, KeyError, AttributeError, TypeError):
        return  # the builder reports the bad section by name
    if estimate > 2 * stored + _UNSTORED_SLACK:
        raise CheckpointError(
            f"{source}: its config asks for a model of about {estimate:.3g} parameters but "
            f"the file holds {stored:.3g}: the config does not describe these weights "
            "(refused before building it). Export the model again, or fix its xp.cfg.")


# ---- compression model ----

COMPRESSION_HUB_FILE = "compression_state_dict.bin"


def load_compression_model_ckpt(name_or_path: str | os.PathLike) -> dict[str, Any]:
    """The raw audiocraft hub dict of a compression model: `name_or_path` is the file, a
    folder holding `compression_state_dict.bin`, or a hub id whose HF-cache snapshot holds it.
    Returns `{'best_state', 'xp.cfg', ...}` or a pointer `{'pretrained': 'ORG/NAME'}`."""
    path = find_file(name_or_path, COMPRESSION_HUB_FILE)
    if path is None:
        raise MissingWeightsError(missing_weights_message(name_or_path, COMPRESSION_HUB_FILE))
    return read_hub_file(path)


def load_compression_model(
    name_or_path: str | os.PathLike, device: torch.device | str = "cpu"
) -> CompressionModel:
    """Load a compression model, with no network, in eval mode on `device`.

    `name_or_path` may be:
      - `debug`: the tiny preset of `builders.get_debug_compression_model`;
      - an audiocraft hub file (`compression_state_dict.bin`: weights and `xp.cfg`, or a
        `pretrained` pointer such as `facebook/encodec_32khz`, resolved in turn), or a folder
        holding one;
      - a Hugging Face transformers folder (`config.json` of an EnCodec model, or of a
        MusicGen model whose `audio_encoder` is the codec, + safetensors/bin weights; a
        stereo MusicGen's mono codec comes wrapped in `InterleaveStereoCompressionModel`);
      - a hub id `ORG/NAME` found in the HF cache (`$HF_HOME/hub`), in either format.
    Raises MissingWeightsError (saying where it looked and how to get the weights) or
    CheckpointError (unreadable or mismatching file).
    """
    return _load_compression_model(name_or_path, device, seen=())


def _load_compression_model(
    name_or_path: str | os.PathLike, device: torch.device | str, seen: tuple[str, ...]
) -> CompressionModel:
    name = str(name_or_path)
    if name == "debug":
        return builders.get_debug_compression_model(device)
    hub_file = find_file(name_or_path, COMPRESSION_HUB_FILE)
    if hub_file is not None:
        pkg = read_hub_file(hub_file)
        if "pretrained" in pkg:
            target = str(pkg["pretrained"])
            if target in seen or target == name:
                raise CheckpointError(
                    f"{hub_file} points to '{target}', which points back: a loop."
                )
            try:
                return _load_compression_model(target, device, seen + (name,))
            except MissingWeightsError as err:
                raise MissingWeightsError(
                    f"{hub_file} refers to the codec '{target}'.\n{err}"
                ) from err
        return compression_model_from_hub_dict(pkg, str(hub_file)).to(device)
    folder = resolve_hf_folder(name_or_path)
    if folder is not None and (folder / "config.json").is_file():
        return load_hf_compression_model(folder).to(device)
    raise MissingWeightsError(
        missing_weights_message(
            name_or_path, f"a compression model ({COMPRESSION_HUB_FILE}, or config.json + weights)"
        )
    )


def compression_model_from_hub_dict(
    pkg: dict[str, Any], source: str = "checkpoint"
) -> CompressionModel:
    """Build the model of `pkg['xp.cfg']` and load `pkg['best_state']` (eval mode, CPU)."""
    cfg = checkpoint_config(pkg["xp.cfg"], source)
    cfg.device = "cpu"
    _check_config_fits_weights(cfg, pkg["best_state"], source, "compression")
    model = builders.get_compression_model(cfg)
    _load_state(model, pkg["best_state"], source)
    return model.eval()


def _load_state(model: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = [
        k for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k].shape)
    ]
    if missing or unexpected or wrong:
        raise CheckpointError(
            f"The weights in {source} do not fit the model built from its config: "
            f"missing {missing[:5]}, unexpected {unexpected[:5]}, wrong shapes {wrong[:5]}."
        )
    model.load_state_dict(state)


def load_hf_encodec(folder: str | os.PathLike) -> EncodecModel:
    """Our `EncodecModel` from a transformers folder: an EnCodec model (`model_type: encodec`)
    or a MusicGen model, whose `audio_encoder` sub-config and `audio_encoder.*` weights hold
    the codec. Eval mode, CPU."""
    hf = read_hf_config(folder)
    prefix = ""
    if hf.get("model_type") != "encodec":
        if "audio_encoder" not in hf:
            raise CheckpointError(
                f"{folder}/config.json is neither an EnCodec nor a MusicGen config."
            )
        hf, prefix = hf["audio_encoder"], "audio_encoder."
    cfg = hf_encodec_to_cfg(hf)
    hf_state = {
        k[len(prefix) :]: v for k, v in read_hf_state_dict(folder).items() if k.startswith(prefix)
    }
    n_layers = len({k.split(".")[2] for k in hf_state if k.startswith("quantizer.layers.")})
    if n_layers:
        cfg.rvq.n_q = n_layers
    model = builders.get_compression_model(cfg)
    assert isinstance(model, EncodecModel)
    state = {hf_key_to_ours(k, model): v for k, v in hf_state.items()}
    _load_state(model, state, str(folder))
    # transformers encodes at the first target bandwidth by default: use as many codebooks
    frame_rate = math.ceil(model.sample_rate / model.hop_length)
    bandwidth = min(hf.get("target_bandwidths") or [1000.0])
    n_use = int(bandwidth * 1000 // (math.log2(model.cardinality) * frame_rate))
    model.set_num_codebooks(min(max(n_use, 1), model.total_codebooks))
    return model.eval()


def load_hf_compression_model(folder: str | os.PathLike) -> CompressionModel:
    """The codec of a transformers folder as its MusicGen uses it: `load_hf_encodec`, wrapped
    in `InterleaveStereoCompressionModel` (left/right codebooks interleaved per codebook) for
    a stereo MusicGen (`decoder.audio_channels: 2`). Eval mode, CPU."""
    return hf_musicgen_codec(load_hf_encodec(folder), read_hf_config(folder), str(folder))


def _model_cfg(model: CompressionModel) -> DictConfig:
    cfg = getattr(model, "cfg", None)
    if cfg is None:
        raise ValueError(
            "This model has no config (model.cfg): build it with builders.get_compression_model."
        )
    return OmegaConf.create(cfg) if not isinstance(cfg, DictConfig) else cfg


def export_compression(
    model: CompressionModel, path: str | os.PathLike, version: str = "1.3.0"
) -> Path:
    """Write an audiocraft hub file (`{'best_state', 'xp.cfg', 'version', 'exported'}`) that
    `load_compression_model` (and the reference audiocraft) reads back. A stereo wrapper
    made from an LM's config (`builders.get_wrapped_compression_model`, no config of its
    own) writes its mono codec, as the official stereo folders hold: the LM's config
    wraps it again on loading."""
    if isinstance(model, InterleaveStereoCompressionModel) and getattr(model, "cfg", None) is None:
        model = model.model
    path = Path(path)
    if path.is_dir() or not path.suffix:  # a folder: use the standard file name
        path = path / COMPRESSION_HUB_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    pkg = {
        "best_state": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        "xp.cfg": OmegaConf.to_yaml(_model_cfg(model)),
        "version": version,
        "exported": True,
    }
    torch_save(pkg, path)
    return path


def export_compression_hf(model: EncodecModel, folder: str | os.PathLike) -> Path:
    """Write a transformers EnCodec folder (`config.json` + `model.safetensors`) that
    `transformers.EncodecModel.from_pretrained` and `load_compression_model` read."""
    if not isinstance(model, EncodecModel):
        raise ValueError(
            "Only a mono/stereo EncodecModel (not an interleaved wrapper) exports to transformers."
        )
    hf = encodec_to_hf_config(model, _model_cfg(model))
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {
        our_key_to_hf(k): v.detach().cpu().contiguous() for k, v in model.state_dict().items()
    }
    # Weights first, each file atomically: a kill leaves the old folder or a complete one
    # (at worst new weights beside the old config, which the shape check then refuses).
    with atomic_path(folder / "model.safetensors") as tmp:
        safetensors.torch.save_file(state, str(tmp), metadata={"format": "pt"})
    atomic_write_text(folder / "config.json", json.dumps(hf, indent=2))
    return folder


# ---- language model ----

LM_HUB_FILE = "state_dict.bin"

# Keys of reference LM checkpoints that our modules do not hold as such:
#  - buffers of the reference chroma extractor (window, filter bank), which the melody
#    conditioner computes from their formulas;
#  - `nn.MultiheadAttention` wrappers (`self_attn.mha.*`) of older exports, renamed to the
#    packed `self_attn.in_proj_weight` layout.
_STALE_LM_KEYS = (re.compile(r"^condition_provider\.conditioners\.[^.]+\.chroma\."),)
_RENAMED_LM_KEYS = ((re.compile(r"\.(self_attn|cross_attention)\.mha\."), r".\1."),)


def load_lm_model_ckpt(name_or_path: str | os.PathLike) -> dict[str, Any]:
    """The raw audiocraft hub dict of an LM (`{'best_state', 'xp.cfg', 'version',
    'exported'}`): `name_or_path` is the file, a folder holding `state_dict.bin`, or a hub
    id whose HF-cache snapshot holds it."""
    path = find_file(name_or_path, LM_HUB_FILE)
    if path is None:
        raise MissingWeightsError(missing_weights_message(name_or_path, LM_HUB_FILE))
    pkg = read_hub_file(path)
    if "best_state" not in pkg:
        raise CheckpointError(f"{path} is a pointer ({pkg.get('pretrained')!r}), not LM weights.")
    return pkg


def load_lm_model(
    name_or_path: str | os.PathLike, device: torch.device | str = "cpu"
) -> LMModel:
    """Load a language model (LMModel with its conditioners), with no network, in eval mode.

    `name_or_path` may be:
      - `debug`: the tiny preset of `builders.get_debug_lm_model`;
      - an audiocraft hub file `state_dict.bin` (weights + `xp.cfg`), or a folder or a
        cached hub id (`facebook/musicgen-small`) holding one: the model is rebuilt from
        `xp.cfg` and `best_state` loaded (known stale keys tolerated, see
        `lm_model_from_hub_dict`); preferred when a folder has both formats;
      - a Hugging Face transformers MusicGen / MusicGen-Melody folder or cached hub id.
    Text encoders (T5) are not in these files: they load from the HF cache on first use.
    Raises MissingWeightsError (where it looked, how to get the weights) or CheckpointError.
    """
    name = str(name_or_path)
    if name == "debug":
        return builders.get_debug_lm_model(device)
    hub_file = find_file(name_or_path, LM_HUB_FILE)
    if hub_file is not None:
        return lm_model_from_hub_dict(load_lm_model_ckpt(hub_file), str(hub_file), device)
    if is_hf_musicgen(name_or_path):
        return load_hf_musicgen_lm(name_or_path, device).eval()
    raise MissingWeightsError(
        missing_weights_message(
            name_or_path, f"a language model ({LM_HUB_FILE}, or a transformers MusicGen folder)"
        )
    )


def lm_model_from_hub_dict(
    pkg: dict[str, Any], source: str = "checkpoint", device: torch.device | str = "cpu"
) -> LMModel:
    """Build the LM of `pkg['xp.cfg']` (float32 on `device`) and load `pkg['best_state']`.

    Tolerated: stale keys of reference exports (`_STALE_LM_KEYS`, renamed `_RENAMED_LM_KEYS`)
    and buffers absent from the file (our modules compute them). Anything else that does
    not fit (missing or unknown parameters, wrong shapes) raises CheckpointError.
    """
    cfg = checkpoint_config(pkg["xp.cfg"], source)
    cfg.device = str(device)
    cfg.dtype = "float32"
    _check_config_fits_weights(cfg, pkg["best_state"], source, "lm")
    model = builders.get_lm_model(cfg)
    state = {}
    for key, value in pkg["best_state"].items():
        if any(p.search(key) for p in _STALE_LM_KEYS):
            continue
        for pattern, repl in _RENAMED_LM_KEYS:
            key = pattern.sub(repl, key)
        state[key] = value
    buffers = {name for name, _ in model.named_buffers()}
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state) - buffers)
    unexpected = sorted(set(state) - set(expected))
    wrong = [
        k for k in state if k in expected and tuple(state[k].shape) != tuple(expected[k].shape)
    ]
    if missing or unexpected or wrong:
        raise CheckpointError(
            f"The weights in {source} do not fit the LM built from its xp.cfg: missing "
            f"{missing[:5]}, unexpected {unexpected[:5]}, wrong shapes {wrong[:5]}."
        )
    model.load_state_dict(state, strict=False)
    return model.eval()


def export_lm(
    model: nn.Module,
    cfg: DictConfig | dict[str, Any] | None,
    path: str | os.PathLike,
    version: str = "1.3.0",
) -> Path:
    """Write an audiocraft hub LM file (`{'best_state', 'xp.cfg', 'version', 'exported'}`)
    that `load_lm_model` and the reference audiocraft read back.

    Args:
        model: the LMModel. cfg: its full config (xp.cfg layout); None uses `model.cfg`
            (set by `builders.get_lm_model`). path: a file, or a folder (gets
            `state_dict.bin`). Frozen text encoders are not written, as in the official files.
    """
    cfg = cfg if cfg is not None else getattr(model, "cfg", None)
    if cfg is None:
        raise ValueError(
            "No config for this LM: pass cfg, or build the model with "
            "builders.get_lm_model (which sets model.cfg)."
        )
    cfg = cfg if isinstance(cfg, DictConfig) else OmegaConf.create(cfg)
    path = Path(path)
    if path.is_dir() or not path.suffix:
        path = path / LM_HUB_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    pkg = {
        "best_state": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        "xp.cfg": OmegaConf.to_yaml(cfg),
        "version": version,
        "exported": True,
    }
    torch_save(pkg, path)
    return path


# -- Hugging Face transformers MusicGen / MusicGen-Melody folders --


def is_hf_musicgen(name_or_path: str | os.PathLike) -> bool:
    """True when `name_or_path` resolves (locally or in the HF cache) to a transformers
    MusicGen or MusicGen-Melody folder (config.json with model_type musicgen[_melody])."""
    folder = resolve_hf_folder(name_or_path)
    if folder is None or not (folder / "config.json").is_file():
        return False
    return is_hf_musicgen_config(read_hf_config(folder))


def load_hf_musicgen_lm(
    name_or_path: str | os.PathLike, device: str | torch.device = "cpu"
) -> LMModel:
    """Our LMModel (T5 and, for melody models, chroma conditioners included) from a
    transformers MusicGen/MusicGen-Melody folder or cached hub id, mono or stereo (the
    stereo delay pattern [0, 0, 1, 1, ...] over interleaved codebooks). Cross-attention masks
    padded text, as transformers does. Raises MissingWeightsError when nothing local
    matches."""
    folder = resolve_hf_folder(name_or_path)
    if folder is None:
        raise MissingWeightsError(missing_weights_message(name_or_path, "a MusicGen folder"))
    model = build_lm_from_hf(folder, read_hf_config(folder), read_hf_state_dict(folder))
    return model.to(device)
