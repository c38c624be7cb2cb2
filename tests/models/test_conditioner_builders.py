from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from audiocraft.models.builders import get_condition_fuser, get_conditioner_provider
from audiocraft.modules.conditioners import ConditioningAttributes, ConditioningProvider
from audiocraft.modules.conditioners.chroma import ChromaStemConditioner
from audiocraft.modules.conditioners.lut import LUTConditioner
from audiocraft.modules.conditioners.text import T5Conditioner

CONFIG_DIR = Path(__file__).resolve().parents[2] / "config" / "conditioner"
BASE = {"device": "cpu", "sample_rate": 32000, "dataset": {"segment_duration": 10}}


def _cfg(name: str):
    return OmegaConf.merge(OmegaConf.create(BASE), OmegaConf.load(CONFIG_DIR / f"{name}.yaml"))


@pytest.mark.parametrize("name", ["none", "text2music", "chroma2music", "text2music_lut"])
def test_every_conditioner_config_builds(name):
    cfg = _cfg(name)
    provider = get_conditioner_provider(32, cfg)
    fuser = get_condition_fuser(cfg)
    assert isinstance(provider, ConditioningProvider)
    used = {n for names in fuser.fuse2cond.values() for n in names}
    assert used == set(provider.conditioners.keys())


def test_built_types_and_settings():
    melody = get_conditioner_provider(32, _cfg("chroma2music")).conditioners
    assert isinstance(melody["description"], T5Conditioner)
    assert melody["description"].dim == 768 and melody["description"].word_dropout == 0.2
    chroma = melody["self_wav"]
    assert isinstance(chroma, ChromaStemConditioner)
    assert chroma.chroma.winlen == 2 ** 14 and chroma.chroma.argmax
    assert chroma.chroma_len == chroma.chroma.num_frames(10 * 32000)
    lut_provider = get_conditioner_provider(32, _cfg("text2music_lut"))
    assert isinstance(lut_provider.conditioners["description"], LUTConditioner)
    emb, mask = lut_provider(lut_provider.tokenize(
        [ConditioningAttributes(text={"description": "happy jazz"})]))["description"]
    assert emb.shape == (1, 2, 32) and mask.tolist() == [[1, 1]]
    assert lut_provider.conditioners["description"].number_proj is None  # off by default
    cfg = _cfg("text2music_lut")
    cfg.conditioners.description.lut.number_features = 8
    numbers = get_conditioner_provider(32, cfg)
    assert numbers.conditioners["description"].number_proj.in_features == 16
    attrs = [ConditioningAttributes(text={"description": "jazz at 120 bpm"}),
             ConditioningAttributes(text={"description": None})]
    emb, mask = numbers(numbers.tokenize(attrs))["description"]
    assert emb.shape == (2, 4, 32) and mask.tolist() == [[1, 1, 1, 1], [0, 0, 0, 0]]


def test_reference_xp_cfg_matches_checkpoint_keys(fixtures_dir):
    cfg = OmegaConf.load(Path(fixtures_dir) / "audiocraft" / "lm_xp_cfg.yaml")
    provider = get_conditioner_provider(cfg.transformer_lm.dim, cfg)
    state = torch.load(Path(fixtures_dir) / "audiocraft" / "state_dict.bin",
                       weights_only=True)["best_state"]
    ours = {f"condition_provider.{k}": v.shape for k, v in provider.state_dict().items()}
    theirs = {k: v.shape for k, v in state.items() if k.startswith("condition_provider.")}
    assert ours == theirs


def test_unknown_conditioner_model_is_clear_error():
    cfg = _cfg("text2music")
    cfg.conditioners.description.model = "bert"
    with pytest.raises(ValueError, match=r"Unknown conditioner model 'bert'.*conditioners\.desc"):
        get_conditioner_provider(32, cfg)
    # The message lists the registered models (tests may register more).
    known = r"known conditioner models are \['beat', 'chroma_stem', 'clap', 'lut'"
    with pytest.raises(ValueError, match=known):
        get_conditioner_provider(32, cfg)
    cfg = _cfg("text2music")
    cfg.conditioners.description.t5.unknown_option = 1
    with pytest.raises(ValueError, match="conditioners.description.t5"):
        get_conditioner_provider(32, cfg)
    cfg = _cfg("text2music")
    cfg.fuser.concat = ["description"]
    with pytest.raises(ValueError, match="fuser"):
        get_condition_fuser(cfg)


def test_t5_projection_matches_reference_outputs(fixtures_dir):
    import numpy as np

    root = Path(fixtures_dir) / "audiocraft"
    cfg = OmegaConf.load(root / "lm_xp_cfg.yaml")
    provider = get_conditioner_provider(cfg.transformer_lm.dim, cfg)
    state = torch.load(root / "state_dict.bin", weights_only=True)["best_state"]
    prefix = "condition_provider."
    provider.load_state_dict({k[len(prefix):]: v for k, v in state.items()
                              if k.startswith(prefix)})
    ref = np.load(root / "reference.npz")
    t5 = provider.conditioners["description"]
    assert isinstance(t5, T5Conditioner)
    emb, mask = t5.project(torch.from_numpy(ref["cond_t5_hidden"]),
                           torch.from_numpy(ref["cond_mask"]))
    np.testing.assert_allclose(emb.detach().numpy(), ref["cond_embeds"], atol=1e-5)
