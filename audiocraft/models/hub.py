"""Where model weights are found, with no network: local paths, the Hugging Face hub
cache, and the models shipped with the package (`toy`, and `toy-melody`: the toy LM
with a melody conditioner, whose folder holds only its LM and which shares `toy`'s
codec). Reading the files is `loaders.py`'s job; this module only finds them and words
the error when it cannot.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

# `toy`: the model shipped with the package (built by scripts/build_toy_model.py).
TOY_MODEL_DIR = Path(__file__).resolve().parent.parent / "assets" / "toy"
# `toy-melody`: its LM fine-tuned with a melody conditioner (scripts/build_toy_melody.py).
TOY_MELODY_MODEL_DIR = TOY_MODEL_DIR.parent / "toy-melody"
# Name -> folder of the models shipped with the package. A file a shipped folder lacks
# (toy-melody's codec) is toy's.
SHIPPED_MODELS = {"toy": TOY_MODEL_DIR, "toy-melody": TOY_MELODY_MODEL_DIR}

# Models that take a melody (`generate_with_chroma`, the CLI's --melody, the app's melody
# box): a chroma conditioner, or (MusicGen-Style) a style conditioner fed the same way.
MELODY_MODELS = (
    "toy-melody",  # shipped with the package: works offline
    "facebook/musicgen-melody", "facebook/musicgen-melody-large",
    "facebook/musicgen-stereo-melody", "facebook/musicgen-stereo-melody-large",
    "facebook/musicgen-style",
)


def no_melody_message(name: str) -> str:
    """Why the model ``name`` refuses a melody, and which models take one."""
    return (
        f"The model '{name}' has no melody conditioner, so it cannot follow a melody: remove "
        f"the melody, or use a model that takes one: {', '.join(MELODY_MODELS)} (style "
        "audio for the last), or a model trained with conditioner=chroma2music or "
        "style2music.")


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
    `resolve_hf_folder` finds (local folder or HF cache snapshot), else None. A shipped
    model's name (`SHIPPED_MODELS`) is its folder, and `toy`'s for the files it lacks; a
    folder shipped LM-only by the toy recipe takes its codec from the model its
    `checksums.json` names (`shares_codec_of`), if that codec is still the recorded one."""
    name = str(name_or_path)
    shipped = TOY_MODEL_DIR if name == "toy" else SHIPPED_MODELS.get(name)
    if shipped is not None:
        for place in (shipped, TOY_MODEL_DIR):
            if (place / filename).is_file():
                return place / filename
        return None
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path
    folder = resolve_hf_folder(name_or_path)
    if folder is not None and (folder / filename).is_file():
        return folder / filename
    if folder is not None:
        return _shared_file(folder, filename)
    return None


def _shared_file(folder: Path, filename: str) -> Path | None:
    """The file a folder shipped LM-only (``--ship-lm-only``: its ``checksums.json``
    records ``shares_codec_of``) takes from the shipped model it names, when that file
    is still the one recorded (same SHA-256); else None."""
    try:
        record = json.loads((folder / "checksums.json").read_text())
        shared = record["shares_codec_of"]
        model, wanted, digest = str(shared["model"]), str(shared["file"]), str(shared["sha256"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    place = SHIPPED_MODELS.get(model)
    if wanted != filename or place is None or not (place / filename).is_file():
        return None
    return place / filename if file_sha256(place / filename) == digest else None


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def missing_weights_message(name_or_path: str | os.PathLike, wanted: str) -> str:
    """A user-facing message for weights we could not find: where we looked, how to get them."""
    if str(name_or_path) in SHIPPED_MODELS:
        name = str(name_or_path)
        script = "build_toy_melody.py" if name == "toy-melody" else "build_toy_model.py"
        return (
            f"Could not find {wanted} for '{name}' in "
            f"{TOY_MODEL_DIR if name == 'toy' else SHIPPED_MODELS[name]}: the {name} "
            f"model is not in this checkout. Build it with scripts/{script}, or use 'debug' "
            "(tiny random weights) or the path of a local checkpoint."
        )
    places = "\n".join(f"  - {p}" for p in candidate_locations(name_or_path))
    name = str(name_or_path)
    if not _looks_like_repo_id(name):
        path = Path(name).expanduser()
        found = (f"the folder {path} exists but holds no {wanted}" if path.is_dir()
                 else f"there is no file or folder {path}")
        return (
            f"Could not find {wanted} for '{name}': {found}. Looked in:\n{places}\n"
            "Pass a folder holding the audiocraft hub files (state_dict.bin and "
            "compression_state_dict.bin, e.g. a training run's export/), a transformers "
            "folder (config.json and model.safetensors), or a name such as "
            "facebook/musicgen-small found in the Hugging Face cache."
        )
    return (
        f"Could not find {wanted} for '{name}'. Looked in:\n{places}\n"
        f"No network is used. To get the weights, on a machine with network run\n"
        f"  hf download {name}\n"
        f"(huggingface_hub >= 0.34; older versions: huggingface-cli download {name}), then "
        f"copy its cache folder {_hf_cache_repo(name).name} into {hf_cache_dir()},\n"
        "or set HF_HOME (or HF_HUB_CACHE) to the cache that holds it, or pass the path of "
        "a local folder instead of the name."
    )
