"""Pre-computed codec tokens stored in shards, so LM training can skip the codec.

A shard is a `torch.save`d dict `{key: codes [K, T] int16}` named `tokens_*.pt`, where
the key identifies a segment: `"<audio path>@<seek time in ms>"`. Segments found in the
cache are used as they are; the others of the batch are encoded (and, when writing,
added to the next shard). Codes are checked against the codec's cardinality.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from ..models.loaders import CheckpointError, torch_load, torch_save


def segment_key(info: Any) -> str:
    """The cache key of one segment, from its info (`meta.path` or `path`, `seek_time`)."""
    meta = getattr(info, "meta", info)
    path = getattr(meta, "path", None)
    if path is None:
        raise ValueError(
            "the token cache needs segment infos with a `path` (dataset return_info=True)."
        )
    seek = float(getattr(info, "seek_time", 0.0) or 0.0)
    return f"{path}@{round(seek * 1000)}"


def _read_shard(shard: Path) -> dict[str, torch.Tensor]:
    """One shard's `{key: codes [K, T]}`, read by the loaders' safe reader."""
    try:
        codes = torch_load(shard)
    except CheckpointError as err:
        raise CheckpointError(f"{err} It is a token shard: delete it and the cache writes "
                              "those segments again (`cache.write=true`).") from err
    if not isinstance(codes, dict):
        raise CheckpointError(f"{shard} is not a token shard (a dict of codes): delete it.")
    return codes


class TokenCache:
    """Read (and optionally write) token shards in `path`.

    Args:
        path: folder of `tokens_*.pt` shards (created when writing).
        write: add segments that are encoded during training to new shards.
        cardinality: expected codebook size; codes outside [0, cardinality) are an error.
    """

    def __init__(self, path: str | Path, write: bool = False, cardinality: int | None = None):
        self.path = Path(path)
        self.write = write
        self.cardinality = cardinality
        self._codes: dict[str, torch.Tensor] = {}
        self._new: dict[str, torch.Tensor] = {}
        self._flushes = 0
        if self.path.is_dir():
            for shard in sorted(self.path.glob("tokens_*.pt")):
                self._codes.update(_read_shard(shard))
        elif not write:
            raise FileNotFoundError(
                f"token cache folder {self.path} does not exist: write it first with "
                "`cache.write=true`, or unset `cache.path` to encode audio on the fly."
            )

    def __len__(self) -> int:
        return len(self._codes)

    def lookup_each(self, infos: Sequence[Any]) -> list[torch.Tensor | None]:
        """codes [K, T] of each segment, None where it is not cached yet."""
        found = [self._codes.get(segment_key(info)) for info in infos]
        for codes in found:
            if codes is not None and self.cardinality is not None \
                    and int(codes.max()) >= self.cardinality:
                raise ValueError(
                    f"cached codes reach {int(codes.max())} but the codec has "
                    f"{self.cardinality} entries per codebook: {self.path} was written with "
                    "another codec; delete it."
                )
        return found

    def lookup(self, infos: Sequence[Any]) -> torch.Tensor | None:
        """codes [B, K, T] if every segment is cached (same shapes), else None."""
        found = self.lookup_each(infos)
        if any(c is None for c in found) or len({tuple(c.shape) for c in found}) != 1:  # type: ignore[union-attr]
            return None
        return torch.stack(found).long()  # type: ignore[arg-type]

    def add(self, infos: Sequence[Any], codes: torch.Tensor) -> None:
        for info, c in zip(infos, codes.detach().cpu().to(torch.int16)):
            key = segment_key(info)
            if key not in self._codes:
                self._new[key] = c.clone()

    def flush(self, rank: int = 0) -> Path | None:
        """Write the segments added since the last flush to a new shard."""
        if not self._new:
            return None
        self.path.mkdir(parents=True, exist_ok=True)
        index = self._flushes
        while (self.path / f"tokens_rank{rank}_{index:05d}.pt").exists():
            index += 1  # never overwrite the shards of an earlier run
        shard = self.path / f"tokens_rank{rank}_{index:05d}.pt"
        torch_save(self._new, shard)
        self._codes.update(self._new)
        self._new = {}
        self._flushes = index + 1
        return shard
