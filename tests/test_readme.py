"""The README's code runs as written.

A fenced block preceded by ``<!-- readme-test: file PATH -->`` is written to PATH in a
scratch folder; one preceded by ``<!-- readme-test: run COMMAND -->`` is written to the
file the command names and then run there with this interpreter, after the files written
before it in the same section.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
MARKED_BLOCK = re.compile(
    r"<!-- readme-test: (?P<kind>file|run) (?P<arg>[^>]+?) -->\n```[\w-]*\n(?P<body>.*?)```",
    re.S)


@dataclass
class Block:
    kind: str  # "file" or "run"
    arg: str  # the path, or the command
    body: str
    section: str  # the "## " heading the block is under


def marked_blocks(text: str) -> list[Block]:
    """Every marked block of `text`, with the second-level section it belongs to."""
    blocks = []
    for match in MARKED_BLOCK.finditer(text):
        headings = re.findall(r"^## (.+)$", text[:match.start()], re.M)
        blocks.append(Block(match["kind"], match["arg"].strip(), match["body"],
                            headings[-1] if headings else ""))
    return blocks


def test_marked_blocks_are_found():
    text = ("## A\n<!-- readme-test: file x.py -->\n```python\nX = 1\n```\n"
            "## B\n<!-- readme-test: run python y.py -->\n```python\nprint(2)\n```\n")
    found = marked_blocks(text)
    assert [(b.kind, b.arg, b.body, b.section) for b in found] == [
        ("file", "x.py", "X = 1\n", "A"), ("run", "python y.py", "print(2)\n", "B")]


def _run_cases() -> list[pytest.param]:
    blocks = marked_blocks(README.read_text())
    cases = []
    for i, block in enumerate(blocks):
        if block.kind == "run":
            files = [b for b in blocks[:i] if b.kind == "file" and b.section == block.section]
            cases.append(pytest.param(block, files, id=f"{block.section}: {block.arg}"))
    return cases


@pytest.mark.slow
@pytest.mark.parametrize("block, files", _run_cases())
def test_readme_block_runs_as_written(block: Block, files: list[Block], tmp_path):
    for f in files:
        path = tmp_path / f.arg
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f.body)
    command = block.arg.split()
    assert command[0] == "python", f"only python commands are run, got {block.arg!r}"
    (tmp_path / command[1]).write_text(block.body)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(tmp_path), str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, *command[1:]], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    if block.arg == "python train_bpm.py":
        assert "conditioners: ['bpm', 'description'] (1, 1, 64000)" in done.stdout
