"""Every grid file lists experiments whose configs compose and pass the config checks;
`dora grid` itself reads one of them (dry run)."""

import importlib
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

import audiocraft.grids
from audiocraft.solvers.kinds import validate_config
from audiocraft.train import CONFIG_DIR


def _grid_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(audiocraft.grids.__path__, "audiocraft.grids."):
        module = importlib.import_module(info.name)
        if hasattr(module, "explorer"):
            names.append(info.name)
    return sorted(names)


class _Recorder:
    """Stands in for dora's Launcher: records the overrides of every experiment."""

    def __init__(self, bound=None, runs=None):
        self.bound = dict(bound or {})
        self.runs = [] if runs is None else runs

    def slurm_(self, **kwargs):
        return self

    def bind_(self, overrides):
        self.bound.update(overrides)

    def bind(self, overrides):
        return _Recorder({**self.bound, **overrides}, self.runs)

    def __call__(self, overrides=None):
        self.runs.append({**self.bound, **(overrides or {})})


def test_grid_files_exist():
    assert {"audiocraft.grids.musicgen.musicgen_base", "audiocraft.grids.musicgen.toy_sweep",
            "audiocraft.grids.musicgen.eval_sampling", "audiocraft.grids.musicgen.eval_metrics",
            "audiocraft.grids.musicgen.eval_toy",
            "audiocraft.grids.compression.encodec_32khz"} <= set(_grid_modules())


@pytest.mark.parametrize("name", _grid_modules())
def test_grid_experiments_compose_and_validate(name, tmp_path):
    recorder = _Recorder()
    importlib.import_module(name).explorer(recorder)
    assert len(recorder.runs) >= 2
    signatures = set()
    for overrides in recorder.runs:
        argv = [f"{k}={v}" for k, v in overrides.items()]
        with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
            cfg = compose("config", overrides=argv)
        OmegaConf.set_struct(cfg, False)
        cfg.synthetic = None  # the data check needs manifests that exist
        cfg.datasource.train = cfg.datasource.valid = str(tmp_path / "m.jsonl")
        (tmp_path / "m.jsonl").write_text('{"path": "a.wav", "duration": 1.0}\n')
        validate_config(cfg)
        signatures.add(tuple(sorted(argv)))
    assert len(signatures) == len(recorder.runs)  # no experiment listed twice


@pytest.mark.slow
def test_dora_grid_dry_run(tmp_path):
    env = {**os.environ, "AUDIOCRAFT_DORA_DIR": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-m", "dora", "-P", "audiocraft", "grid", "musicgen.toy_sweep",
         "--dry_run", "--init"], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    xps = list(Path(tmp_path, "xps").iterdir())
    assert len(xps) == 4  # 2 learning rates x 2 dropouts, one folder per signature
