"""Training entry point (Hydra): composes the config and runs it.

    python -m audiocraft.train solver=musicgen/toy optim.lr=3e-4 trainer=ddp

`run(cfg)` does the work and is what tests call with a composed config: the solver kind
named by `cfg.solver` (`solvers/kinds.py`: `SOLVERS`) checks the config, builds the
solver (`solvers/builders.py`), chooses the distribution strategy and exports the
weights. Distribution is Lightning's (DDP, FSDP, SLURM, torchrun); checkpoints, resume
and export are described in the README's "Training" section.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dora
import hydra
import lightning as L
from dora.hydra import HydraMain
from hydra.core.hydra_config import HydraConfig
from lightning.pytorch.callbacks import LearningRateMonitor, TQDMProgressBar
from omegaconf import DictConfig, OmegaConf

from .data.datamodule import AudioDataModule
from .data.synth import ensure_synthetic_data
from .solvers.base import BaseSolver
from .solvers.callbacks import DoraHistory
from .solvers.checkpoint import (
    AtomicCheckpointIO,
    checkpoint_step,
    keep_last_checkpoints,
    resume_checkpoint,
)
from .solvers.config_check import ConfigError, check_manifest
from .solvers.csv_logger import ResumableCSVLogger
from .solvers.kinds import solver_kind, validate_config
from .train_args import CONFIG_DIR, config_problem, help_text

logger = logging.getLogger(__name__)
__all__ = ["CONFIG_DIR", "RunResult", "build_datamodule", "build_trainer", "cli", "run"]

# Messages of Lightning and torch that say nothing about this run: an advert, a
# deprecation inside Lightning's own code, the frozen codec being in eval mode (on
# purpose), and a data loader hint with sample code (our loader is set by the config).
_KNOWN_WARNINGS = (
    r"`isinstance\(treespec, LeafSpec\)` is deprecated",
    r"Found \d+ module\(s\) in eval mode at the start of training",
    r"The '\w+' does not have many workers",
)
_KNOWN_INFO = ("💡 Tip:",)  # Lightning's adverts (logged at INFO by rank_zero_info)


@dataclass
class RunResult:
    """What a finished run leaves: its folder, last checkpoint, exported files, metrics."""

    run_dir: Path
    last_checkpoint: Path | None
    export_dir: Path | None
    metrics: dict[str, float] = field(default_factory=dict)
    train_history: list[float] = field(default_factory=list)
    valid_history: list[float] = field(default_factory=list)
    solver: Any = None  # the trained LightningModule (this rank's copy)


def quiet_known_warnings() -> None:
    """Silence the known messages above, and only those (other warnings still show)."""
    for pattern in _KNOWN_WARNINGS:
        warnings.filterwarnings("ignore", message=pattern)
    rank_zero = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    if not any(isinstance(f, _DropAdverts) for f in rank_zero.filters):
        rank_zero.addFilter(_DropAdverts())


class _DropAdverts(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).lstrip().startswith(_KNOWN_INFO)


# ---- data -----------------------------------------------------------------------------


def build_datamodule(cfg: DictConfig, world_size: int) -> AudioDataModule:
    """The data module of `cfg.datasource` and `cfg.dataset`; manifests are read now, so
    bad data fails before any training."""
    train = check_manifest(cfg, "train")
    valid = check_manifest(cfg, "valid")
    ds = cfg.dataset
    datamodule = AudioDataModule(
        train=train, valid=valid,
        dataset_kwargs={"sample_rate": cfg.sample_rate, "channels": cfg.channels,
                        "segment_duration": ds.segment_duration,
                        "min_segment_ratio": ds.min_segment_ratio,
                        # Joint text/audio conditions (CLAP): the segment and its caption.
                        **({"joint_embed_attributes": list(ds.joint_embed_attributes)}
                           if ds.music and ds.get("joint_embed_attributes") else {})},
        split_kwargs={
            # dataset.train holds train-only dataset arguments (e.g. description
            # augmentation set by the conditioner config), only for music data sets.
            "train": {**(OmegaConf.to_container(ds.train, resolve=True)
                         if ds.get("train") and ds.music else {}),  # type: ignore[dict-item]
                      "num_samples": cfg.optim.updates_per_epoch * ds.batch_size * world_size},
            "valid": {"num_samples": ds.valid_num_samples},
        },
        batch_size=ds.batch_size, num_workers=ds.num_workers, seed=cfg.seed, music=ds.music,
    )
    datamodule.setup("fit")  # read the manifests now: bad data fails before training
    return datamodule


# ---- trainer ------------------------------------------------------------------------------


def build_trainer(cfg: DictConfig, solver: BaseSolver, run_dir: Path) -> L.Trainer:
    """The Lightning trainer of `cfg.trainer`, with the strategy of the solver's kind, the
    step checkpoints, loggers and callbacks."""
    t = cfg.trainer
    loggers = [hydra.utils.instantiate(cfg.logger)] if cfg.get("logger") else False
    callbacks: list[Any] = [
        keep_last_checkpoints(run_dir / "checkpoints", cfg.checkpoint.save_every,
                              cfg.checkpoint.keep_last),
    ]
    if loggers:
        callbacks.append(LearningRateMonitor(logging_interval="step"))
    if dora.is_xp():
        callbacks.append(DoraHistory())
    if cfg.logging.progress_bar:
        callbacks.append(TQDMProgressBar(refresh_rate=1))
    automatic = getattr(solver, "automatic_optimization", True)
    return L.Trainer(
        accelerator=t.accelerator, devices=t.devices, num_nodes=t.num_nodes,
        strategy=solver_kind(cfg).strategy(cfg, solver), precision=t.precision,
        max_epochs=cfg.optim.epochs, logger=loggers, callbacks=callbacks,
        plugins=[AtomicCheckpointIO()], default_root_dir=str(run_dir),
        gradient_clip_val=(cfg.optim.max_norm or None) if automatic else None,
        check_val_every_n_epoch=cfg.evaluate.every, num_sanity_val_steps=0,
        log_every_n_steps=cfg.logging.log_every_n_steps,
        enable_progress_bar=bool(cfg.logging.progress_bar),
        use_distributed_sampler=False,  # our sampler shards per rank and resumes mid-epoch
    )


# ---- run ----------------------------------------------------------------------------------


def _continue_csv_metrics(trainer: L.Trainer, step: int) -> None:
    """Have the run's CSV logger keep the rows of its `metrics.csv` logged before `step`
    and append after them (Lightning's own logger would delete the file)."""
    for run_logger in trainer.loggers:
        if isinstance(run_logger, ResumableCSVLogger):
            run_logger.resume_from(step)


def run(cfg: DictConfig) -> RunResult:
    """Validate `cfg`, build data, models and trainer, train (resuming when a checkpoint
    exists and `resume` is set), and export the trained weights."""
    quiet_known_warnings()
    validate_config(cfg)
    kind = solver_kind(cfg)
    cfg = cfg.copy()
    OmegaConf.set_struct(cfg, False)
    cfg.device = "cpu"  # models are built on the CPU; Lightning moves them
    run_dir = Path(cfg.run_dir)
    L.seed_everything(cfg.seed, workers=True)
    ensure_synthetic_data(cfg)
    solver = kind.build(cfg, run_dir)
    trainer = build_trainer(cfg, solver, run_dir)
    datamodule = build_datamodule(cfg, trainer.world_size)
    last = run_dir / "checkpoints" / "last.ckpt"
    resume_from = resume_checkpoint(run_dir) if cfg.resume else None  # newest intact one
    ckpt_path = str(resume_from) if resume_from else None
    if cfg.get("execute_only") in ("valid", "evaluate", "generate"):
        # Evaluation only: validation metrics (and samples, per `generate`; the evaluate or
        # generate stage with execute_only=evaluate/generate) of the run's
        # last checkpoint, or of the `continue_from` weights when the run has none. The
        # training run's CSV metrics are kept, and the evaluation's rows appended.
        _continue_csv_metrics(trainer, sys.maxsize)
        metrics = trainer.validate(solver, datamodule=datamodule, ckpt_path=ckpt_path)[0]
        return RunResult(run_dir, None, None, {k: float(v) for k, v in metrics.items()},
                         [], list(solver.valid_history), solver)
    if ckpt_path:
        logger.info("Resuming from %s", ckpt_path)
        _continue_csv_metrics(trainer, checkpoint_step(ckpt_path))  # the curve before the cut
    trainer.fit(solver, datamodule=datamodule, ckpt_path=ckpt_path)
    # The final state, also when the run ended mid-interval (a full checkpoint: resumable).
    trainer.save_checkpoint(last, weights_only=False)
    export_dir = None
    if cfg.checkpoint.export and trainer.is_global_zero:
        export_dir = run_dir / "export"
        kind.export(cfg, solver, export_dir)
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if v.numel() == 1}
    return RunResult(run_dir, last, export_dir, metrics, list(solver.train_history),
                     list(solver.valid_history), solver)


