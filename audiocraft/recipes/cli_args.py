"""Command-line options shared by the recipes' evaluations (toy, melody, tempo)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..models.sampling import guidance_coef_arg

COEF_HELP = "guidance: one number, or one per codebook (3,6,6,6); default: the model's own"


def add_sampling_args(parser: argparse.ArgumentParser, cfg_help: str = COEF_HELP) -> None:
    """``--cfg-coef``, ``--top-k``, ``--temperature``, ``--threads`` and ``--json``."""
    parser.add_argument("--cfg-coef", type=guidance_coef_arg, default=None, help=cfg_help)
    parser.add_argument("--top-k", type=int, default=250)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--json", default=None, help="also write the figures to this file")


def write_json(path: str | None, figures: Any) -> None:
    """Write ``figures`` (plain values) to ``path`` when one is given (``--json``)."""
    if path:
        with open(path, "w") as f:
            json.dump(figures, f, indent=1)
