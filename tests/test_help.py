"""Every command line of the project answers ``--help`` (usage, exit status 0): the
``audiocraft`` console script and its subcommands, training, evaluation, the data and
metrics tools, scripts/, benchmarks/ and the app. Each runs in its own process (forked
from one that imported the libraries once, so the whole test takes seconds)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

MODULES = {
    "audiocraft.cli": ["--help"],  # the `audiocraft` console script
    "audiocraft.data.synth": ["--help"],
    "audiocraft.data.manifest": ["--help"],
    "audiocraft.metrics.synth_scores": ["--help"],
    "audiocraft.eval": ["--help"],
    "audiocraft.train": ["--help"],
    "audiocraft.recipes.toy_build": ["--help"],
    "audiocraft.recipes.toy_eval": ["--help"],
    "audiocraft.recipes.melody_eval": ["--help"],
    "audiocraft.recipes.tempo_eval": ["--help"],
}
SUBCOMMANDS = ["generate"]  # of the `audiocraft` console script


def _entry_point_files() -> set[str]:
    """Every file of the package, scripts/ and benchmarks/ that runs as a program."""
    found = set()
    for folder in ("audiocraft", "scripts", "benchmarks"):
        for path in (ROOT / folder).rglob("*.py"):
            if 'if __name__ == "__main__":' in path.read_text():
                found.add(path.relative_to(ROOT).as_posix())
    return found


def _scripts() -> list[str]:
    return sorted([p for p in _entry_point_files() if not p.startswith("audiocraft/")]
                  + ["app.py"])


def test_every_entry_point_is_listed():
    modules = {m.replace(".", "/") + ".py" for m in MODULES}
    assert {p for p in _entry_point_files() if p.startswith("audiocraft/")} == modules


@pytest.mark.slow
def test_every_command_answers_help():
    commands = [["module", m, args] for m, args in MODULES.items()]
    commands += [["module", "audiocraft.cli", [sub, "--help"]] for sub in SUBCOMMANDS]
    commands += [["path", str(ROOT / p), ["--help"]] for p in _scripts()]
    done = subprocess.run([sys.executable, str(ROOT / "tests" / "_help_runner.py"),
                           json.dumps(commands)], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(results) == len(commands)
    for result in results:
        name = " ".join(result["command"])
        assert result["code"] == 0, f"{name} exited {result['code']}:\n{result['output'][-2000:]}"
        assert "usage:" in result["output"], f"{name} printed no usage:\n{result['output'][-2000:]}"
        assert "Traceback" not in result["output"], name
    train = next(r for r in results if r["command"][0] == "audiocraft.train")
    assert "solver" in train["output"] and "musicgen/toy" in train["output"]
