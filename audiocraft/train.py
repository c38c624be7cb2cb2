"""Training entry point (Hydra): the only place, with `models/builders.py`, where the
config becomes objects.

    python -m audiocraft.train solver=musicgen/toy optim.lr=3e-4 trainer=ddp

`run(cfg)` does the work and is what tests call with a composed config. Distribution is
Lightning's (DDP, FSDP, SLURM, torchrun); checkpoints, resume and export are described
in the README's "Training" section.
"""

from __future__ import annotations

import copy
import functools
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dora
import hydra
import lightning as L
import torch
from hydra.core.hydra_config import HydraConfig
from lightning.pytorch.callbacks import Callback, LearningRateMonitor, TQDMProgressBar
from omegaconf import DictConfig, OmegaConf

from .solvers.checkpoint import (
    AtomicCheckpointIO,
    checkpoint_step,
    keep_last_checkpoints,
    resume_checkpoint,
)
from .solvers.config_check import ConfigError, check_manifest, validate_config
from .solvers.csv_logger import ResumableCSVLogger
from .solvers.schedules import SCHEDULES

logger = logging.getLogger(__name__)
CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"


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


# ---- data -----------------------------------------------------------------------------


def ensure_synthetic_data(cfg: DictConfig) -> None:
    """Render the embedded synthetic set on first use (dset=synthetic)."""
    synth = cfg.get("synthetic")
    if not synth:
        return
    from .data.synth import write_dataset

    for split in ("train", "valid"):
        out = Path(synth.root) / split
        manifest = out / "data.jsonl"
        if int(os.environ.get("LOCAL_RANK", "0")) > 0:
            # Under torchrun every process starts at once: the first one of the machine
            # renders (the manifest is written last), the others wait for it.
            deadline = time.monotonic() + 3600
            while not manifest.exists() and time.monotonic() < deadline:
                time.sleep(2)
            continue
        if not manifest.exists():
            logger.info("Rendering %d synthetic pieces into %s", synth[split].num, out)
            write_dataset(out, num=synth[split].num, duration=synth.duration,
                          seed=synth[split].seed, sample_rate=synth.sample_rate,
                          channels=cfg.channels)


