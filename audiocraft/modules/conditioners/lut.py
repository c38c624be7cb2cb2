"""Lookup-table text conditioner: an offline text encoder with no downloads.

Text is lowercased, split into words on whitespace and punctuation, and every word is
mapped to a table row by a stable hash (the "hash trick": no vocabulary to build or
ship; unrelated words may share a row). Row `pad_idx` is reserved for padding.

Optionally (`number_features > 0`) a word that is a number also carries its value: sines
and cosines of log2(value) at `number_features` frequencies, projected and added to the
word's row. Nearby values then get nearby embeddings (120 is close to 121, which two
unrelated hashed rows cannot say), so a tempo in a caption can be learned as a quantity
rather than as one word per bpm.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import torch
from torch import nn

from .attributes import ConditionType
from .base import CONDITIONERS, TextConditioner

# A word is letters, digits, apostrophes and sharps: "F#" stays apart from "F".
_WORD = re.compile(r"[\w'#]+")
_NUMBER = re.compile(r"\d+")
# A number joined by a hyphen to the word after it names a thing, not a quantity: the 8 of
# "8-bit" or "16-bar" carries no value (its encoding would be that of 128: see
# `number_encoding`).
_JOINED = re.compile(r"-[^\W\d_]")


def number_value(word: str) -> float:
    """The value of a word made of digits only, else 0 (no value)."""
    return float(word) if _NUMBER.fullmatch(word) else 0.0


def number_encoding(values: torch.Tensor, n_features: int) -> torch.Tensor:
    """Fourier features of log2(values) ``[...] -> [..., 2 * n_features]``.

    Frequencies 1/4, 1/2, 1, 2, ... cycles per octave: the slowest tells numbers an
    octave apart, the fastest (1/4 * 2^(n-1) cycles per octave; 32 for n = 8) numbers a
    few percent apart. Entries with no value (<= 0) encode to zeros.

    The slowest period is 4 octaves, so numbers 16 times apart (8 and 128) share every
    feature: names made of numbers ("8-bit") get no value (`WhiteSpaceTokenizer.values`).
    """
    freqs = 0.25 * 2.0 ** torch.arange(n_features, dtype=torch.float32)  # [F]
    logv = torch.log2(values.clamp(min=1e-3)).unsqueeze(-1)  # [..., 1]
    phase = 2 * torch.pi * logv * freqs  # [..., F]
    feats = torch.cat([torch.sin(phase), torch.cos(phase)], dim=-1)  # [..., 2F]
    return feats * (values > 0).unsqueeze(-1).to(feats.dtype)


def _pad_rows(rows: list[list[Any]], fill: float, dtype: torch.dtype) -> torch.Tensor:
    """Ragged rows -> ``[B, L]`` right-padded with `fill`; L is the longest row (at least 1)."""
    length = max([len(r) for r in rows] + [1])
    out = torch.full((len(rows), length), fill, dtype=dtype)  # [B, L]
    for i, row in enumerate(rows):
        out[i, : len(row)] = torch.tensor(row, dtype=dtype)
    return out


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
        tokens = _pad_rows(ids, self.pad_idx, torch.long)  # [B, L]
        mask = (tokens != self.pad_idx).long()  # [B, L]: words are never pad_idx
        return tokens, mask

    def values(self, texts: list[str | None]) -> torch.Tensor:
        """The number value of every word of B texts ``[B, L]`` (0: not a number, a
        number joined by a hyphen to a word ("8-bit"), or padding), aligned with the tokens
        of `__call__`."""
        vals = [self._values(t) if t else [] for t in texts]
        return _pad_rows(vals, 0.0, torch.float32)  # [B, L]

    def _values(self, text: str) -> list[float]:
        low = text.lower()
        vals = [0.0 if _JOINED.match(low, m.end()) else number_value(m.group())
                for m in _WORD.finditer(low)]
        return vals[: self.max_words] if self.max_words is not None else vals


@CONDITIONERS.register("lut")
class LUTConditioner(TextConditioner):
    """Text conditioner with a trainable embedding table over hashed words.

    Args:
        n_bins: table rows (hash buckets + padding).
        dim: embedding size before `output_proj`.
        output_dim: model dimension D.
        tokenizer: only "whitespace" (kept as an argument for config compatibility).
        pad_idx: padding row.
        max_words: optional cap on words per text.
        number_features: if > 0, words that are numbers add a projection of this many
            sine/cosine pairs of their log2 value to their row (see `number_encoding`).
    """

    def __init__(self, n_bins: int, dim: int, output_dim: int, tokenizer: str = "whitespace",
                 pad_idx: int = 0, max_words: int | None = None, number_features: int = 0):
        super().__init__(dim, output_dim)
        if tokenizer != "whitespace":
            raise ValueError(
                f"Unknown LUT tokenizer {tokenizer!r}: the only one is 'whitespace'."
            )
        if number_features < 0:
            raise ValueError(f"number_features must be >= 0, got {number_features}.")
        self.embed = nn.Embedding(n_bins, dim)
        self.tokenizer = WhiteSpaceTokenizer(n_bins, pad_idx, max_words)
        self.number_features = number_features
        self.number_proj = nn.Linear(2 * number_features, dim) if number_features else None

    def tokenize(self, x: list[str | None]) -> tuple[torch.Tensor, ...]:
        """-> (tokens [B, L], mask [B, L]), plus values [B, L] with number features."""
        tokens, mask = self.tokenizer(x)
        device = self.embed.weight.device
        if self.number_proj is None:
            return tokens.to(device), mask.to(device)
        return tokens.to(device), mask.to(device), self.tokenizer.values(x).to(device)

    def forward(self, inputs: tuple[torch.Tensor, ...]) -> ConditionType:
        tokens, mask = inputs[0], inputs[1]
        embeds = self.embed(tokens)  # [B, L, dim]
        if self.number_proj is not None:
            if len(inputs) < 3:
                raise ValueError("This LUTConditioner has number features: pass the "
                                 "(tokens, mask, values) of its own tokenize().")
            values = inputs[2]  # [B, L]
            feats = number_encoding(values, self.number_features)  # [B, L, 2F]
            is_number = (values > 0).unsqueeze(-1).to(embeds.dtype)  # [B, L, 1]
            embeds = embeds + self.number_proj(feats.to(embeds.dtype)) * is_number
        embeds = self.output_proj(embeds)  # [B, L, D]
        return embeds * mask.unsqueeze(-1), mask
