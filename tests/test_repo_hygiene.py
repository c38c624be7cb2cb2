"""Folders the notebook and the README's commands write are ignored by git."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_output_folders_are_ignored():
    notebook = json.loads((ROOT / "notebooks" / "demo.ipynb").read_text())
    source = "".join("".join(cell["source"]) for cell in notebook["cells"])
    out_dir = re.search(r'OUT_DIR = "([^"]+)"', source)
    assert out_dir is not None
    for folder in (out_dir.group(1), "demo_out", "outputs"):
        done = subprocess.run(["git", "check-ignore", "-q", f"{folder}/x.wav"], cwd=ROOT)
        assert done.returncode == 0, f"{folder}/ is not ignored by git"
