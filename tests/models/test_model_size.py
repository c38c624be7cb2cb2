"""Model sizes are checked from the config before anything is built; checkpoint configs
never read the environment."""

import copy
import resource

import pytest
import torch
from omegaconf import OmegaConf

from audiocraft.models import builders, model_size
from audiocraft.models.loaders import CheckpointError, export_lm, load_lm_model
from audiocraft.models.model_size import ModelTooLargeError, max_params, set_max_params


@pytest.fixture(autouse=True)
def default_cap(monkeypatch):
    monkeypatch.delenv(model_size.MAX_PARAMS_ENV, raising=False)
    set_max_params(None)
    yield
    set_max_params(None)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def lm_cfg(**changes):
    cfg = copy.deepcopy(builders.DEBUG_LM_CFG)
    cfg["transformer_lm"].update(changes)
    return OmegaConf.create(cfg)


def codec_cfg(seanet=None, rvq=None, **top):
    cfg = copy.deepcopy(builders.DEBUG_COMPRESSION_CFG)
    cfg["seanet"].update(seanet or {})
    cfg["rvq"].update(rvq or {})
    cfg.update(top)
    return OmegaConf.create(cfg)


def test_the_estimate_matches_built_models():
    for built, estimate in [
        (builders.get_debug_lm_model(), model_size.check_lm_config(
            builders.DEBUG_LM_CFG["transformer_lm"], builders.DEBUG_LM_CFG["conditioners"])),
        (builders.get_debug_compression_model(), model_size.check_compression_config(
            {k: builders.dict_from_config(OmegaConf.create(builders.DEBUG_COMPRESSION_CFG)[k])
             for k in ("encodec", "seanet", "rvq")})),
    ]:
        real = sum(p.numel() for p in built.parameters()) + sum(
            b.numel() for b in built.buffers())
        assert real / 3 < estimate < 3 * real, (real, estimate)


@pytest.mark.parametrize("changes", [
    {"dim": 1_000_000}, {"num_layers": 10**9}, {"card": 10**12}, {"n_q": 10**7},
    {"hidden_scale": 1e9},
])
def test_an_absurd_lm_config_fails_before_allocating(changes):
    before = peak_rss_mb()
    with pytest.raises(ModelTooLargeError, match=r"over the cap of 4e\+09.*AUDIOCRAFT_MAX_PARAMS"):
        builders.get_lm_model(lm_cfg(**changes))
    assert peak_rss_mb() - before < 200  # nothing of its size was allocated


@pytest.mark.parametrize("seanet, rvq, top", [
    ({"n_filters": 10**6}, {}, {}),
    ({"ratios": [2] * 30}, {}, {}),
    ({}, {"n_q": 10**6, "bins": 10**6}, {}),
    ({"lstm": 10**6}, {}, {}),
])
def test_an_absurd_codec_config_fails_before_allocating(seanet, rvq, top):
    with pytest.raises(ModelTooLargeError, match="compression model of about"):
        builders.get_compression_model(codec_cfg(seanet, rvq, **top))


@pytest.mark.parametrize("build, key, value, message", [
    ("lm", "dim", 0, "transformer_lm.dim must be a whole number >= 1, got 0"),
    ("lm", "num_layers", -2, "transformer_lm.num_layers must be a whole number >= 1"),
    ("lm", "card", 2.5, "transformer_lm.card must be a whole number"),
    ("lm", "n_q", "four", "transformer_lm.n_q must be a whole number"),
    ("lm", "hidden_scale", float("nan"), "transformer_lm.hidden_scale must be a number > 0"),
    ("lm", "num_heads", 0, "transformer_lm.num_heads"),
    ("codec", "sample_rate", 0, "encodec.sample_rate must be a number > 0, got 0"),
    ("codec", "sample_rate", -16000, "encodec.sample_rate must be a number > 0"),
    ("codec", "ratios", [10, 0, 16], r"seanet.ratios\[1\].ratio must be a whole number >= 1"),
    ("codec", "ratios", [], "seanet.ratios must be a list of 1 to 32"),
    ("codec", "n_filters", -4, "seanet.n_filters must be a whole number >= 1"),
    ("codec", "bins", 0, "rvq.bins must be a whole number >= 1"),
])
def test_zero_negative_and_non_numbers_are_refused(build, key, value, message):
    if build == "lm":
        cfg = lm_cfg(**{key: value})
        with pytest.raises(ValueError, match=message):
            builders.get_lm_model(cfg)
        return
    if key == "sample_rate":
        cfg = codec_cfg(sample_rate=value)
    elif key == "bins":
        cfg = codec_cfg(rvq={key: value})
    else:
        cfg = codec_cfg({key: value})
    with pytest.raises(ValueError, match=message):
        builders.get_compression_model(cfg)


def test_the_cap_is_configurable(monkeypatch):
    assert max_params() == model_size.DEFAULT_MAX_PARAMS
    monkeypatch.setenv(model_size.MAX_PARAMS_ENV, "1e4")
    assert max_params() == 10_000
    with pytest.raises(ModelTooLargeError, match="over the cap of 1e\\+04"):
        builders.get_debug_lm_model()
    set_max_params(10**7)  # the process setting wins over the environment
    assert builders.get_debug_lm_model() is not None
    monkeypatch.setenv(model_size.MAX_PARAMS_ENV, "lots")
    set_max_params(None)
    with pytest.raises(ValueError, match="AUDIOCRAFT_MAX_PARAMS='lots' is not a parameter count"):
        max_params()
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="whole number >= 1"):
            set_max_params(bad)


def test_hub_config_interpolations_never_read_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("AUDIOCRAFT_TEST_SECRET", "s3cr3t-value")
    model = builders.get_debug_lm_model()
    cfg = OmegaConf.create(builders.DEBUG_LM_CFG)
    cfg.dora = {"dir": "${oc.env:AUDIOCRAFT_TEST_SECRET}"}  # as official files hold
    path = export_lm(model, cfg, tmp_path / "ok")
    loaded = load_lm_model(path)
    assert "s3cr3t" not in str(OmegaConf.to_container(loaded.cfg, resolve=True))
    for key in ("transformer_lm.dim", "conditioners.description.lut.tokenizer",
                "codebooks_pattern.modeling"):
        bad = OmegaConf.create(builders.DEBUG_LM_CFG)
        OmegaConf.update(bad, key, "${oc.env:AUDIOCRAFT_TEST_SECRET}")
        path = export_lm(model, bad, tmp_path / key)
        with pytest.raises((ValueError, CheckpointError)) as info:
            load_lm_model(path)
        assert "s3cr3t" not in str(info.value)


def test_an_absurd_hub_config_is_refused_before_building(tmp_path):
    model = builders.get_debug_lm_model()
    cfg = OmegaConf.create(builders.DEBUG_LM_CFG)
    cfg.transformer_lm.dim = 2**20  # a 4 KB file asking for terabytes
    path = export_lm(model, cfg, tmp_path)
    with pytest.raises(ModelTooLargeError, match="language model of about"):
        load_lm_model(path)
    cfg.transformer_lm.dim = 4096  # under the cap, but far more than the file holds
    path = export_lm(model, cfg, tmp_path)
    before = peak_rss_mb()
    with pytest.raises(CheckpointError, match=r"asks for a model of about .* but the file "
                                              r"holds .*refused before building"):
        load_lm_model(path)
    assert peak_rss_mb() - before < 200
    torch.save({"best_state": {}, "xp.cfg": "- a list"}, tmp_path / "state_dict.bin")
    with pytest.raises(CheckpointError, match="must be a mapping"):
        load_lm_model(tmp_path / "state_dict.bin")
