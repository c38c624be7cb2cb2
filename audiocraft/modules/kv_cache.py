"""The key/value cache of generation: one `KVCache` per batch of sequences, holding one
`LayerCache` per transformer layer (see `StreamingTransformer`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class LayerCache:
    """Cached tensors of one layer: self-attention keys/values [B, H_kv, capacity, Dh]
    (filled up to the owning KVCache's offset) and cross-attention keys/values
    [B, H_kv, Tc, Dh] with their additive mask, computed once."""

    keys: torch.Tensor | None = None
    values: torch.Tensor | None = None
    cross_keys: torch.Tensor | None = None
    cross_values: torch.Tensor | None = None
    cross_mask: torch.Tensor | None = None


@dataclass
class KVCache:
    """Key/value cache of one generation pass (one per batch of sequences).

    Args:
        extra_steps: steps that later calls may add after the first one; buffers hold
            the first call's length plus this.
    Attributes:
        offset: number of steps already in the cache (the position of the next step).
        prepended: condition steps the first call put in front of the sequence (so the
            sequence's own step `offset - prepended` comes next).
    """

    extra_steps: int
    offset: int = 0
    prepended: int = 0
    capacity: int = 0
    layers: list[LayerCache] = field(default_factory=list)

    def layer(self, index: int) -> LayerCache:
        while len(self.layers) <= index:
            self.layers.append(LayerCache())
        return self.layers[index]
