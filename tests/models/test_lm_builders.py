"""LM configs (config/model/lm) compose, build, and the debug preset matches its yaml."""

import os

import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from audiocraft.models.builders import (
    get_codebooks_pattern_provider,
    get_debug_lm_model,
    get_lm_model,
)
from audiocraft.modules.conditioners import ConditioningAttributes
from audiocraft.modules.patterns import (
    CoarseFirstPattern,
    DelayedPatternProvider,
    MusicLMPattern,
    ParallelPatternProvider,
    UnrolledPatternProvider,
)

CONFIG_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "config")


def _compose(*overrides):
    with initialize_config_dir(config_dir=os.path.abspath(CONFIG_DIR), version_base="1.3"):
        return compose(overrides=list(overrides))


@pytest.mark.parametrize("scale,dims", [
    ("xsmall", (64, 2, 2)), ("base", (512, 8, 8)), ("small", (1024, 16, 24)),
    ("medium", (1536, 24, 48)), ("large", (2048, 32, 48)),
])
def test_model_scales(scale, dims):
    cfg = _compose("+model/lm=musicgen_lm", "+conditioner=text2music",
                   f"model/lm/model_scale={scale}")
    lm = cfg.transformer_lm
    assert (lm.dim, lm.num_heads, lm.num_layers) == dims
    assert (lm.n_q, lm.card, cfg.codebooks_pattern.modeling) == (4, 2048, "delay")


def test_default_and_musicgen_configs_build():
    cfg = _compose("+model/lm=default", "+conditioner=none", "model/lm/model_scale=xsmall")
    model = get_lm_model(cfg)
    assert model.n_q == 8 and model.card == 1024
    assert isinstance(model.pattern_provider, ParallelPatternProvider)
    assert model.transformer.layers[0].cross_attention is None
    assert model.out_norm is None  # post-norm
    cfg = _compose("+model/lm=musicgen_lm", "+conditioner=text2music_lut",
                   "model/lm/model_scale=xsmall")
    model = get_lm_model(cfg)
    assert model.transformer.layers[0].cross_attention is not None  # fuser has cross
    assert model.out_norm is not None and model.linears[0].bias is None
    codes = model.eval().generate(None, [ConditioningAttributes(text={"description": "x y"})],
                                  max_gen_len=3, top_k=5)
    assert codes.shape == (1, 4, 3)


def test_debug_preset_matches_its_yaml_and_is_deterministic():
    cfg = _compose("+model/lm=debug", "+conditioner=text2music_lut")
    from_yaml = get_lm_model(cfg).state_dict()
    state_a = get_debug_lm_model().state_dict()
    assert {k: tuple(v.shape) for k, v in from_yaml.items()} == {
        k: tuple(v.shape) for k, v in state_a.items()}
    rng_state = torch.get_rng_state()
    state_b = get_debug_lm_model().state_dict()
    assert torch.equal(torch.get_rng_state(), rng_state)  # global RNG untouched
    assert all(torch.equal(state_a[k], state_b[k]) for k in state_a)


@pytest.mark.parametrize("modeling,cls", [
    ("parallel", ParallelPatternProvider), ("delay", DelayedPatternProvider),
    ("unroll", UnrolledPatternProvider), ("coarse_first", CoarseFirstPattern),
    ("musiclm", MusicLMPattern),
])
def test_pattern_provider_from_config(modeling, cls):
    cfg = _compose("+model/lm=musicgen_lm", "+conditioner=none",
                   f"codebooks_pattern.modeling={modeling}")
    provider = get_codebooks_pattern_provider(4, cfg.codebooks_pattern)
    assert isinstance(provider, cls)
    codes = torch.randint(0, 10, (1, 4, 6))
    pattern = provider.get_pattern(6)
    seq, _, _ = pattern.build_pattern_sequence(codes, 10)
    assert torch.equal(pattern.revert_pattern_sequence(seq, -1)[0], codes)


def test_bad_config_values_raise_clear_errors():
    cfg = OmegaConf.create({"modeling": "spiral"})
    with pytest.raises(ValueError, match="Unknown codebooks pattern 'spiral'"):
        get_codebooks_pattern_provider(4, cfg)
    cfg = _compose("+model/lm=debug", "+conditioner=text2music_lut")
    cfg.lm_model = "rnn_lm"
    with pytest.raises(ValueError, match="Unknown lm_model 'rnn_lm'"):
        get_lm_model(cfg)
    cfg = _compose("+model/lm=debug", "+conditioner=text2music_lut",
                   "+transformer_lm.wings=2")
    with pytest.raises(ValueError, match="transformer_lm.*wings"):
        get_lm_model(cfg)
    cfg = _compose("+model/lm=debug", "+conditioner=text2music_lut",
                   "transformer_lm.activation=mish2")
    with pytest.raises(ValueError, match="Unknown activation 'mish2'"):
        get_lm_model(cfg)
