"""Run ``--help`` of many command lines quickly: this process imports the heavy
libraries once, then runs each command in a forked child process exactly as ``python -m
MODULE --help`` / ``python SCRIPT --help`` would (``runpy``, ``__name__ == "__main__"``).

    python tests/_help_runner.py '[["module", "audiocraft.train", ["--help"]], ...]'

prints one JSON list of ``{"command", "code", "output"}``.
"""

from __future__ import annotations

import json
import os
import runpy
import sys
import warnings


def _run(kind: str, target: str, args: list[str]) -> int:
    warnings.simplefilter("ignore", RuntimeWarning)  # runpy: "found in sys.modules"
    sys.argv = [target, *args]
    try:
        if kind == "module":
            runpy.run_module(target, run_name="__main__", alter_sys=True)
        else:
            sys.path.insert(0, os.path.dirname(os.path.abspath(target)))
            runpy.run_path(target, run_name="__main__")
    except SystemExit as exit_:
        code = exit_.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 0


def main() -> None:
    commands = json.loads(sys.argv[1])
    import audiocraft.eval  # noqa: F401  (the heavy imports, once, before forking)
    import audiocraft.train  # noqa: F401

    results = []
    for kind, target, args in commands:
        read, write = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the child: one command, its output into the pipe
            os.close(read)
            os.dup2(write, 1)
            os.dup2(write, 2)
            code = 1
            try:
                code = _run(kind, target, args)
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        os.close(write)
        with os.fdopen(read, "rb") as pipe:
            output = pipe.read().decode(errors="replace")
        _, status = os.waitpid(pid, 0)
        results.append({"command": [target, *args], "code": os.waitstatus_to_exitcode(status),
                        "output": output})
    print(json.dumps(results))


if __name__ == "__main__":
    main()
