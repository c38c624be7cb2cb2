"""Checks of the values a caller passes to the generation API, with messages that say
what to pass instead.

NaN, infinities, booleans where numbers are meant, fractions where whole numbers are
meant and a bare string where a list of texts is meant all give silent nonsense or raw
errors deep inside torch; these checks turn each into a ``ValueError`` naming the
parameter. The CLI and the app check their own inputs too and then call the API, so the
API is the last line for every caller.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

MAX_SEED = 2**63 - 1  # torch.Generator.manual_seed takes any 64-bit value; keep it signed
MAX_SAMPLES = 1024  # pieces in one call: more is surely a mistake (a string as a list?)


def check_number(value: Any, name: str, low: float | None = None, high: float | None = None,
                 low_open: bool = False, integer: bool = False, hint: str = "") -> float:
    """``value`` as a float, checked: a real number (not a bool, not NaN or infinite), in
    ``[low, high]`` (``(low, high]`` with ``low_open``), whole when ``integer``.
    Raises a ValueError naming ``name`` (and ``hint``, what to give)."""
    tail = f" ({hint})" if hint else ""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):  # numpy scalars pass
        kind = "a string" if isinstance(value, str) else type(value).__name__
        raise ValueError(f"{name} must be a number, got {kind} {value!r}{tail}.")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value}{tail}.")
    if integer and value != int(value):
        raise ValueError(f"{name} must be a whole number, got {value}{tail}.")
    if low is not None and (value <= low if low_open else value < low):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low:g}, got "
                         f"{value:g}{tail}.")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high:g}, got {value:g}{tail}.")
    return float(value)


def check_seed(seed: Any) -> int | None:
    """None (no seed: the global RNG), or a whole number in ``[0, MAX_SEED]``."""
    if seed is None:
        return None
    return int(check_number(seed, "seed", 0, MAX_SEED, integer=True,
                            hint="a whole number, or None for the global random state"))


def check_count(value: Any, name: str) -> int:
    """A number of pieces: a whole number in ``[1, MAX_SAMPLES]``."""
    return int(check_number(value, name, 1, MAX_SAMPLES, integer=True,
                            hint="how many pieces to make"))


def check_texts(texts: Any, name: str = "descriptions") -> list[str | None]:
    """A list of texts (or None for no text), one per piece. A bare string is refused: it
    would make one piece per character."""
    if isinstance(texts, (str, bytes)):
        raise ValueError(f"{name} must be a list of texts, one per piece, got the string "
                         f"{texts[:40]!r}: pass [{texts[:40]!r}] for one piece.")
    if not isinstance(texts, Sequence):
        raise ValueError(f"{name} must be a list of texts, got {type(texts).__name__}.")
    items = list(texts)
    for i, text in enumerate(items):
        if text is not None and not isinstance(text, str):
            raise ValueError(f"{name}[{i}] must be a text or None, got "
                             f"{type(text).__name__} {text!r}.")
    if len(items) > MAX_SAMPLES:
        raise ValueError(f"{name} has {len(items)} entries: at most {MAX_SAMPLES} pieces per "
                         "call.")
    return items


def check_sequence(value: Any, name: str) -> list[Any]:
    """A list (one entry per piece), not a string or a mapping."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise ValueError(f"{name} must be a list with one entry per piece, got "
                         f"{type(value).__name__} {str(value)[:40]!r}.")
    items = list(value)
    if len(items) > MAX_SAMPLES:
        raise ValueError(f"{name} has {len(items)} entries: at most {MAX_SAMPLES} pieces per "
                         "call.")
    return items


def check_flag(value: Any, name: str) -> bool:
    """A bool (``True``/``False``); strings such as ``"false"`` are refused."""
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {value!r}.")
    return value