def build_datamodule(cfg: DictConfig, world_size: int) -> Any:
    from .solvers.loader import resumable_datamodule

    train = check_manifest(cfg, "train")
    valid = check_manifest(cfg, "valid")
    ds = cfg.dataset
    datamodule = resumable_datamodule(
        train=train, valid=valid,
        dataset_kwargs={"sample_rate": cfg.sample_rate, "channels": cfg.channels,
                        "segment_duration": ds.segment_duration,
                        "min_segment_ratio": ds.min_segment_ratio},
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


# ---- optimisation -------------------------------------------------------------------------


def optimizer_factory(optim: DictConfig) -> functools.partial:
    cls = torch.optim.AdamW if optim.optimizer == "adamw" else torch.optim.Adam
    return functools.partial(cls, lr=optim.lr, betas=tuple(optim.betas),
                             weight_decay=optim.weight_decay, eps=optim.eps)


def _lambda_scheduler(optimizer: torch.optim.Optimizer, multiplier: Any) -> Any:
    return torch.optim.lr_scheduler.LambdaLR(optimizer, multiplier)


def scheduler_factory(cfg: DictConfig) -> functools.partial | None:
    name = cfg.schedule.lr_scheduler
    if name == "none":
        return None
    total = cfg.optim.epochs * cfg.optim.updates_per_epoch
    if name == "cosine":
        multiplier = SCHEDULES[name](cfg.schedule.warmup, total, cfg.schedule.lr_min_ratio)
    else:
        multiplier = SCHEDULES[name](cfg.schedule.warmup)
    return functools.partial(_lambda_scheduler, multiplier=multiplier)


def _ema(cfg: DictConfig) -> dict[str, Any]:
    ema = cfg.optim.ema
    return {"ema_decay": ema.decay if ema.use else None, "ema_every": ema.every}


# ---- solvers ------------------------------------------------------------------------------


def check_codec_matches_lm(codec: Any, lm_card: int, lm_n_q: int, sample_rate: int) -> None:
    """The LM predicts the codec's tokens: rates and vocabularies must agree."""
    if codec.sample_rate != sample_rate:
        raise ConfigError(
            f"the compression model runs at {codec.sample_rate} Hz but `sample_rate` is "
            f"{sample_rate}: set sample_rate={codec.sample_rate} or use a matching codec."
        )
    if codec.cardinality != lm_card:
        raise ConfigError(
            f"the compression model has {codec.cardinality} codes per codebook but the LM "
            f"predicts {lm_card} (`transformer_lm.card`): set transformer_lm.card="
            f"{codec.cardinality} or use a matching codec."
        )
    if codec.num_codebooks != lm_n_q:
        raise ConfigError(
            f"the compression model emits {codec.num_codebooks} codebooks but the LM models "
            f"{lm_n_q} (`transformer_lm.n_q`): set transformer_lm.n_q={codec.num_codebooks}."
        )


def build_musicgen_solver(cfg: DictConfig, run_dir: Path) -> Any:
    from .models import builders, loaders
    from .solvers.musicgen import MusicGenSolver, SampleSettings
    from .solvers.token_cache import TokenCache

    codec = loaders.load_compression_model(str(cfg.compression_model_checkpoint), device="cpu")
    if cfg.continue_from:
        # The loaders return models in eval mode; training needs dropout and the rest on.
        lm = loaders.load_lm_model(str(cfg.continue_from), device="cpu").train()
    else:
        lm = builders.get_lm_model(cfg)
    check_codec_matches_lm(codec, lm.card, lm.n_q, cfg.sample_rate)
    cache = None
    if cfg.cache.path:
        cache = TokenCache(cfg.cache.path, write=cfg.cache.write, cardinality=codec.cardinality)
    g = cfg.generate
    samples = SampleSettings(every=g.every, num_samples=g.num_samples, duration=g.duration,
                             use_sampling=g.lm.use_sampling, temp=g.lm.temp, top_k=g.lm.top_k,
                             top_p=g.lm.top_p, cfg_coef=g.lm.cfg_coef)
    return MusicGenSolver(lm, codec, optimizer_factory(cfg.optim), scheduler_factory(cfg),
                          token_cache=cache, samples=samples,
                          sample_dir=str(run_dir / "samples"), **_ema(cfg))


def build_compression_solver(cfg: DictConfig, run_dir: Path) -> Any:
    from .adversarial import ADVERSARIES
    from .losses import LOSSES, Balancer
    from .models import builders, loaders
    from .solvers.compression import CompressionSolver

    if cfg.continue_from:
        # In eval mode, the quantizer's codebooks would stop following the encoder.
        model = loaders.load_compression_model(str(cfg.continue_from), device="cpu").train()
    else:
        model = builders.get_compression_model(cfg)
    if model.sample_rate != cfg.sample_rate:
        raise ConfigError(f"the compression model runs at {model.sample_rate} Hz but "
                          f"`sample_rate` is {cfg.sample_rate}: make them agree.")
    weights = {k: float(v) for k, v in cfg.losses.items()}
    losses = {}
    for name, weight in weights.items():
        if weight > 0 and name in LOSSES:
            section = cfg.get(name)
            kwargs = OmegaConf.to_container(section, resolve=True) if section else {}
            losses[name] = LOSSES[name](**kwargs)  # type: ignore[arg-type]
    adversary = disc_optimizer = None
    if cfg.adversarial.adversaries and (weights.get("adv", 0) > 0 or weights.get("feat", 0) > 0):
        (name,) = cfg.adversarial.adversaries  # one adversary: the MS-STFT discriminator
        kwargs = OmegaConf.to_container(cfg[name], resolve=True)
        adversary = ADVERSARIES[name](**kwargs)  # type: ignore[arg-type]
        disc_optimizer = optimizer_factory(cfg.optim)
    balancer = Balancer(weights, **OmegaConf.to_container(cfg.balancer, resolve=True))  # type: ignore[arg-type]
    return CompressionSolver(
        model, losses, balancer, optimizer_factory(cfg.optim), scheduler_factory(cfg),
        adversary=adversary, disc_optimizer=disc_optimizer, adv_every=cfg.adversarial.every,
        max_norm=cfg.optim.max_norm, samples_every=cfg.generate.every,
        num_samples=cfg.generate.num_samples, sample_dir=str(run_dir / "samples"), **_ema(cfg))


# ---- trainer ------------------------------------------------------------------------------


def build_strategy(cfg: DictConfig, solver: Any) -> Any:
    strategy = cfg.trainer.strategy
    if strategy == "ddp" and cfg.solver == "compression":
        # The codec and the discriminator each back-propagate once per step, every
        # parameter unused by one of the two passes: DDP must look for unused parameters.
        return "ddp_find_unused_parameters_true"
    if strategy != "fsdp":
        return strategy
    from lightning.pytorch.strategies import FSDPStrategy

    # One FSDP unit per transformer layer: the layer types of the trained model.
    layers = getattr(getattr(solver.trained_module(), "transformer", None), "layers", [])
    policy = {type(layer) for layer in layers} or None
    fsdp = cfg.trainer.fsdp
    return FSDPStrategy(auto_wrap_policy=policy, sharding_strategy=fsdp.sharding_strategy,
                        activation_checkpointing_policy=policy if fsdp.activation_checkpointing
                        else None, cpu_offload=fsdp.cpu_offload)


class DoraHistory(Callback):
    """Appends the metrics after each validation to the dora experiment's history, which
    `dora grid` tables and `dora info` read."""

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: Any) -> None:
        if trainer.is_global_zero and not trainer.sanity_checking:
            metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if v.numel() == 1}
            dora.get_xp().link.push_metrics(metrics)


