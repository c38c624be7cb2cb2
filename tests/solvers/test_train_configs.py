"""Every file in config/ composes and instantiates (models shrunk where a full-size
build would take minutes; the structure under test is the same)."""

from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from audiocraft.data.synth import ensure_synthetic_data
from audiocraft.solvers.builders import build_compression_solver, build_musicgen_solver
from audiocraft.solvers.kinds import SOLVERS, validate_config
from audiocraft.solvers.optim import optimizer_factory, scheduler_factory
from audiocraft.train import CONFIG_DIR, build_trainer


def _options(group: str) -> list[str]:
    root = CONFIG_DIR / group
    return sorted(str(p.relative_to(root).with_suffix("")) for p in root.rglob("*.yaml")
                  if p.relative_to(root).parts[0] != "model_scale")


def _open(cfg):
    cfg = cfg.copy()
    OmegaConf.set_struct(cfg, False)
    return cfg


# Full-size LMs are shrunk to one layer (their width is kept, so every preset's shapes
# are exercised).
SHRINK_LM = ["transformer_lm.num_layers=1"]


def _matching_codec(cfg, folder: Path, compose_cfg) -> str:
    """A random tiny codec with the recipe's sample rate and vocabulary, exported where
    the recipe's codec would be (the official codecs are not available offline)."""
    from audiocraft.models import builders, loaders

    codec_cfg = _open(compose_cfg([
        "solver=compression/toy", f"sample_rate={cfg.sample_rate}",
        f"rvq.bins={cfg.transformer_lm.card}", f"rvq.n_q={cfg.transformer_lm.n_q}"]))
    return str(loaders.export_compression(builders.get_compression_model(codec_cfg), folder))


def test_config_groups_are_all_covered():
    groups = {p.name for p in CONFIG_DIR.iterdir() if p.is_dir()}
    assert groups == {"solver", "dset", "trainer", "logger", "optim", "schedule", "model",
                      "conditioner"}


# solver/default.yaml is the base every recipe includes (composed by all of them).
@pytest.mark.parametrize("recipe", [r for r in _options("solver") if r != "default"])
def test_solver_recipe_instantiates(recipe, make_cfg, compose_cfg, tmp_path):
    family = recipe.split("/")[0]
    cfg = _open(make_cfg(recipe, *(SHRINK_LM if family == "musicgen" else [])))
    if family == "musicgen" and (OmegaConf.is_missing(cfg, "compression_model_checkpoint")
                                 or cfg.compression_model_checkpoint != "debug"):
        cfg.compression_model_checkpoint = _matching_codec(cfg, tmp_path / "codec", compose_cfg)
    validate_config(cfg)
    builder = build_musicgen_solver if family == "musicgen" else build_compression_solver
    solver = builder(cfg, Path(cfg.run_dir))
    assert solver.configure_optimizers() is not None
    assert cfg.solver == family


@pytest.mark.slow
@pytest.mark.parametrize("model", _options("model/lm"))
def test_lm_model_config_instantiates(model, make_cfg, compose_cfg, tmp_path):
    cfg = _open(make_cfg("musicgen/default", f"model/lm={model}", *SHRINK_LM,
                         "conditioner=text2music_lut"))
    cfg.compression_model_checkpoint = _matching_codec(cfg, tmp_path / "codec", compose_cfg)
    solver = build_musicgen_solver(cfg, Path(cfg.run_dir))
    assert solver.lm.card == cfg.transformer_lm.card


@pytest.mark.parametrize("scale", sorted(p.stem for p in
                                         (CONFIG_DIR / "model/lm/model_scale").glob("*.yaml")))
def test_model_scale_composes(scale, compose_cfg):
    cfg = compose_cfg(["solver=musicgen/default", f"model/lm/model_scale={scale}"])
    lm = cfg.transformer_lm
    assert lm.dim % lm.num_heads == 0 and lm.num_layers >= 1


@pytest.mark.parametrize("model", _options("model/encodec"))
def test_codec_model_config_instantiates(model, make_cfg):
    cfg = _open(make_cfg("compression/toy", f"model/encodec={model}"))
    solver = build_compression_solver(cfg, Path(cfg.run_dir))
    assert solver.model.sample_rate == cfg.sample_rate


