"""Every code block of the README is checked: run as written, or its commands checked.

Each fenced block is preceded by a marker ``<!-- readme-test: KIND ARGS [| OPTION]... -->``
(a test fails on any block without one). Kinds:

- ``file PATH``: written to PATH in a scratch folder (for a later ``run`` block of the
  same ``## `` section);
- ``run COMMAND``: written to the file the python command names and run there;
- ``python``: the block run as a script in a scratch folder;
- ``shell``: each command line run with bash in a scratch folder;
- ``help``: each command checked without running it: its program's ``--help`` must list
  every ``--option`` the line uses; ``python -m audiocraft.train`` lines must compose
  (the overrides are checked like the command does); ``make X`` must exist
  (``make -n X``); ``pip install -e '.[a,b]'`` must name existing extras;
- ``needs-weights REASON``: needs weights that cannot be downloaded here (official
  checkpoints, a trained run); a python block is compiled, not run;
- ``text``: not code (a file tree).

Options keep the runs short while the block text stays what a user runs:
``sub: OLD -> NEW`` replaces text before running (OLD must occur: durations, counts, a
model name), ``given: CODE`` runs CODE first (what a fragment takes from its context),
``audio: FILE SECONDS`` writes that much noise to FILE first.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audiocraft.train_args import config_problem

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
MARKED_BLOCK = re.compile(
    r"<!-- readme-test: (?P<spec>.*?) -->\n```[\w-]*\n(?P<body>.*?)^```", re.S | re.M)
ANY_BLOCK = re.compile(r"^```[\w-]*\n.*?^```", re.S | re.M)
KINDS = ("file", "run", "python", "shell", "help", "needs-weights", "text")


@dataclass
class Block:
    kind: str  # one of KINDS
    arg: str  # the path, the command, or the reason
    body: str
    section: str  # the "## " heading the block is under
    subs: list[tuple[str, str]] = field(default_factory=list)
    given: str = ""
    audio: list[tuple[str, float]] = field(default_factory=list)
    line: int = 0

    def text(self) -> str:
        """The body with the substitutions made (each must apply)."""
        body = self.body
        for old, new in self.subs:
            assert old in body, f"README line {self.line}: `{old}` is not in the block"
            body = body.replace(old, new)
        return body


def marked_blocks(text: str) -> list[Block]:
    """Every marked block of `text`, with the second-level section it belongs to."""
    blocks = []
    for match in MARKED_BLOCK.finditer(text):
        headings = re.findall(r"^## (.+)$", text[:match.start()], re.M)
        head, *options = [part.strip() for part in match["spec"].split(" | ")]
        kind, _, arg = head.partition(" ")
        block = Block(kind, arg.strip(), match["body"], headings[-1] if headings else "",
                      line=text[:match.start()].count("\n") + 1)
        for option in options:
            name, _, value = option.partition(": ")
            if name == "sub":
                old, _, new = value.partition(" -> ")
                block.subs.append((old, new))
            elif name == "given":
                block.given += value + "\n"
            elif name == "audio":
                path, seconds = value.split()
                block.audio.append((path, float(seconds)))
            else:
                raise ValueError(f"README line {block.line}: unknown option {option!r}")
        blocks.append(block)
    return blocks


def commands(body: str) -> list[str]:
    """The command lines of a shell block: continuations (a trailing backslash, or an
    indented next line) joined, comments dropped."""
    joined = re.sub(r"\s*\\\n\s*", " ", body)
    joined = re.sub(r"\n[ \t]+(?=\S)", " ", joined)
    lines = [re.sub(r"(^|\s)#.*$", "", line).strip() for line in joined.splitlines()]
    return [line for line in lines if line]


def test_marked_blocks_are_found():
    text = ("## A\n<!-- readme-test: file x.py -->\n```python\nX = 1\n```\n"
            "## B\n<!-- readme-test: python | sub: 1 -> 2 | given: import os -->\n```python\n"
            "print(1)\n```\n")
    found = marked_blocks(text)
    assert [(b.kind, b.arg, b.body, b.section) for b in found] == [
        ("file", "x.py", "X = 1\n", "A"), ("python", "", "print(1)\n", "B")]
    assert found[1].text() == "print(2)\n" and found[1].given == "import os\n"
    assert commands("a --x 1 \\\n   --y 2  # note\n# only a comment\nb\n") == ["a --x 1 --y 2", "b"]


def test_every_block_is_marked():
    text = README.read_text()
    marked = {m.start("body") for m in MARKED_BLOCK.finditer(text)}
    unmarked = [text[:m.start()].count("\n") + 1 for m in ANY_BLOCK.finditer(text)
                if text.index("\n", m.start()) + 1 not in marked]
    assert not unmarked, f"README code blocks without a readme-test marker at lines {unmarked}"
    assert all(b.kind in KINDS for b in marked_blocks(text))


def _blocks(*kinds: str) -> list[Block]:
    return [b for b in marked_blocks(README.read_text()) if b.kind in kinds]


def _missing(excerpt: dict, config: dict, prefix: str = "") -> list[str]:
    """Keys of ``excerpt`` absent from ``config`` or with another value there."""
    wrong = []
    for key, value in excerpt.items():
        if key not in config:
            wrong.append(f"{prefix}{key} (absent)")
        elif isinstance(value, dict) and isinstance(config[key], dict):
            wrong += _missing(value, config[key], f"{prefix}{key}.")
        elif value != config[key]:
            wrong.append(f"{prefix}{key}: {value!r} here, {config[key]!r} in the file")
    return wrong


def test_config_excerpts_match_their_files():
    """A ``text (an excerpt of PATH)`` YAML block says what PATH holds."""
    import yaml

    excerpts = [b for b in _blocks("text") if b.arg.startswith("(an excerpt of ")]
    assert excerpts
    for block in excerpts:
        path = ROOT / block.arg.removeprefix("(an excerpt of ").rstrip(")")
        wrong = _missing(yaml.safe_load(block.body), yaml.safe_load(path.read_text()))
        assert not wrong, f"README line {block.line}: {wrong}"


def _env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(tmp_path), str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
        "AUDIOCRAFT_DORA_DIR": str(tmp_path / "outputs")}


def _prepare(block: Block, tmp_path: Path) -> None:
    for path, seconds in block.audio:
        noise = np.random.default_rng(0).uniform(-0.3, 0.3, int(seconds * 32000))
        sf.write(tmp_path / path, noise, 32000)


def _run_cases() -> list[pytest.param]:
    blocks = marked_blocks(README.read_text())
    cases = []
    for i, block in enumerate(blocks):
        if block.kind in ("run", "python", "shell"):
            files = [b for b in blocks[:i] if b.kind == "file" and b.section == block.section]
            cases.append(pytest.param(block, files, id=f"line {block.line}: {block.kind}"))
    return cases


@pytest.mark.slow
@pytest.mark.parametrize("block, files", _run_cases())
def test_readme_block_runs_as_written(block: Block, files: list[Block], tmp_path):
    for f in files:
        path = tmp_path / f.arg
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f.body)
    _prepare(block, tmp_path)
    env = _env(tmp_path)
    if block.kind == "shell":
        for line in commands(block.text()):
            done = subprocess.run(["bash", "-c", line], cwd=tmp_path, env=env,
                                  capture_output=True, text=True, timeout=600)
            assert done.returncode == 0, f"{line}\n{done.stderr[-3000:]}"
        return
    if block.kind == "python":
        script, args = "block.py", []
    else:
        command = block.arg.split()
        assert command[0] == "python", f"only python commands are run, got {block.arg!r}"
        script, args = command[1], command[2:]
    (tmp_path / script).write_text(block.given + block.text())
    done = subprocess.run([sys.executable, script, *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    if block.arg == "python train_bpm.py":
        assert "conditioners: ['bpm', 'description'] (1, 1, 64000)" in done.stdout


def test_blocks_that_need_weights_compile():
    for block in _blocks("needs-weights"):
        assert block.arg, f"README line {block.line}: say which weights the block needs"
        if "import " in block.body or "=" in block.body:
            compile(block.given + block.body, f"README line {block.line}", "exec")


def _program(line: str) -> tuple[str, str, list[str]] | None:
    """(kind, target, args before the options) of a python or audiocraft command line."""
    words = shlex.split(line)
    if words[0] == "audiocraft":
        return "module", "audiocraft.cli", words[1:2]
    if words[0].endswith("python"):
        if words[1] == "-m":
            return "module", words[2], []
        return "path", str(ROOT / words[1]), []
    return None


@pytest.mark.slow
def test_readme_commands_exist_with_their_options():
    """Lines of `help` blocks: options in --help, training overrides compose, make
    targets and pip extras exist."""
    checks: list[tuple[str, list[str]]] = []  # (line, its options)
    helps: dict[str, list] = {}
    for block in _blocks("help"):
        for line in commands(block.text()):
            words = shlex.split(line.replace("[", " ").replace("]", " ").replace("|", " "))
            if words[0] == "make":
                done = subprocess.run(["make", "-n", *words[1:]], cwd=ROOT, capture_output=True,
                                      text=True, timeout=60)
                assert done.returncode == 0, f"{line}: {done.stderr}"
                continue
            if words[0] == "pip":
                extras = re.findall(r"\.\[([\w,]+)\]", line)
                setup = (ROOT / "setup.py").read_text()
                for extra in ",".join(extras).split(","):
                    assert not extra or f'"{extra}":' in setup, f"{line}: no extra {extra}"
                continue
            program = _program(line)
            assert program is not None, f"README line {block.line}: cannot check {line!r}"
            if program[1] == "audiocraft.train":
                overrides = [w for w in shlex.split(line)[3:] if "=" in w]
                assert config_problem(overrides) is None, (line, config_problem(overrides))
                continue
            key = json.dumps([program[0], program[1], [*program[2], "--help"]])
            helps[key] = json.loads(key)
            checks.append((key, re.findall(r"(?<![\w-])(--[\w-]+)", line)))
    done = subprocess.run([sys.executable, str(ROOT / "tests" / "_help_runner.py"),
                           json.dumps(list(helps.values()))], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    outputs = {json.dumps([kind, *rest]): r["output"] for (kind, *rest), r in
               zip(helps.values(), json.loads(done.stdout.strip().splitlines()[-1]))}
    for key, options in checks:
        usage = outputs[key]
        assert "usage:" in usage, usage[-2000:]
        missing = [o for o in options if o != "--help" and o not in usage]
        assert not missing, f"{key}: {missing} not in its --help"
