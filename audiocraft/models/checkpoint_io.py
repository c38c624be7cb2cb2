"""Reading and writing checkpoint files safely: weights-only loads with clear errors
(possibly unsafe vs corrupt), atomic saves, audiocraft hub files and their inert configs.
Every checkpoint read and write of the package goes through here (``loaders.py``
re-exports these names)."""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig

from ..utils.atomic import atomic_path
from ..utils.safe_config import UntrustedConfigError, inert_config
from .errors import CheckpointError, MissingWeightsError


def torch_load(path: str | os.PathLike, mmap: bool = False) -> Any:
    """`torch.load(weights_only=True)` on CPU, turning unreadable files into a clear
    `CheckpointError`: a file the weights-only loader refuses (it holds code or Python
    objects) is reported as possibly unsafe, a truncated or corrupt one as such. `mmap`
    maps the tensors instead of reading them (to look at a large file's metadata)."""
    if not Path(path).is_file():
        raise MissingWeightsError(f"Checkpoint {path} does not exist.")
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except (RuntimeError, EOFError, OSError, pickle.UnpicklingError, zipfile.BadZipFile,
            ValueError, KeyError) as err:
        text = str(err).lower()
        if isinstance(err, pickle.UnpicklingError) and "unsupported operand" in text:
            # Bytes that are no pickle torch writes: random data, or an old-protocol
            # pickle. Either way not a checkpoint; torch's text is not passed on.
            raise CheckpointError(
                f"Could not read checkpoint {path}: it is not a file torch.save writes. The "
                "file is probably truncated or corrupt: download or copy it again (and "
                "delete it if it came from a source you do not trust).") from None
        if isinstance(err, pickle.UnpicklingError) and "weights only load failed" in text \
                and "global" in text:
            # The file names a Python object to build (a class, a function): refused as
            # possibly unsafe. torch's own text suggests weights_only=False: never pass
            # that on.
            raise CheckpointError(
                f"Refused to load {path}: it contains code or Python objects that a "
                "weights-only load does not accept, so it may be unsafe to open. Use "
                "checkpoints from a source you trust that hold only tensors and plain "
                "containers (an audiocraft export, a state dict saved with torch.save)."
            ) from None
        raise CheckpointError(
            f"Could not read checkpoint {path}: {_first_line(err)}. The file is probably "
            "truncated or corrupt (an interrupted download?): download or copy it again."
        ) from None


def _first_line(err: BaseException) -> str:
    """The first line of an error's text, without torch's advice to load unsafely."""
    line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return line.split(" In PyTorch 2.6")[0]


def torch_save(obj: Any, path: str | os.PathLike) -> Path:
    """`torch.save(obj, path)` atomically: a temporary file in the same folder, flushed to
    disk and renamed into place, so a kill never leaves a truncated file (nor loses the
    file it replaces). `obj` should hold tensors and plain containers only, so that
    :func:`torch_load` reads it back."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as tmp:
        torch.save(obj, tmp)
    return target


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


def checkpoint_config(text: Any, source: str = "checkpoint") -> DictConfig:
    """The config stored in a checkpoint (`xp.cfg`, YAML text or a dict), inert: OmegaConf
    resolvers (`${oc.env:VAR}` and the like) stay literal text and never read the
    environment; references to the config's own keys (`${sample_rate}`) still work. A
    config that is not a mapping or is absurdly large raises CheckpointError."""
    if not isinstance(text, (str, dict)):
        raise CheckpointError(f"{source}: xp.cfg must be YAML text, got {type(text).__name__}.")
    try:
        return inert_config(text)
    except UntrustedConfigError as err:
        raise CheckpointError(f"{source}: xp.cfg cannot be used: {err}") from None




def save_hub_file(pkg: dict[str, Any], path: str | os.PathLike) -> Path:
    """Write `pkg`, a hub-file dict as :func:`read_hub_file` returns it (tensors, plain
    Python values and strings only, so it reads back with weights_only=True), to `path`."""
    if not isinstance(pkg, dict) or not (
            "pretrained" in pkg or {"best_state", "xp.cfg"} <= set(pkg)):
        raise CheckpointError("a hub file is a dict with 'best_state' and 'xp.cfg' (or a "
                              "'pretrained' pointer): read it with read_hub_file first.")
    torch_save(pkg, Path(path))
    return Path(path)
