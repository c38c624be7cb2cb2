"""Errors of the models layer, in a module of their own.

The checkpoint errors are raised by every format module (``hf_encodec.py``,
``hf_musicgen.py``) and by ``loaders.py``; keeping them here lets the format modules sit
below ``loaders.py`` (which imports them) without importing it back.
``audiocraft.models.loaders`` re-exports both names. ``InputError`` is the base of the
errors a user's input causes (``timeline.TimelineError``).
"""

from __future__ import annotations


class CheckpointError(ValueError):
    """A checkpoint file exists but cannot be used (truncated, corrupt or of the wrong kind)."""


class MissingWeightsError(FileNotFoundError):
    """No weights were found for a name or path; the message lists where we looked."""


class InputError(ValueError):
    """Something a user gave (a timeline, a file, a setting) cannot be used; the message
    says what to change. Entry points show it without a traceback (the CLI's
    ``UsageError`` is this class)."""


class NonFiniteLogitsError(RuntimeError):
    """The LM produced NaN or infinite logits while sampling: its weights or its inputs are
    broken (or a reduced precision overflowed). Generation stops instead of sampling noise."""
