"""Bad input fails before training with a message naming the problem; a non-finite loss
stops the run and leaves the last checkpoint intact."""

import pytest
import torch
from hydra.errors import ConfigCompositionException
from lightning.pytorch.callbacks import Callback

import audiocraft.train as train_module
from audiocraft.solvers.checkpoint import NonFiniteLossError
from audiocraft.solvers.config_check import ConfigError
from audiocraft.train import run


def _no_training(monkeypatch):
    """Make any attempt to start training fail loudly: errors must come before it."""
    def fit(*args, **kwargs):
        raise AssertionError("training started")
    monkeypatch.setattr("lightning.Trainer.fit", fit)


def test_missing_manifest(make_cfg, tmp_path, monkeypatch):
    _no_training(monkeypatch)
    cfg = make_cfg("musicgen/toy", "dset=audio_template",
                   f"datasource.train={tmp_path}/nope.jsonl",
                   f"datasource.valid={tmp_path}/nope.jsonl")
    with pytest.raises(ConfigError, match=r"datasource.train.*does not exist"):
        run(cfg)


def test_unset_manifest_in_template(make_cfg, monkeypatch):
    _no_training(monkeypatch)
    with pytest.raises(ConfigError, match=r"`datasource.train` is not set"):
        run(make_cfg("musicgen/toy", "dset=audio_template"))


def test_empty_data_set(make_cfg, tmp_path, monkeypatch):
    _no_training(monkeypatch)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    cfg = make_cfg("compression/toy", "dset=audio_template",
                   f"datasource.train={empty}", f"datasource.valid={empty}")
    with pytest.raises(ConfigError, match="is empty"):
        run(cfg)


def test_unknown_config_key_is_named(compose_cfg):
    with pytest.raises(ConfigCompositionException, match="lrr"):
        compose_cfg(["solver=musicgen/toy", "optim.lrr=3e-4"])


def test_unknown_loss_name_is_named(make_cfg, monkeypatch):
    _no_training(monkeypatch)
    with pytest.raises(ConfigError, match=r"losses.foo"):
        run(make_cfg("compression/toy", "+losses.foo=1.0"))


def test_float16_compression_refused(make_cfg, monkeypatch):
    _no_training(monkeypatch)
    with pytest.raises(ConfigError, match="bf16-mixed"):
        run(make_cfg("compression/toy", "trainer.precision=16-mixed"))


def test_codec_cardinality_mismatch(make_cfg, monkeypatch):
    _no_training(monkeypatch)
    # The debug codec has 400 entries per codebook.
    with pytest.raises(ConfigError, match=r"transformer_lm.card=400"):
        run(make_cfg("musicgen/toy", "transformer_lm.card=2048"))


def test_codec_sample_rate_mismatch(make_cfg, monkeypatch):
    _no_training(monkeypatch)
    with pytest.raises(ConfigError, match=r"sample_rate=32000"):
        run(make_cfg("musicgen/toy", "sample_rate=16000"))


class _Poison(Callback):
    """Turns the LM weights into NaN once step `at` starts."""

    def __init__(self, at: int):
        self.at = at

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == self.at:
            with torch.no_grad():
                for p in pl_module.lm.parameters():
                    p.fill_(float("nan"))


@pytest.mark.slow
def test_non_finite_loss_stops_with_checkpoint_intact(make_cfg, tmp_path, monkeypatch):
    build = train_module.build_trainer

    def poisoned(cfg, solver, run_dir):
        trainer = build(cfg, solver, run_dir)
        trainer.callbacks.append(_Poison(5))
        return trainer

    monkeypatch.setattr(train_module, "build_trainer", poisoned)
    with pytest.raises(NonFiniteLossError, match="not finite at step 5"):
        run(make_cfg("musicgen/toy", "checkpoint.save_every=4"))
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    ckpt = torch.load(last, weights_only=False)
    assert ckpt["global_step"] == 4
    assert all(torch.isfinite(v).all() for v in ckpt["state_dict"].values()
               if v.is_floating_point())