def _expose_rank_to_dora() -> None:
    """Lightning's DDP launcher starts the other local processes with LOCAL_RANK,
    NODE_RANK and WORLD_SIZE set, but not RANK, which dora reads (to keep Hydra's output
    to rank 0). On a single node the global rank is the local rank; multi-node launchers
    (torchrun, SLURM) set RANK themselves."""
    env = os.environ
    if "WORLD_SIZE" in env and "RANK" not in env and env.get("NODE_RANK", "0") == "0":
        env["RANK"] = env.get("LOCAL_RANK", "0")


class _TrainMain(HydraMain):
    """dora's Hydra entry point, which first gives dora this process's rank (see
    `_expose_rank_to_dora`): when the command runs, not when the module is imported."""

    def __call__(self) -> Any:
        _expose_rank_to_dora()
        return super().__call__()


def _entry_point(fn: Callable[[DictConfig], None]) -> _TrainMain:
    return _TrainMain(fn, config_name="config", config_path="../config", version_base="1.3")


def run_dir_note(overrides: list[str], folder: Path) -> str | None:
    """What to tell a user who set ``run_dir=`` on the command line, where dora's
    signature folder takes its place (None when they did not)."""
    given = [o.split("=", 1)[1] for o in overrides if o.lstrip("+~").startswith("run_dir=")]
    if not given or Path(given[-1]).resolve() == folder.resolve():
        return None
    return (f"note: run_dir={given[-1]} is not used on the command line: this run lives in "
            f"{folder} (dora's signature folder, the same for the same overrides). Set "
            "dora.dir= or AUDIOCRAFT_DORA_DIR to move it, or call audiocraft.train.run(cfg) "
            "to train in a folder of your own.")


