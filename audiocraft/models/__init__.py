"""Composed models and their user API: ``MusicGen`` (see musicgen.py)."""

from .musicgen import MusicGen

__all__ = ["MusicGen"]
