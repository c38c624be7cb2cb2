"""The hub files of the toy recipes (``toy_build``): their checksums, the copy of the
model a refinement starts from (``--tune-from``, ``--codec-from``), and shipping them with
the record of how they were made (``checksums.json``)."""

from __future__ import annotations

import json
import platform
import shutil
from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf

from ..models import hub
from ..models.loaders import checkpoint_config, read_hub_file, save_hub_file

HUB_FILES = ("state_dict.bin", "compression_state_dict.bin")


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    return hub.file_sha256(path)


def copy_parent(model: str, work: Path, flag: str = "--tune-from") -> tuple[Path, dict[str, Any]]:
    """Copy the hub files of `model` (a shipped model's name, or a folder; an LM shipped
    with ``--ship-lm-only`` brings the codec it records) into ``WORK/parent`` once, and
    return that folder and the parent's record: its name, the files' checksums and its
    own ``checksums.json`` (None if it has none). Later invocations reuse the copy, so a
    resumed refinement starts from the same weights even if `model` has changed since
    (as the shipped files do when the refined model is shipped over them)."""
    dst = work / "parent"
    record_path = dst / "parent.json"
    if record_path.is_file():
        return dst, json.loads(record_path.read_text())
    src = hub.SHIPPED_MODELS.get(model, Path(model))
    found = {name: hub.find_file(model, name) for name in HUB_FILES}
    missing = [name for name, path in found.items() if path is None]
    if missing:
        raise SystemExit(f"{flag} {model}: {', '.join(missing)} not found in {src}; "
                         "give 'toy' or a folder holding both hub files (or an LM shipped "
                         "with --ship-lm-only, whose checksums.json names its codec).")
    checks = src / "checksums.json"
    parent_record = json.loads(checks.read_text()) if checks.is_file() else None
    dst.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, path in found.items():
        assert path is not None
        shutil.copyfile(path, dst / name)
        files[name] = {"sha256": sha256(dst / name), "bytes": (dst / name).stat().st_size}
    listed = files if parent_record is None else parent_record.get("files", files)
    if {name: files.get(name) for name in listed} != listed:
        shutil.rmtree(dst)
        raise SystemExit(f"{flag} {model}: {checks} does not describe the files beside "
                         "it (other checksums): restore them, or remove checksums.json to "
                         "refine the files without their record.")
    record = {"model": str(model), "files": files, "record": parent_record}
    record_path.write_text(json.dumps(record, indent=1) + "\n")  # last: marks a whole copy
    return dst, record


def write_hub_file(src: Path, dst: Path, dtype: str = "float32",
                   cfg_coef: float | list[float] | None = None) -> None:
    """Copy the hub file `src` to `dst`: with ``dtype="float16"`` its floating-point
    weights in float16 (half the bytes; the loaders build the model in float32 and cast
    them back; a tensor whose values float16 cannot hold, beyond +-65504 such as a
    codebook's usage counts, stays in float32); with `cfg_coef` (an LM's file) that
    guidance as the model's default, ``classifier_free_guidance.inference_coef``."""
    if dtype == "float32" and cfg_coef is None:
        shutil.copyfile(src, dst)
        return

    def half(v: torch.Tensor) -> torch.Tensor:
        if not v.is_floating_point():
            return v
        h = v.half()
        return h if bool(torch.isfinite(h).all()) else v

    pkg = read_hub_file(src)  # weights_only: a shipped file never runs code
    if dtype == "float16":
        state = {k: half(v) for k, v in pkg["best_state"].items()}
        if cfg_coef is None and all(state[k] is v for k, v in pkg["best_state"].items()):
            shutil.copyfile(src, dst)  # already stored so: the same bytes
            return
        pkg["best_state"] = state
    if cfg_coef is not None:
        cfg = checkpoint_config(pkg["xp.cfg"], str(src))
        OmegaConf.update(cfg, "classifier_free_guidance.inference_coef", cfg_coef, merge=False)
        pkg["xp.cfg"] = OmegaConf.to_yaml(cfg)
    save_hub_file(pkg, dst)


def same_weights(a: Path, b: Path) -> bool:
    """Whether two hub files hold the same weights (whatever their storage dtypes: an
    export holds in float32 the float16 weights it was loaded from)."""
    sa, sb = read_hub_file(a)["best_state"], read_hub_file(b)["best_state"]
    return sa.keys() == sb.keys() and all(
        torch.equal(sa[k].to(torch.float32), sb[k].to(torch.float32)) for k in sa)


def ship(lm_export: Path, out: Path, recipe: dict[str, Any], timings: dict[str, float],
         lm_dtype: str = "float32", codec_dtype: str = "float32",
         cfg_coef: float | list[float] | None = None, lm_only: bool = False) -> Path:
    """Copy the hub files into `out` (the LM's weights in `lm_dtype` and `cfg_coef` as its
    default guidance, the codec's in `codec_dtype`) and record their checksums with the
    recipe. With `lm_only` the LM alone: a model shipped beside `toy` that shares its codec
    (`toy-melody`; `hub.find_file` falls back to toy's), whose checksum is recorded as
    ``shares_codec_of``: the codec must be the one the LM was trained on. A codec file
    already in `out` that holds the same weights is kept as it is (``codec_file_kept``):
    a model shipped beside it (``toy-melody``) names that file's checksum."""
    out.mkdir(parents=True, exist_ok=True)
    files = {}
    notes: dict[str, Any] = {}
    if lm_only:
        codec = lm_export / "compression_state_dict.bin"
        toy_codec = hub.TOY_MODEL_DIR / "compression_state_dict.bin"
        if not codec.is_file() or not same_weights(codec, toy_codec):
            raise SystemExit(f"--ship-lm-only: the codec in {lm_export} is not toy's "
                             f"({toy_codec}): ship both files instead.")
        notes = {"shares_codec_of": {"model": "toy", "file": toy_codec.name,
                                     "sha256": sha256(toy_codec)}}
        stale = out / "compression_state_dict.bin"
        if stale.is_file():
            stale.unlink()
    for name in HUB_FILES[:1] if lm_only else HUB_FILES:
        src = lm_export / name
        if not src.is_file():
            raise SystemExit(f"{src} is missing: the LM stage exports both hub files.")
        is_lm = name == "state_dict.bin"
        if not is_lm and (out / name).is_file() and same_weights(src, out / name):
            notes["codec_file_kept"] = (f"the {name} already here held these weights: kept "
                                        "as it was, so the models that share it still match")
        else:
            write_hub_file(src, out / name, lm_dtype if is_lm else codec_dtype,
                           cfg_coef if is_lm else None)
        files[name] = {"sha256": sha256(out / name), "bytes": (out / name).stat().st_size}
    record = {
        "files": files,
        **notes,
        "recipe": recipe,
        "wall_time_s": timings,
        "software": {"python": platform.python_version(), "torch": _torch_version()},
    }
    path = out / "checksums.json"
    path.write_text(json.dumps(record, indent=1) + "\n")
    return path


def _torch_version() -> str:
    return str(torch.__version__)
