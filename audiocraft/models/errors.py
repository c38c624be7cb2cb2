"""Errors of the checkpoint loaders, in a module of their own.

Every format module (``hf_encodec.py``, ``hf_musicgen.py``) and ``loaders.py`` raise
these; keeping them here lets the format modules sit below ``loaders.py`` (which imports
them) without importing it back. ``audiocraft.models.loaders`` re-exports both names.
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
