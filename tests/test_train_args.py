"""The training command's front door: help, override errors with the valid choices,
known noise silenced, Ctrl-C hint, train.log appended."""

from __future__ import annotations

import logging
import os
import signal
import sys
import warnings

import pytest
from hydra import compose, initialize_config_dir

from audiocraft import train
from audiocraft.train_args import CONFIG_DIR, config_options, config_problem, help_text


def test_solver_options_are_the_nested_recipes():
    options = config_options("solver")
    assert "musicgen/toy" in options and "compression/toy" in options
    assert "default" not in options and "musicgen/default" not in options
    assert all(name in help_text() for name in options)


@pytest.mark.parametrize("overrides, message", [
    (["solver=toy"], "unknown solver 'toy': the options are compression/encodec_32khz"),
    (["solver=toy"], "Did you mean 'compression/toy' or 'musicgen/toy'?"),
    (["solver=musicgen/toyy"], "Did you mean 'musicgen/toy'?"),
    (["trainer=gpux"], "unknown trainer 'gpux': the options are cpu, ddp"),
    (["optim.lrr=3"], "unknown key 'optim.lrr': the keys under 'optim' are betas"),
    (["optim.lrr=3"], "Did you mean 'optim.lr'? (to add a new key, prefix it with +: "
                      "+optim.lrr=3)"),
    (["nosuch.key=1"], "'nosuch' is not a section of the config"),
    (["oops"], "Error parsing override 'oops' (overrides are KEY=VALUE"),
])
def test_bad_overrides_get_one_line_with_the_choices(overrides, message):
    problem = config_problem(overrides)
    assert problem is not None and message in problem
    assert "\n" not in problem and "Traceback" not in problem


def test_good_overrides_pass():
    assert config_problem(["solver=compression/toy", "optim.lr=1e-3", "+extra.key=1"]) is None


def test_cli_help_and_errors_exit_without_running(capsys, monkeypatch):
    monkeypatch.setattr(train, "main", lambda: pytest.fail("must not run"))
    assert train.cli(["--help"]) == 0
    assert "usage: python -m audiocraft.train" in capsys.readouterr().out
    assert train.cli(["solver=toy"]) == 2
    assert capsys.readouterr().err.startswith("config error: unknown solver 'toy'")
    assert train.cli(["--cfg", "job"]) == 2
    assert "unknown option --cfg" in capsys.readouterr().err


@pytest.mark.parametrize("lightning_style", [False, True])
def test_ctrl_c_exits_130_with_how_to_resume(capsys, monkeypatch, tmp_path, lightning_style):
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "last.ckpt").write_bytes(b"x")

    def main():
        train._run_folder = tmp_path
        try:
            os.kill(os.getpid(), signal.SIGINT)
            signal.pause()  # the handler raises KeyboardInterrupt
        except KeyboardInterrupt:
            if lightning_style:  # Lightning shuts down gracefully, then exits 1
                sys.exit(1)
            raise

    monkeypatch.setattr(train, "main", main)
    monkeypatch.setattr(train, "config_problem", lambda argv: None)
    assert train.cli(["solver=musicgen/toy"]) == 130
    err = capsys.readouterr().err
    assert "interrupted: run the same command again to resume" in err
    assert str(tmp_path / "checkpoints") in err
    assert "starts the run again" in train.resume_hint(tmp_path / "fresh")


def test_known_noise_is_silenced_and_only_it(caplog):
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        train.quiet_known_warnings()
        for message, category in [
                ("`isinstance(treespec, LeafSpec)` is deprecated, use x", FutureWarning),
                ("Found 142 module(s) in eval mode at the start of training. Ok", UserWarning),
                ("The 'train_dataloader' does not have many workers which may be", UserWarning),
                ("something else", UserWarning)]:
            warnings.warn(message, category, stacklevel=1)
    assert [str(w.message) for w in seen] == ["something else"]
    rank_zero = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    with caplog.at_level(logging.INFO):
        rank_zero.info("💡 Tip: For seamless cloud logging, try installing a thing")
        rank_zero.info("GPU available: False")
    assert [r.getMessage() for r in caplog.records] == ["GPU available: False"]


def test_train_log_appends_across_launches():
    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("config", return_hydra_config=True)
    assert cfg.hydra.job_logging.handlers.file.mode == "a"