def build_trainer(cfg: DictConfig, solver: Any, run_dir: Path) -> L.Trainer:
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
        strategy=build_strategy(cfg, solver), precision=t.precision,
        max_epochs=cfg.optim.epochs, logger=loggers, callbacks=callbacks,
        plugins=[AtomicCheckpointIO()], default_root_dir=str(run_dir),
        gradient_clip_val=(cfg.optim.max_norm or None) if automatic else None,
        check_val_every_n_epoch=cfg.evaluate.every, num_sanity_val_steps=0,
        log_every_n_steps=cfg.logging.log_every_n_steps,
        enable_progress_bar=bool(cfg.logging.progress_bar),
        use_distributed_sampler=False,  # our sampler shards per rank and resumes mid-epoch
    )


# ---- run ----------------------------------------------------------------------------------


def exported_lm_cfg(run_cfg: DictConfig, model_cfg: DictConfig | None) -> DictConfig:
    """The config an LM is exported with. The model's own describes its architecture (a
    fine-tuned model keeps the one it was loaded with), but its window is that of the
    segments this run trained it on (``dataset.segment_duration``, which MusicGen reads as
    ``max_duration``). The run's config for models without one."""
    if model_cfg is None:
        return run_cfg
    out = copy.deepcopy(model_cfg)
    segment = OmegaConf.select(run_cfg, "dataset.segment_duration")
    if segment is not None:
        OmegaConf.update(out, "dataset.segment_duration", segment, force_add=True)
    return out


def export(cfg: DictConfig, solver: Any, export_dir: Path) -> None:
    """Hub-format files of the best (else EMA) weights, loadable by MusicGen.get_pretrained."""
    from .models import loaders

    export_dir.mkdir(parents=True, exist_ok=True)
    module = solver.trained_module()
    live = {k: v.detach().clone() for k, v in module.state_dict().items()}
    module.load_state_dict(solver.export_state())
    try:
        if cfg.solver == "compression":
            loaders.export_compression(module, export_dir / "compression_state_dict.bin")
        else:
            loaders.export_lm(module, exported_lm_cfg(cfg, getattr(module, "cfg", None)),
                              export_dir / "state_dict.bin")
            loaders.export_compression(solver.compression_model,
                                       export_dir / "compression_state_dict.bin")
    finally:
        module.load_state_dict(live)


def _continue_csv_metrics(trainer: L.Trainer, step: int) -> None:
    """Have the run's CSV logger keep the rows of its `metrics.csv` logged before `step`
    and append after them (Lightning's own logger would delete the file)."""
    for run_logger in trainer.loggers:
        if isinstance(run_logger, ResumableCSVLogger):
            run_logger.resume_from(step)


def run(cfg: DictConfig) -> RunResult:
    """Validate `cfg`, build data, models and trainer, train (resuming when a checkpoint
    exists and `resume` is set), and export the trained weights."""
    validate_config(cfg)
    cfg = cfg.copy()
    OmegaConf.set_struct(cfg, False)
    cfg.device = "cpu"  # models are built on the CPU; Lightning moves them
    run_dir = Path(cfg.run_dir)
    L.seed_everything(cfg.seed, workers=True)
    ensure_synthetic_data(cfg)
    solver = (build_compression_solver if cfg.solver == "compression"
              else build_musicgen_solver)(cfg, run_dir)
    trainer = build_trainer(cfg, solver, run_dir)
    datamodule = build_datamodule(cfg, trainer.world_size)
    last = run_dir / "checkpoints" / "last.ckpt"
    resume_from = resume_checkpoint(run_dir) if cfg.resume else None  # newest intact one
    ckpt_path = str(resume_from) if resume_from else None
    if cfg.get("execute_only") == "valid":
        # Evaluation only: validation metrics (and samples, per `generate`) of the run's
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
    trainer.save_checkpoint(last)  # the final state, also when the run ended mid-interval
    export_dir = None
    if cfg.checkpoint.export and trainer.is_global_zero:
        export_dir = run_dir / "export"
        export(cfg, solver, export_dir)
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


_expose_rank_to_dora()


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


@dora.hydra_main(config_path="../config", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    """The command line. Each run lives in `<dora.dir>/xps/<signature>`, the signature
    hashing the overrides that change the experiment: the same command resumes the same
    run, and `dora grid` files launch sweeps of them (see audiocraft/grids)."""
    folder = Path(dora.get_xp().folder)
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


if __name__ == "__main__":
    main()
