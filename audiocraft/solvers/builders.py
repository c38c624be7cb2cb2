"""Config -> solvers, and solvers -> exported files: what `solvers/kinds.py` registers for
each solver kind (mirrors `models/builders.py`, which builds the models themselves).

Every builder takes the composed training config (`config/config.yaml` plus a solver
recipe) and the run folder.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from torch import nn

from ..adversarial import ADVERSARIES
from ..losses import LOSSES, Balancer
from ..models import builders, loaders
from .compression import CompressionSolver
from .config_check import ConfigError
from .musicgen import MusicGenSolver, SampleSettings
from .optim import optimizer_factory, scheduler_factory
from .stages import STAGES, StageSettings
from .token_cache import TokenCache


def _ema(cfg: DictConfig) -> dict[str, Any]:
    ema = cfg.optim.ema
    return {"ema_decay": ema.decay if ema.use else None, "ema_every": ema.every}


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


def build_musicgen_solver(cfg: DictConfig, run_dir: Path) -> MusicGenSolver:
    """The LM (built from `cfg`, or loaded from `continue_from`) on the frozen codec of
    `compression_model_checkpoint`, with the optimizer, schedule, EMA, token cache and
    sample settings of `cfg`; samples go to `run_dir/samples`."""
    codec = loaders.load_compression_model(str(cfg.compression_model_checkpoint), device="cpu")
    if cfg.get("channels", 1) == 2 and codec.channels == 1 and not OmegaConf.select(
            cfg, "interleave_stereo_codebooks.use", default=False):
        raise ConfigError(
            "channels=2 with a mono codec: set interleave_stereo_codebooks.use=true (left "
            "and right coded apart, 2 x the codec's codebooks: also transformer_lm.n_q and "
            "codebooks_pattern.delay.delays, e.g. [0,0,1,1,2,2,3,3]), or use a stereo codec.")
    # Stereo from a mono codec: left/right codebooks interleaved, as the LM's config says.
    codec = builders.get_wrapped_compression_model(codec, cfg)
    if cfg.continue_from and cfg.get("continue_with_new_conditioners"):
        lm = builders.get_lm_model(cfg)
        load_with_new_conditioners(lm, str(cfg.continue_from))
    elif cfg.continue_from:
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
                          sample_dir=str(run_dir / "samples"), stages=stage_settings(cfg),
                          run_dir=str(run_dir), **_ema(cfg))


def load_with_new_conditioners(lm: nn.Module, name_or_path: str) -> list[str]:
    """Load the LM weights of `name_or_path` into `lm` (built from a config that adds
    conditioners to that model's: a melody or a number conditioner), the added
    conditioners keeping their fresh initialisation (a zero `output_proj` for those added
    to the audio steps: `sum`, `aligned`, `input_interpolate`). Returns the keys left
    fresh. Anything else that does not fit (a missing transformer weight, a wrong shape) raises
    ConfigError: the config must be the model's own plus conditioners."""
    state = loaders.load_lm_model_ckpt(name_or_path)["best_state"]
    expected = lm.state_dict()
    buffers = {name for name, _ in lm.named_buffers()}
    fresh = sorted(set(expected) - set(state) - buffers)
    wrong = [k for k in state if k in expected and state[k].shape != expected[k].shape]
    unknown = sorted(set(state) - set(expected))
    outside = [k for k in fresh if not k.startswith("condition_provider.conditioners.")]
    if outside or wrong or unknown:
        raise ConfigError(
            f"continue_with_new_conditioners: the weights of {name_or_path} do not fit this "
            f"config beyond its new conditioners: missing {outside[:5]}, wrong shapes "
            f"{wrong[:5]}, unknown {unknown[:5]}. Use the model's own config (its xp.cfg) "
            "plus the conditioners to add.")
    lm.load_state_dict({k: v.to(expected[k].dtype) for k, v in state.items()}, strict=False)
    _silence_added_conditions(lm, fresh)
    return fresh


# Fuse methods that add a condition to the audio steps' input.
ADDITIVE_FUSE_METHODS = ("sum", "aligned", "input_interpolate")


def _silence_added_conditions(lm: nn.Module, fresh: list[str]) -> None:
    """New conditioners added to the audio steps start with a zero `output_proj`: the
    trained LM then starts exactly where it was and the condition grows in from the
    first gradient step (a random projection added to every step would first undo
    much of the LM's training)."""
    provider = getattr(lm, "condition_provider", None)
    fuser = getattr(lm, "fuser", None)
    if provider is None or fuser is None:
        return
    for name, conditioner in provider.conditioners.items():
        new = any(k.startswith(f"condition_provider.conditioners.{name}.") for k in fresh)
        if new and fuser.cond2fuse.get(name) in ADDITIVE_FUSE_METHODS:
            nn.init.zeros_(conditioner.output_proj.weight)
            if conditioner.output_proj.bias is not None:
                nn.init.zeros_(conditioner.output_proj.bias)


def stage_settings(cfg: DictConfig) -> StageSettings:
    """The evaluate/generate stage settings of `cfg` (`evaluate.*`, `generate.*`, the
    `datasource.evaluate` / `datasource.generate` manifests, `execute_only`)."""
    ev, gen, ds = cfg.evaluate, cfg.generate, cfg.dataset
    source = cfg.get("datasource") or {}
    options = ev.get("options")
    return StageSettings(
        evaluate_every=int(ev.get("metrics_every", 0) or 0),
        metrics=[str(m) for m in ev.get("metrics") or []],
        evaluate_num=int(ev.get("num_samples", 4)),
        generate_every=int(gen.get("stage_every", 0) or 0),
        generate_num=int(gen.num_samples),
        weights=ev.get("weights"),
        evaluate_manifest=None if source.get("evaluate") is None else str(source["evaluate"]),
        generate_manifest=None if source.get("generate") is None else str(source["generate"]),
        dataset_kwargs={"sample_rate": cfg.sample_rate, "channels": cfg.channels,
                        "segment_duration": ds.segment_duration,
                        "min_segment_ratio": ds.min_segment_ratio},
        music=bool(ds.music),
        only=cfg.get("execute_only") if cfg.get("execute_only") in STAGES else None,
        metric_options=OmegaConf.to_container(options, resolve=True) if options else {},  # type: ignore[arg-type]
    )


def build_compression_solver(cfg: DictConfig, run_dir: Path) -> CompressionSolver:
    """The codec (built from `cfg`, or loaded from `continue_from`) with the losses of
    `cfg.losses` (weights > 0; each built from the section of the same name), the
    adversary of `adversarial.adversaries` and the gradient balancer."""
    if cfg.continue_from:
        # In eval mode, the quantizer's codebooks would stop following the encoder.
        model = loaders.load_compression_model(str(cfg.continue_from), device="cpu").train()
    else:
        model = builders.get_compression_model(cfg)
    if model.sample_rate != cfg.sample_rate:
        raise ConfigError(f"the compression model runs at {model.sample_rate} Hz but "
                          f"`sample_rate` is {cfg.sample_rate}: make them agree.")
    weights = {k: float(v) for k, v in cfg.losses.items()}
    losses: dict[str, nn.Module] = {}
    for name, weight in weights.items():
        if weight > 0 and name in LOSSES:  # adv/feat are the adversary's terms
            section = cfg.get(name)
            kwargs = OmegaConf.to_container(section, resolve=True) if section else {}
            losses[name] = LOSSES[name](**kwargs)  # type: ignore[arg-type]
    adversary = disc_optimizer = None
    if cfg.adversarial.adversaries and (weights.get("adv", 0) > 0 or weights.get("feat", 0) > 0):
        (name,) = cfg.adversarial.adversaries  # one adversary: the MS-STFT discriminator
        kwargs = OmegaConf.to_container(cfg[name], resolve=True)
        adversary = ADVERSARIES.get(name, where="adversarial.adversaries")(**kwargs)  # type: ignore[arg-type]
        disc_optimizer = optimizer_factory(cfg.optim)
    balancer = Balancer(weights, **OmegaConf.to_container(cfg.balancer, resolve=True))  # type: ignore[arg-type]
    return CompressionSolver(
        model, losses, balancer, optimizer_factory(cfg.optim), scheduler_factory(cfg),
        adversary=adversary, disc_optimizer=disc_optimizer, adv_every=cfg.adversarial.every,
        max_norm=cfg.optim.max_norm, samples_every=cfg.generate.every,
        num_samples=cfg.generate.num_samples, sample_dir=str(run_dir / "samples"),
        stages=stage_settings(cfg), run_dir=str(run_dir), **_ema(cfg))


# ---- export -------------------------------------------------------------------------------


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


def _with_export_weights(solver: Any, write: Any) -> None:
    """Run `write(module)` with the solver's export weights (best, else EMA) loaded in its
    trained module, then put the live weights back."""
    module = solver.trained_module()
    live = {k: v.detach().clone() for k, v in module.state_dict().items()}
    module.load_state_dict(solver.export_state())
    try:
        write(module)
    finally:
        module.load_state_dict(live)


def export_compression_solver(cfg: DictConfig, solver: Any, export_dir: Path) -> None:
    """`export_dir/compression_state_dict.bin`: the codec in hub format."""
    export_dir.mkdir(parents=True, exist_ok=True)
    _with_export_weights(solver, lambda module: loaders.export_compression(
        module, export_dir / "compression_state_dict.bin"))


def export_musicgen_solver(cfg: DictConfig, solver: Any, export_dir: Path) -> None:
    """`export_dir/state_dict.bin` (the LM) and `compression_state_dict.bin` (its codec):
    a folder `MusicGen.get_pretrained` loads."""
    export_dir.mkdir(parents=True, exist_ok=True)

    def write(module: Any) -> None:
        loaders.export_lm(module, exported_lm_cfg(cfg, getattr(module, "cfg", None)),
                          export_dir / "state_dict.bin")
        # A stereo LM's codec is written mono: the LM's config re-wraps it on loading.
        loaders.export_compression(solver.compression_model,
                                   export_dir / "compression_state_dict.bin")

    _with_export_weights(solver, write)
