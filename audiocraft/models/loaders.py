"""Checkpoint formats: the only module that reads or writes model files.

Formats: audiocraft hub files (`state_dict.bin`, `compression_state_dict.bin`) and
Hugging Face transformers folders (`config.json` + weights), from a local path or the HF
cache, with no network. Every load uses `torch.load(weights_only=True)`.
"""

from __future__ import annotations

import json
import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import safetensors
import safetensors.torch
import torch

# ---- shared: resolving names and paths ----

HF_WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")


class CheckpointError(ValueError):
    """A checkpoint file exists but cannot be used (truncated, corrupt or of the wrong kind)."""


class MissingWeightsError(FileNotFoundError):
    """No weights were found for a name or path; the message lists where we looked."""


def hf_cache_dir() -> Path:
    """The Hugging Face hub cache folder: `$HF_HUB_CACHE`, else `$HF_HOME/hub`, else
    `~/.cache/huggingface/hub` (the same rule as `huggingface_hub`)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "huggingface"
    )
    return Path(home).expanduser() / "hub"


def _hf_cache_repo(repo_id: str) -> Path:
    return hf_cache_dir() / ("models--" + repo_id.replace("/", "--"))


def candidate_locations(name_or_path: str | os.PathLike) -> list[Path]:
    """Every place `resolve_hf_folder` looks for `name_or_path`, in order (for error messages)."""
    places = [Path(name_or_path).expanduser()]
    name = str(name_or_path)
    if _looks_like_repo_id(name):
        places.append(_hf_cache_repo(name) / "snapshots")
    return places


def _looks_like_repo_id(name: str) -> bool:
    parts = name.split("/")
    return len(parts) == 2 and all(parts) and not name.startswith((".", "/", "~"))


def resolve_hf_folder(name_or_path: str | os.PathLike, revision: str = "main") -> Path | None:
    """Find a local folder for a model, without network.

    Args:
        name_or_path: a local folder, or a hub id `ORG/NAME` looked up in the HF cache
            (`<cache>/models--ORG--NAME/snapshots/<rev>/`, `<rev>` read from `refs/<revision>`;
            with no refs file, the only snapshot or the most recently modified one).
        revision: the ref name (branch or tag) to read under `refs/`.
    Returns:
        The folder, or None when nothing local matches (`candidate_locations` says where
        we looked, for the error message).
    """
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path
    name = str(name_or_path)
    if not _looks_like_repo_id(name):
        return None
    repo = _hf_cache_repo(name)
    snapshots = repo / "snapshots"
    ref_file = repo / "refs" / revision
    if ref_file.is_file():
        folder = snapshots / ref_file.read_text().strip()
        if folder.is_dir():
            return folder
    if (snapshots / revision).is_dir():  # a commit hash given as revision
        return snapshots / revision
    if snapshots.is_dir():
        found = [p for p in snapshots.iterdir() if p.is_dir()]
        found.sort(key=lambda p: p.stat().st_mtime)
        if found:
            return found[-1]
    return None


def find_file(name_or_path: str | os.PathLike, filename: str) -> Path | None:
    """`name_or_path` itself if it is a file, else `filename` inside the folder that
    `resolve_hf_folder` finds (local folder or HF cache snapshot), else None."""
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path
    folder = resolve_hf_folder(name_or_path)
    if folder is not None and (folder / filename).is_file():
        return folder / filename
    return None


def missing_weights_message(name_or_path: str | os.PathLike, wanted: str) -> str:
    """A user-facing message for weights we could not find: where we looked, how to get them."""
    places = "\n".join(f"  - {p}" for p in candidate_locations(name_or_path))
    name = str(name_or_path)
    fetch = (
        f"  huggingface-cli download {name}   (on a machine with network; then copy the "
        f"cache folder {_hf_cache_repo(name).name} into {hf_cache_dir()})\n"
        if _looks_like_repo_id(name)
        else ""
    )
    return (
        f"Could not find {wanted} for '{name}'. Looked in:\n{places}\n"
        f"No network is used. To get the weights:\n{fetch}"
        "  or set HF_HOME (or HF_HUB_CACHE) to the cache that holds them,\n"
        "  or pass the path of a local folder or file instead of a name."
    )


def torch_load(path: str | os.PathLike) -> Any:
    """`torch.load(weights_only=True)` on CPU, turning unreadable files into a clear
    `CheckpointError` (a truncated download is the usual cause)."""
    if not Path(path).is_file():
        raise MissingWeightsError(f"Checkpoint {path} does not exist.")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (
        RuntimeError, EOFError, OSError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError
    ) as err:
        raise CheckpointError(
            f"Could not read checkpoint {path}: {err}. The file is probably truncated or "
            "corrupt (an interrupted download?): download or copy it again."
        ) from err


def read_hub_file(path: str | os.PathLike) -> dict[str, Any]:
    """Read an audiocraft hub file (`state_dict.bin`, `compression_state_dict.bin`).

    Returns:
        the dict: either `{'best_state': state_dict, 'xp.cfg': YAML str, 'version', 'exported'}`
        or a pointer `{'pretrained': 'ORG/NAME', ...}` (a compression model published elsewhere).
    Raises:
        CheckpointError: the file is truncated, corrupt, or not a hub file.
    """
    pkg = torch_load(path)
    if not isinstance(pkg, dict) or not (
        "pretrained" in pkg or ("best_state" in pkg and "xp.cfg" in pkg)
    ):
        keys = sorted(pkg)[:8] if isinstance(pkg, dict) else type(pkg).__name__
        raise CheckpointError(
            f"{path} is not an audiocraft hub file: expected a dict with 'best_state' and "
            f"'xp.cfg' (or a 'pretrained' pointer), got {keys}."
        )
    return pkg


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


# ---- compression model ----

# ---- language model ----