@pytest.mark.parametrize("conditioner", _options("conditioner"))
def test_conditioner_config_instantiates(conditioner, make_cfg):
    cfg = _open(make_cfg("musicgen/toy", f"conditioner={conditioner}"))
    solver = build_musicgen_solver(cfg, Path(cfg.run_dir))
    assert set(solver.lm.condition_provider.conditioners) == set(cfg.conditioners or {})


@pytest.mark.parametrize("trainer", _options("trainer"))
def test_trainer_config_instantiates(trainer, make_cfg):
    # GPU configs are built here with the CPU accelerator (same strategy and sizes).
    cfg = _open(make_cfg("musicgen/toy", f"trainer={trainer}"))
    solver = build_musicgen_solver(cfg, Path(cfg.run_dir))
    if cfg.trainer.strategy == "fsdp":  # Lightning refuses FSDP without a GPU
        strategy = SOLVERS[cfg.solver].strategy(cfg, solver)
        wrapped = strategy.kwargs["auto_wrap_policy"]._module_classes
        assert type(solver.lm.transformer.layers[0]) in wrapped
        assert strategy.sharding_strategy.name == cfg.trainer.fsdp.sharding_strategy
        return
    cfg.trainer.accelerator = "cpu"
    cfg.trainer.precision = "32-true"
    if cfg.trainer.devices == "auto":
        cfg.trainer.devices = 2
    trainer = build_trainer(cfg, solver, Path(cfg.run_dir))
    assert trainer.world_size == cfg.trainer.devices * cfg.trainer.num_nodes


@pytest.mark.parametrize("logger", _options("logger"))
def test_logger_config_instantiates(logger, make_cfg):
    import hydra

    cfg = make_cfg("musicgen/toy", f"logger={logger}")
    instance = hydra.utils.instantiate(cfg.logger)
    instance.log_metrics({"x": 1.0}, step=0)
    instance.finalize("success")


@pytest.mark.parametrize("optim", _options("optim"))
@pytest.mark.parametrize("schedule", _options("schedule"))
def test_optim_and_schedule_configs_instantiate(optim, schedule, make_cfg):
    cfg = make_cfg("musicgen/toy", f"optim={optim}", f"schedule={schedule}")
    param = torch.nn.Parameter(torch.ones(2))
    optimizer = optimizer_factory(cfg.optim)([param])
    factory = scheduler_factory(cfg)
    if factory is not None:
        scheduler = factory(optimizer)
        optimizer.step()
        scheduler.step()
    assert optimizer.param_groups[0]["lr"] <= cfg.optim.lr


@pytest.mark.parametrize("dset", _options("dset"))
def test_dset_config_instantiates(dset, make_cfg, synthetic_root):
    from audiocraft.train import build_datamodule

    extra = [] if dset == "synthetic" else [f"datasource.train={synthetic_root}/train",
                                           f"datasource.valid={synthetic_root}/valid"]
    cfg = _open(make_cfg("musicgen/toy", f"dset={dset}", *extra))
    if dset == "synthetic":
        cfg.synthetic.root = str(synthetic_root)
    ensure_synthetic_data(cfg)
    validate_config(cfg)
    datamodule = build_datamodule(cfg, world_size=1)
    wav, infos = next(iter(datamodule.val_dataloader()))
    assert wav.shape[0] == len(infos) and wav.shape[1] == cfg.channels


def test_continue_from_trains_in_train_mode(make_cfg, tmp_path):
    """The loaders give eval-mode models; a fine-tune must still train with dropout and
    codebook updates on."""
    from audiocraft.models import builders, loaders

    codec_cfg = _open(make_cfg("compression/toy"))
    codec_dir = loaders.export_compression(
        builders.get_compression_model(codec_cfg).eval(), tmp_path / "codec")
    codec_cfg.continue_from = str(codec_dir)
    solver = build_compression_solver(codec_cfg, Path(codec_cfg.run_dir))
    assert solver.model.training and all(m.training for m in solver.model.modules())

    lm_cfg = _open(make_cfg("musicgen/toy", f"compression_model_checkpoint={codec_dir}",
                            f"transformer_lm.card={codec_cfg.rvq.bins}"))
    lm_dir = loaders.export_lm(builders.get_lm_model(lm_cfg).eval(), lm_cfg, tmp_path / "lm")
    lm_cfg.continue_from = str(lm_dir)
    solver = build_musicgen_solver(lm_cfg, Path(lm_cfg.run_dir))
    assert solver.lm.training and all(m.training for m in solver.lm.modules())
