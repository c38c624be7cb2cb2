"""Shared pieces of the training tests: a small synthetic data set rendered once per
session, and composition of the real config tree shrunk to a few CPU steps."""

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from audiocraft.train import CONFIG_DIR

# Shrinks any recipe to a few seconds on CPU; tests add their own overrides after these.
FAST = [
    "logger=csv",
    "logging.progress_bar=false",
    "logging.log_every_n_steps=1",
]


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory) -> Path:
    from audiocraft.data.synth import write_dataset

    root = tmp_path_factory.mktemp("synthetic")
    write_dataset(root / "train", num=6, duration=3.0, seed=0, sample_rate=32000)
    write_dataset(root / "valid", num=2, duration=3.0, seed=1, sample_rate=32000)
    return root


def compose_config(overrides: list[str]):
    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        return compose("config", overrides=overrides)


@pytest.fixture
def make_cfg(synthetic_root, tmp_path):
    """make_cfg(solver, *overrides) -> a composed config writing into tmp_path/run."""

    def _make(solver: str, *overrides: str, run_dir: Path | None = None):
        own_data = any(o.startswith("dset=") for o in overrides)
        data = [] if own_data else [f"synthetic.root={synthetic_root}"]
        return compose_config([
            f"solver={solver}", *FAST, *data,
            f"run_dir={run_dir or tmp_path / 'run'}",
            *overrides,
        ])

    return _make


@pytest.fixture
def compose_cfg():
    """compose_cfg(overrides) -> the composed config, unshrunk."""
    return compose_config


@pytest.fixture
def fast_overrides() -> list[str]:
    return list(FAST)
