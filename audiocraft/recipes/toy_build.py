"""Build the shipped ``toy`` model end to end on a CPU, with the project's own pipeline
(the recipe behind ``scripts/build_toy_model.py``, its command line).

    python scripts/build_toy_model.py [--work outputs/toy_build] [--out audiocraft/assets/toy]
        [--seed 0] [--codec-steps N] [--codec-cycles K] [--codec-from MODEL] [--lm-steps N]
        [--threads 1] [--codec-override KEY=VALUE ...] [--lm-override KEY=VALUE ...]
        [--stop-after STAGE] [--no-ship] [--ship-lm-dtype {float16,float32}]
        [--ship-codec-dtype {float16,float32}]
    python scripts/build_toy_model.py --tune-from toy --work outputs/toy_refine [--tune-steps N]
    python scripts/build_toy_model.py --reexport toy --work outputs/toy_reexport --cfg-coef 3,6,6,6

Stages (each resumes from its last checkpoint when re-run with the same arguments):

1. data: the synthetic music set (``audiocraft.data.synth``) rendered at 8 kHz into
   ``WORK/data`` (codec) and ``WORK/data_lm`` (LM: the same pieces and more), pieces as
   long as the LM's training segments, so every segment is a whole piece whose tokens
   are computed once, in the token cache;
2. codec: ``solver=compression/toy_codec`` (8 kHz, 25 frames/s, 4 x 1024 codes) trained
   by ``audiocraft.train.run`` into ``WORK/codec`` and exported there; with
   ``--codec-cycles K`` > 1, K - 1 more cycles of ``--codec-steps`` (each a new warmup
   and cosine schedule from the previous cycle's weights) into ``WORK/codec_c2``... The
   LM trains on the last one's tokens;
3. lm: ``solver=musicgen/toy_lm`` (dim 192, 6 layers, lookup-table text conditioner) on
   the frozen codec's tokens, into ``WORK/lm``;
3b. tune: the LM above fine-tuned (``--tune-steps``, 0 to skip) on segments cut anywhere
   in longer pieces (``WORK/data_tune``, other seeds), into ``WORK/lm_tune``. Stage 3
   only sees pieces from their first beat and first (tonic) chord; long-form generation
   continues from the middle of a piece, which this stage teaches;
4. ship: the hub-format files (``state_dict.bin``, ``compression_state_dict.bin``) copied
   to ``OUT`` (weights stored in float16 unless ``--ship-lm-dtype float32`` or
   ``--ship-codec-dtype float32``) with
   ``checksums.json``: their SHA-256 and sizes, the recipe (seed, steps, overrides) and
   the wall time of every stage; ``--cfg-coef`` (one number, or one per codebook) is
   written into the shipped LM's config as its default guidance
   (``classifier_free_guidance.inference_coef``, which ``MusicGen.set_generation_params``
   uses when given no ``cfg_coef``).

Everything is drawn from ``--seed`` (data, initialisation, batches, dropouts), so the
same arguments on the same software give the same weights. The wall time of the shipped
build is recorded in ``checksums.json`` and in MODEL_CARD.md, with the command that
made it. More steps (``--codec-steps``, ``--lm-steps``) and pieces (``--num-train-lm``)
are the levers toward the quality targets of MODEL_CARD.md; ``--codec-override`` and
``--lm-override`` pass any other Hydra override to one stage (a bigger model, another
learning rate), and are recorded with the recipe.

``--codec-from MODEL`` (same forms) starts stage 2 from that model's codec: its first
cycle continues from those weights (copied into ``WORK/parent``, recorded as the
recipe's ``codec_from``), so more codec cycles are added to a built model without
training its earlier ones again; stage 3 then trains a new LM on the new tokens (or
refits the parent's, ``--lm-override continue_from=WORK/parent``).

``--tune-from MODEL`` (``toy`` or a folder holding both hub files) skips stages 1-3:
stage 3b refines that model instead, its LM and codec first copied into
``WORK/parent`` (with their checksums and the model's own ``checksums.json``, which the
shipped record keeps as its parent, so a refined model's whole lineage is on record).

``--reexport MODEL`` (same forms) trains nothing: it ships that model's files again
with this invocation's stage-4 settings (``--cfg-coef``, the dtypes), recording the
model's own record as the recipe's ``reexport_from``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch
from hydra import compose as hydra_compose
from hydra import initialize_config_dir

from ..models.sampling import guidance_coef_arg
from ..train import CONFIG_DIR, run
from .toy_files import (  # noqa: F401  (re-exported: the recipe's view of its files)
    HUB_FILES,
    copy_parent,
    same_weights,
    sha256,
    ship,
    write_hub_file,
)

# The checkout this module runs from: recorded configs hold paths relative to it.
REPO = Path(__file__).resolve().parents[2]
# Updates per "epoch" of both recipes (config/solver/*/toy_*.yaml): steps are given in
# multiples of it, so the cosine schedule and checkpoints line up with the budget.
UPDATES_PER_EPOCH = 100


def compose(solver: str, overrides: list[str]) -> Any:
    """The training config of `solver` with `overrides` (the real Hydra tree)."""
    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        return hydra_compose("config", overrides=[f"solver={solver}", *overrides])


def _epochs(steps: int) -> int:
    if steps < UPDATES_PER_EPOCH or steps % UPDATES_PER_EPOCH:
        raise SystemExit(f"steps must be a positive multiple of {UPDATES_PER_EPOCH}, got {steps}.")
    return steps // UPDATES_PER_EPOCH


def common_overrides(args: argparse.Namespace, data: str, num_train: int,
                     piece_seconds: float | None = None, seed_offset: int = 0) -> list[str]:
    """Overrides shared by every stage: data (in WORK/`data`: `num_train` pieces of
    `piece_seconds`, default ``--piece-seconds``, drawn with ``seed + seed_offset``, the
    validation pieces with the next seed), seed, logging."""
    work = Path(args.work)
    return [
        f"seed={args.seed}",
        "dset=synthetic",
        f"synthetic.root={work / data}",
        f"synthetic.duration={piece_seconds or args.piece_seconds}",
        f"synthetic.train.num={num_train}",
        f"synthetic.train.seed={args.seed + seed_offset}",
        f"synthetic.valid.num={args.num_valid}",
        f"synthetic.valid.seed={args.seed + seed_offset + 1}",
        "logger=csv",
        "logging.progress_bar=false",
        "logging.log_every_n_steps=10",
    ]


def tune_stage_overrides(args: argparse.Namespace, codec_export: Path,
                         lm_export: Path) -> list[str]:
    """Overrides of the continuation fine-tune: the trained LM (``continue_from``) on
    ``--tune-segment-seconds`` segments (default ``--piece-seconds``: the LM's window; a
    longer one widens the window the exported model generates in and chains for long
    pieces) cut at a random time in ``--tune-piece-seconds`` pieces
    of their own seeds (``seed + 2``, valid ``seed + 3``; a segment may run up to half its
    length past the end, padding the loss ignores), at a twentieth of the LM's learning rate.
    Segments are new at nearly every step, so no token cache."""
    return [
        *common_overrides(args, "data_tune", args.num_train_tune, args.tune_piece_seconds,
                          seed_offset=2),
        f"run_dir={Path(args.work) / 'lm_tune'}",
        f"optim.epochs={_epochs(args.tune_steps)}",
        f"compression_model_checkpoint={codec_export}",
        f"continue_from={lm_export}",
        f"dataset.segment_duration={tune_segment_seconds(args)}",
        "dataset.min_segment_ratio=0.5",
        "optim.lr=1e-4",
        "schedule.warmup=20",
        *args.tune_override,
    ]


def tune_segment_seconds(args: argparse.Namespace) -> float:
    """The fine-tune's segment: ``--tune-segment-seconds``, else the LM's ``--piece-seconds``."""
    seconds = args.tune_segment_seconds
    return float(args.piece_seconds if seconds is None else seconds)


def codec_stage_name(cycle: int) -> str:
    """Stage (and WORK folder) name of codec cycle ``cycle``: codec, codec_c2, ..."""
    return "codec" if cycle == 1 else f"codec_c{cycle}"


def codec_cycle_overrides(args: argparse.Namespace, cycle: int = 1,
                          previous_export: Path | None = None) -> list[str]:
    """Overrides of codec cycle ``cycle``: the first into ``WORK/codec``; the next ones
    (2, 3...) continue from the previous cycle's export for another ``--codec-steps`` (a
    new warmup and cosine schedule), into ``WORK/codec_c<cycle>``."""
    return [
        *common_overrides(args, "data", args.num_train),
        f"run_dir={Path(args.work) / codec_stage_name(cycle)}",
        f"optim.epochs={_epochs(args.codec_steps)}",
        *([f"continue_from={previous_export}"] if previous_export is not None else []),
        *args.codec_override,
    ]


def run_stage(name: str, solver: str, overrides: list[str], done_file: Path,
              timings: dict[str, float]) -> Path:
    """Train one stage (resuming from its checkpoint) unless it already finished; returns
    its export folder."""
    export = done_file.parent
    if done_file.is_file():
        done = json.loads(done_file.read_text())
        built_with = done.get("overrides")  # absent in records of older builds
        if built_with is not None and built_with != overrides:
            changed = sorted(set(built_with) ^ set(overrides))
            raise SystemExit(
                f"[{name}] {export} was built with other overrides ({', '.join(changed)}): "
                f"move {export.parent} aside to train it again, or build in another --work.")
        print(f"[{name}] already built: {export}", flush=True)
        timings.update(done.get("timings", {}))
        return export
    print(f"[{name}] training: {solver} {' '.join(overrides)}", flush=True)
    start = time.time()
    result = run(compose(solver, overrides))
    timings[f"{name}_s"] = round(time.time() - start, 1)
    if result.export_dir is None:
        raise SystemExit(f"[{name}] the run did not export (checkpoint.export is false?).")
    done_file.write_text(json.dumps({"timings": {f"{name}_s": timings[f"{name}_s"]},
                                     "metrics": result.metrics, "overrides": overrides},
                                    indent=1))
    return Path(result.export_dir)


def train_codec_and_lm(args: argparse.Namespace, work: Path, timings: dict[str, float]
                       ) -> tuple[Path, Path, dict[str, Any]]:
    """Stages 2 and 3 (up to ``--stop-after``): the codec's exports, the LM's, and their
    part of the recipe."""
    cycles: list[list[str]] = []
    codec_export: Path | None = None
    parent = None
    if args.codec_from is not None:  # the first cycle continues from that model's codec
        codec_export, parent = copy_parent(args.codec_from, work, "--codec-from")
    for cycle in range(1, args.codec_cycles + 1):
        name = codec_stage_name(cycle)
        cycles.append(codec_cycle_overrides(args, cycle, codec_export))
        codec_export = run_stage(name, "compression/toy_codec", cycles[-1],
                                 work / name / "export" / "done.json", timings)
    assert codec_export is not None  # --codec-cycles >= 1
    stages: dict[str, Any] = {
        "codec_steps": args.codec_steps, "lm_steps": args.lm_steps,
        "num_train": args.num_train, "num_train_lm": args.num_train_lm,
        "codec": {"solver": "compression/toy_codec", "overrides": cycles[0]},
        "codec_cycles": args.codec_cycles, "codec_cycle_overrides": cycles[1:],
        **({"codec_from": parent} if parent is not None else {}),
    }
    if args.stop_after == "codec":
        return codec_export, codec_export, stages
    lm_overrides = [
        *common_overrides(args, "data_lm", args.num_train_lm), f"run_dir={work / 'lm'}",
        f"optim.epochs={_epochs(args.lm_steps)}",
        f"compression_model_checkpoint={codec_export}",
        f"dataset.segment_duration={args.piece_seconds}",
        f"cache.path={work / 'tokens'}", "cache.write=true", *args.lm_override,
    ]
    lm_export = run_stage("lm", "musicgen/toy_lm", lm_overrides,
                          work / "lm" / "export" / "done.json", timings)
    stages["lm"] = {"solver": "musicgen/toy_lm", "overrides": lm_overrides}
    return codec_export, lm_export, stages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", default="outputs/toy_build",
                        help="data, runs, checkpoints (relative to the repository)")
    parser.add_argument("--out", default="audiocraft/assets/toy", help="where the files ship")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--codec-steps", type=int, default=6000)
    parser.add_argument("--codec-cycles", type=int, default=5,
                        help="codec training cycles of --codec-steps each, every one from "
                        "the previous one's weights with a new schedule")
    parser.add_argument("--codec-from", default=None, metavar="MODEL",
                        help="start the codec cycles from this model's codec ('toy' or a "
                        "folder with both hub files) instead of from scratch")
    parser.add_argument("--lm-steps", type=int, default=7000)
    parser.add_argument("--num-train", type=int, default=384,
                        help="synthetic training pieces of the codec")
    parser.add_argument("--num-train-lm", type=int, default=8192,
                        help="synthetic training pieces of the LM (the codec's and more: "
                        "pieces are drawn per index, so the first ones are the same)")
    parser.add_argument("--num-valid", type=int, default=32)
    parser.add_argument("--piece-seconds", type=float, default=6.0,
                        help="length of each piece = the LM's training segment")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--codec-override", action="append", default=[], metavar="KEY=VALUE",
                        help="extra Hydra override of the codec stage (repeatable)")
    parser.add_argument("--lm-override", action="append", default=[], metavar="KEY=VALUE",
                        help="extra Hydra override of the LM stage (repeatable)")
    parser.add_argument("--tune-steps", type=int, default=400,
                        help="continuation fine-tune of the LM on segments cut anywhere in "
                        "longer pieces (0: none)")
    parser.add_argument("--num-train-tune", type=int, default=2048,
                        help="synthetic pieces of the continuation fine-tune")
    parser.add_argument("--tune-piece-seconds", type=float, default=12.0,
                        help="length of those pieces (segments: --tune-segment-seconds)")
    parser.add_argument("--tune-segment-seconds", type=float, default=None,
                        help="segments of the fine-tune, and so the window of the exported "
                             "LM (default: --piece-seconds); at most --tune-piece-seconds")
    parser.add_argument("--tune-override", action="append", default=[], metavar="KEY=VALUE",
                        help="extra Hydra override of the fine-tune stage (repeatable)")
    parser.add_argument("--tune-solver", default="musicgen/toy_lm",
                        help="solver config of the fine-tune (e.g. musicgen/toy_lm_melody or "
                        "musicgen/toy_lm_bpm: the toy LM plus a conditioner, with "
                        "--tune-override continue_with_new_conditioners=true)")
    parser.add_argument("--tune-from", default=None, metavar="MODEL",
                        help="skip stages 1-3 and refine this model ('toy' or a folder with "
                        "both hub files) by stage 3b")
    parser.add_argument("--reexport", default=None, metavar="MODEL",
                        help="train nothing: ship this model ('toy' or a folder with both hub "
                        "files) again with this invocation's --cfg-coef and dtypes")
    parser.add_argument("--cfg-coef", type=guidance_coef_arg, default=None,
                        help="default guidance of the shipped LM: one number, or one per "
                        "codebook (e.g. 3,6,6,6); default: the training config's (3)")
    parser.add_argument("--stop-after", choices=("codec", "lm", "tune"), default=None,
                        help="stop once this stage is built (re-run without it to go on)")
    parser.add_argument("--no-ship", action="store_true", help="train only; do not copy files")
    parser.add_argument("--ship-lm-dtype", choices=("float16", "float32"), default="float16",
                        help="dtype of the shipped LM weights (float16 halves the file)")
    parser.add_argument("--ship-lm-only", action="store_true",
                        help="ship the LM alone, for a model beside toy that shares its codec "
                        "(toy-melody: --out audiocraft/assets/toy-melody)")
    parser.add_argument("--ship-codec-dtype", choices=("float16", "float32"), default="float16",
                        help="dtype of the shipped codec weights (float16 halves the file)")
    args = parser.parse_args(argv)
    if args.codec_cycles < 1:
        parser.error("--codec-cycles must be at least 1.")
    if args.tune_from is not None and args.tune_steps <= 0:
        parser.error("--tune-from refines a model by stage 3b: give --tune-steps > 0.")
    if args.tune_segment_seconds is not None and not (
            0 < args.tune_segment_seconds <= args.tune_piece_seconds):
        parser.error(f"--tune-segment-seconds {args.tune_segment_seconds} must be > 0 and at "
                     f"most --tune-piece-seconds ({args.tune_piece_seconds}): segments are "
                     "cut from those pieces.")
    if args.tune_from is not None and args.codec_from is not None:
        parser.error("--tune-from skips the codec stage: --codec-from does not apply.")
    if args.reexport is not None and (args.tune_from or args.codec_from or args.stop_after
                                      or args.no_ship):
        parser.error("--reexport trains nothing: --tune-from, --codec-from, --stop-after and "
                     "--no-ship do not apply.")
    if args.tune_from is not None and args.stop_after in ("codec", "lm"):
        parser.error("--tune-from skips the codec and LM stages: --stop-after can only be tune.")

    os.chdir(REPO)  # relative paths in the recorded configs, whatever the caller's folder
    torch.set_num_threads(args.threads)
    work = Path(args.work)
    timings: dict[str, float] = {}
    start = time.time()

    head = {
        "command": "python scripts/build_toy_model.py " + " ".join(argv or sys.argv[1:]),
        "seed": args.seed, "threads": args.threads, "num_valid": args.num_valid,
        "piece_seconds": args.piece_seconds,
        "ship_lm_dtype": args.ship_lm_dtype, "ship_codec_dtype": args.ship_codec_dtype,
        "cfg_coef": args.cfg_coef,
    }
    if args.reexport is not None:
        parent_dir, parent = copy_parent(args.reexport, work, "--reexport")
        timings["total_this_invocation_s"] = round(time.time() - start, 1)
        path = ship(parent_dir, Path(args.out), {**head, "reexport_from": parent}, timings,
                    args.ship_lm_dtype, args.ship_codec_dtype, args.cfg_coef,
                    args.ship_lm_only)
        print(f"shipped to {args.out}; checksums in {path}", flush=True)
        return 0
    if args.tune_from is not None:
        parent_dir, parent = copy_parent(args.tune_from, work)
        codec_export = lm_export = parent_dir
        stages: dict[str, Any] = {"tune_from": parent}
    else:
        codec_export, lm_export, stages = train_codec_and_lm(args, work, timings)
        if args.stop_after in ("codec", "lm"):
            return 0
    tune_overrides: list[str] = []
    if args.tune_steps > 0:
        tune_overrides = tune_stage_overrides(args, codec_export, lm_export)
        lm_export = run_stage("tune", args.tune_solver, tune_overrides,
                              work / "lm_tune" / "export" / "done.json", timings)
    timings["total_this_invocation_s"] = round(time.time() - start, 1)
    if args.no_ship or args.stop_after == "tune":
        return 0
    recipe = {
        **head, **stages,
        "tune_steps": args.tune_steps, "num_train_tune": args.num_train_tune,
        "tune_piece_seconds": args.tune_piece_seconds,
        "tune_segment_seconds": tune_segment_seconds(args),
        "tune": {"solver": args.tune_solver, "overrides": tune_overrides},
    }
    path = ship(lm_export, Path(args.out), recipe, timings, args.ship_lm_dtype,
                args.ship_codec_dtype, args.cfg_coef, args.ship_lm_only)
    print(f"shipped to {args.out}; checksums in {path}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