@_entry_point
def main(cfg: DictConfig) -> None:
    """The command line. Each run lives in `<dora.dir>/xps/<signature>`, the signature
    hashing the overrides that change the experiment: the same command resumes the same
    run, and `dora grid` files launch sweeps of them (see audiocraft/grids)."""
    global _run_folder
    folder = _run_folder = Path(dora.get_xp().folder)
    logger.info("launch: %s", " ".join(sys.argv[1:]) or "(no overrides)")
    note = run_dir_note(list(HydraConfig.get().overrides.task), folder)
    if note:
        print(note, file=sys.stderr)
    OmegaConf.set_struct(cfg, False)
    cfg.run_dir = str(folder)
    OmegaConf.set_struct(cfg, True)
    try:
        result = run(cfg)
    except ConfigError as err:
        print(f"config error: {err}", file=sys.stderr)
        raise SystemExit(2) from err
    print(f"run folder: {result.run_dir}; export: {result.export_dir}")


_run_folder: Path | None = None  # set by `main`, for the hint after a Ctrl-C


def resume_hint(folder: Path | None) -> str:
    """What re-running the same command does for the run in ``folder``."""
    if folder is not None and any((folder / "checkpoints").glob("*.ckpt")):
        return (f"run the same command again to resume from the last checkpoint "
                f"(in {folder / 'checkpoints'}).")
    return ("no checkpoint was saved yet (one every checkpoint.save_every steps): the same "
            "command starts the run again from the beginning.")


def cli(argv: list[str] | None = None) -> int:
    """``python -m audiocraft.train``: ``--help``, overrides checked first (one short
    message with the valid choices), then the run; a Ctrl-C says how to resume."""
    global _run_folder
    argv = sys.argv[1:] if argv is None else argv
    if "-h" in argv or "--help" in argv:
        print(help_text())
        return 0
    flags = [a for a in argv if a.startswith("-")]
    if flags:
        print(f"config error: unknown option {flags[0]}: the command takes overrides "
              "KEY=VALUE or GROUP=OPTION only (see --help)", file=sys.stderr)
        return 2
    problem = config_problem(argv)
    if problem:
        print(f"config error: {problem}", file=sys.stderr)
        return 2
    interrupted = []

    def on_interrupt(signum: int, frame: Any) -> None:
        interrupted.append(signum)
        signal.default_int_handler(signum, frame)  # KeyboardInterrupt, as usual

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        main()
    except (KeyboardInterrupt, SystemExit) as err:
        # Lightning turns a Ctrl-C into a graceful shutdown and sys.exit(1).
        if not interrupted:
            raise
        if isinstance(err, SystemExit) and err.code not in (1, None):
            raise
        print(f"\ninterrupted: {resume_hint(_run_folder)}", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGINT, previous)
    return 0


if __name__ == "__main__":
    sys.exit(cli())
