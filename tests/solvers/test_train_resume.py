"""A run killed mid-epoch and resumed ends with the same weights, and the same CSV metrics,
as an uninterrupted one."""

import csv

import pytest
import torch
from lightning.pytorch.callbacks import Callback

import audiocraft.train as train_module
from audiocraft.train import run


class _Kill(Callback):
    """Stops the process abruptly (no checkpoint on the way out) before step `at`."""

    def __init__(self, at: int):
        self.at = at

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == self.at:
            raise SystemExit("simulated kill")


def _run_killed(monkeypatch, cfg, step: int) -> None:
    """Run `cfg` with a trainer killed at the start of global step `step`."""
    build = train_module.build_trainer

    def killing_trainer(cfg_, solver_, run_dir):
        trainer = build(cfg_, solver_, run_dir)
        trainer.callbacks.append(_Kill(step))
        return trainer

    with monkeypatch.context() as patch:
        patch.setattr(train_module, "build_trainer", killing_trainer)
        with pytest.raises(SystemExit):
            run(cfg)


def _weights(result) -> dict[str, torch.Tensor]:
    return torch.load(result.last_checkpoint, weights_only=False)["state_dict"]


@pytest.mark.slow
@pytest.mark.parametrize("solver", ["musicgen/toy", "compression/toy"])
def test_killed_and_resumed_equals_uninterrupted(make_cfg, tmp_path, monkeypatch, solver):
    # 2 epochs of 5 steps, checkpoint every 3 steps: killed at step 7, i.e. mid-epoch 2,
    # one step after its checkpoint (step 6), so the resumed run redoes step 7 too.
    overrides = ["optim.epochs=2", "optim.updates_per_epoch=5", "checkpoint.save_every=3",
                 "checkpoint.export=false", "optim.ema.every=2", "checkpoint.keep_last=2"]
    full = run(make_cfg(solver, *overrides, run_dir=tmp_path / "full"))

    _run_killed(monkeypatch, make_cfg(solver, *overrides, run_dir=tmp_path / "killed"), 7)
    ckpts = sorted(p.name for p in (tmp_path / "killed" / "checkpoints").iterdir())
    assert "last.ckpt" in ckpts and "step00000006.ckpt" in ckpts
    resumed = run(make_cfg(solver, *overrides, run_dir=tmp_path / "killed"))

    a, b = _weights(full), _weights(resumed)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    full_ckpt = torch.load(full.last_checkpoint, weights_only=False)
    resumed_ckpt = torch.load(resumed.last_checkpoint, weights_only=False)
    assert full_ckpt["global_step"] == resumed_ckpt["global_step"] == 10
    ema_a, ema_b = full_ckpt["audiocraft"]["ema"], resumed_ckpt["audiocraft"]["ema"]
    for k in ema_a["shadow"]:
        assert torch.equal(ema_a["shadow"][k], ema_b["shadow"][k]), k
    # The kept step checkpoints are the last `keep_last` (2), besides last.ckpt.
    kept = sorted(p.name for p in (tmp_path / "killed" / "checkpoints").glob("step*.ckpt"))
    assert kept == ["step00000006.ckpt", "step00000009.ckpt"]


def _metrics(run_dir) -> list[dict[str, str]]:
    with open(run_dir / "csv" / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_resumed_run_keeps_and_continues_the_csv_metrics(make_cfg, tmp_path, monkeypatch):
    # Killed at step 7, one step after the checkpoint of step 6: the rows the killed run
    # logged at steps 6 and 7 are logged again by the resumed run and must not be doubled.
    overrides = ["optim.epochs=2", "optim.updates_per_epoch=5", "checkpoint.save_every=3",
                 "checkpoint.export=false", "logger=csv"]
    run(make_cfg("musicgen/toy", *overrides, run_dir=tmp_path / "full"))

    _run_killed(monkeypatch, make_cfg("musicgen/toy", *overrides, run_dir=tmp_path / "killed"), 7)
    before = _metrics(tmp_path / "killed")
    assert {int(r["step"]) for r in before} == set(range(8))  # the kill came after step 7
    run(make_cfg("musicgen/toy", *overrides, run_dir=tmp_path / "killed"))

    full, resumed = _metrics(tmp_path / "full"), _metrics(tmp_path / "killed")
    # Every step's training metrics are there once: none lost at the cut, none doubled.
    assert sorted(int(r["step"]) for r in resumed if r["train/ce"]) == list(range(10))
    for key in resumed[0].keys() - {"epoch", "step"}:  # epoch rides on every row
        steps = [r["step"] for r in resumed if r[key] != ""]
        assert len(steps) == len(set(steps)), (key, steps)
    # The same rows, columns and values as the run that was never interrupted.
    assert resumed == full


def test_evaluation_only_keeps_the_training_metrics(make_cfg, tmp_path):
    overrides = ["optim.epochs=1", "optim.updates_per_epoch=4", "checkpoint.export=false",
                 "logger=csv"]
    run(make_cfg("musicgen/toy", *overrides, run_dir=tmp_path / "run"))
    trained = _metrics(tmp_path / "run")
    assert any(r["train/ce"] for r in trained)
    run(make_cfg("musicgen/toy", *overrides, "execute_only=valid", run_dir=tmp_path / "run"))
    evaluated = _metrics(tmp_path / "run")
    # The training rows, then the evaluation's validation row.
    assert [{k: r.get(k, "") for k in trained[0]} for r in evaluated[:len(trained)]] == trained
    assert len(evaluated) > len(trained) and evaluated[-1]["valid/ce"]
