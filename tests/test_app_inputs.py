"""app_inputs.py (the app's input checks, beside app.py) depends on the package's model
layer only, never on the CLI entry point; the rest of its behaviour is tested through
``app`` in test_app.py."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_timeline_checks_do_not_load_the_cli():
    code = ("import sys, app_inputs; print(app_inputs.parse_timeline('0: a\\n5: b')); "
            "print('audiocraft.cli' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=120, check=True).stdout.split("\n")
    assert out[:2] == ["[(0.0, 'a'), (5.0, 'b')]", "False"]


def test_a_bad_timeline_is_an_app_error():
    sys.path.insert(0, str(ROOT))
    import app_inputs

    with pytest.raises(app_inputs.AppError, match="not sorted by time"):
        app_inputs.parse_timeline("10: a\n5: b")
