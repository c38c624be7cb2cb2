"""The reference audiocraft's module path for codebook patterns: the same classes as
``patterns.py`` (where they live and are registered), so code written against the
reference (``from audiocraft.modules.codebooks_patterns import DelayedPatternProvider``)
runs unchanged."""

from .patterns import (
    CoarseFirstPattern,
    CodebooksPatternProvider,
    DelayedPatternProvider,
    LayoutCoord,
    MusicLMPattern,
    ParallelPatternProvider,
    Pattern,
    UnrolledPatternProvider,
)

__all__ = [
    "CoarseFirstPattern",
    "CodebooksPatternProvider",
    "DelayedPatternProvider",
    "LayoutCoord",
    "MusicLMPattern",
    "ParallelPatternProvider",
    "Pattern",
    "UnrolledPatternProvider",
]
