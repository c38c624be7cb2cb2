"""The reference audiocraft's module path for rotary embeddings: the class lives in
``transformer_layer.py``; ``from audiocraft.modules.rope import RotaryEmbedding`` works."""

from .transformer_layer import RotaryEmbedding

__all__ = ["RotaryEmbedding"]
