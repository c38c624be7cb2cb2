"""Lookup-table text conditioner: an offline text encoder with no downloads.

Text is lowercased, split into words on whitespace and punctuation, and every word is
mapped to a table row by a stable hash (the "hash trick": no vocabulary to build or
ship; unrelated words may share a row). Row `pad_idx` is reserved for padding.
"""

from __future__ import annotations

import hashlib
import re

import torch
from torch import nn

from .attributes import ConditionType
from .base import TextConditioner

# A word is letters, digits, apostrophes and sharps: "F#" stays apart from "F".
_WORD = re.compile(r"[\w'#]+")


def hash_trick(word: str, n_bins: int) -> int:
    """A stable (process-independent, unlike `hash`) bucket in [0, n_bins) for a word."""
    return int(hashlib.sha256(word.encode("utf-8")).hexdigest(), 16) % n_bins


class WhiteSpaceTokenizer:
    """Words -> hashed ids in [0, n_bins), never `pad_idx`.

    Args:
        n_bins: table size, including the padding row.
        pad_idx: padding id.
        max_words: optional cap on the number of words kept per text.
    """

    def __init__(self, n_bins: int, pad_idx: int = 0, max_words: int | None = None):
        if n_bins < 2:
            raise ValueError(f"n_bins must be at least 2 (one padding row), got {n_bins}.")
        if not 0 <= pad_idx < n_bins:
            raise ValueError(f"pad_idx must be in [0, {n_bins}), got {pad_idx}.")
        self.n_bins = n_bins
        self.pad_idx = pad_idx
        self.max_words = max_words

    def words(self, text: str) -> list[str]:
        words = _WORD.findall(text.lower())
        return words[: self.max_words] if self.max_words is not None else words

    def token(self, word: str) -> int:
        # n_bins - 1 buckets, shifted past the padding row.
        bucket = hash_trick(word, self.n_bins - 1)
        return bucket if bucket < self.pad_idx else bucket + 1

    def __call__(self, texts: list[str | None]) -> tuple[torch.Tensor, torch.Tensor]:
        """Tokenize B texts (None = null) -> (tokens [B, L] long, mask [B, L] long).

        L is the longest word count (at least 1); null and empty texts are all padding.
        """
        ids = [[self.token(w) for w in self.words(t)] if t else [] for t in texts]
        length = max([len(x) for x in ids] + [1])
        tokens = torch.full((len(texts), length), self.pad_idx, dtype=torch.long)  # [B, L]
        mask = torch.zeros(len(texts), length, dtype=torch.long)  # [B, L]
        for i, row in enumerate(ids):
            tokens[i, : len(row)] = torch.tensor(row, dtype=torch.long)
            mask[i, : len(row)] = 1
        return tokens, mask


class LUTConditioner(TextConditioner):
    """Text conditioner with a trainable embedding table over hashed words.

    Args:
        n_bins: table rows (hash buckets + padding).
        dim: embedding size before `output_proj`.
        output_dim: model dimension D.
        tokenizer: only "whitespace" (kept as an argument for config compatibility).
        pad_idx: padding row.
        max_words: optional cap on words per text.
    """

    def __init__(self, n_bins: int, dim: int, output_dim: int, tokenizer: str = "whitespace",
                 pad_idx: int = 0, max_words: int | None = None):
        super().__init__(dim, output_dim)
        if tokenizer != "whitespace":
            raise ValueError(
                f"Unknown LUT tokenizer {tokenizer!r}: the only one is 'whitespace'."
            )
        self.embed = nn.Embedding(n_bins, dim)
        self.tokenizer = WhiteSpaceTokenizer(n_bins, pad_idx, max_words)

    def tokenize(self, x: list[str | None]) -> tuple[torch.Tensor, torch.Tensor]:
        tokens, mask = self.tokenizer(x)
        device = self.embed.weight.device
        return tokens.to(device), mask.to(device)

    def forward(self, inputs: tuple[torch.Tensor, torch.Tensor]) -> ConditionType:
        tokens, mask = inputs
        embeds = self.output_proj(self.embed(tokens))  # [B, L, D]
        return embeds * mask.unsqueeze(-1), mask
