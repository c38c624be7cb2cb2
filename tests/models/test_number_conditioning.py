"""A model with the `number` conditioner on `bpm`: built from the toy recipe's config
(tiny sizes), saved, loaded, fed from captions or explicit values, and grown from a model
without it (`continue_with_new_conditioners`)."""

import pytest
import torch

from audiocraft.models import MusicGen, builders, loaders
from audiocraft.recipes.toy_build import compose
from audiocraft.solvers.builders import load_with_new_conditioners
from audiocraft.solvers.config_check import ConfigError

TINY = ["transformer_lm.dim=16", "transformer_lm.num_heads=2", "transformer_lm.num_layers=1",
        "transformer_lm.card=400", "conditioners.description.lut.n_bins=64",
        "conditioners.description.lut.dim=8", "sample_rate=32000",
        "dataset.segment_duration=1.0"]


def _lm(solver, extra=()):
    torch.manual_seed(0)
    cfg = compose(solver, [*TINY, *extra])
    return builders.get_lm_model(cfg), cfg


def _musicgen(lm):
    debug = MusicGen.get_pretrained("debug", device="cpu")
    return MusicGen("tiny-bpm", debug.compression_model, lm.eval(), max_duration=1.0)


def test_round_trip_and_bpm_from_captions_or_explicit_values(tmp_path):
    lm, cfg = _lm("musicgen/toy_lm_number", ["conditioners.bpm.number.dim=8"])
    assert sorted(lm.condition_provider.conditioners) == ["bpm", "description"]
    loaders.export_lm(lm, cfg, tmp_path)
    loaded = loaders.load_lm_model(tmp_path)
    for name, value in lm.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[name], value)
    model = _musicgen(loaded)
    assert model.caption_attributes_read() == ["bpm"]
    attrs = model._build_conditions(["a slow rock ballad at 128 bpm", "no tempo here"],
                                    [None, None])
    assert [a.text["bpm"] for a in attrs] == ["128", None]
    model.set_condition_values(bpm=90)
    attrs = model._build_conditions(["a slow rock ballad at 128 bpm"], [None])
    assert attrs[0].text["bpm"] == "90"
    model.set_condition_values(bpm=None)
    assert model._build_conditions(["at 128 bpm"], [None])[0].text["bpm"] == "128"
    with pytest.raises(ValueError, match="Unknown condition values"):
        model.set_condition_values(tempo=3)
    model.set_generation_params(duration=0.5)
    slow = model.generate(["a track at 70 bpm"], seed=0)
    fast = model.generate(["a track at 160 bpm"], seed=0)
    assert slow.shape == fast.shape and slow.shape[:2] == (1, 1)
    assert not torch.equal(slow, fast)  # the number reaches the LM


def test_models_without_the_conditioner_ignore_numbers():
    lm, _ = _lm("musicgen/toy_lm")
    model = _musicgen(lm)
    assert model.caption_attributes_read() == []
    assert "bpm" not in model._build_conditions(["at 128 bpm"], [None])[0].text


def test_grow_a_model_with_new_conditioners(tmp_path):
    base, base_cfg = _lm("musicgen/toy_lm")
    loaders.export_lm(base, base_cfg, tmp_path)
    grown, _ = _lm("musicgen/toy_lm_number", ["conditioners.bpm.number.dim=8"])
    fresh = load_with_new_conditioners(grown, str(tmp_path))
    assert fresh and all(k.startswith("condition_provider.conditioners.bpm.") for k in fresh)
    state = grown.state_dict()
    for name, value in base.state_dict().items():
        torch.testing.assert_close(state[name], value)
    wider, _ = _lm("musicgen/toy_lm", ["transformer_lm.dim=32"])
    with pytest.raises(ConfigError, match="do not fit this config"):
        load_with_new_conditioners(wider, str(tmp_path))
