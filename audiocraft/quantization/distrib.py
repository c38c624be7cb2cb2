"""Keeping codebook buffers identical across data-parallel ranks.

No-ops unless `torch.distributed` is initialised with more than one rank.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.distributed as dist


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def broadcast_tensors(tensors: Iterable[torch.Tensor], src: int = 0) -> None:
    """Copy rank `src`'s values into every rank's tensors, in place (k-means init and
    dead-code replacement draw random samples: rank 0's draw wins everywhere)."""
    if not is_distributed():
        return
    for tensor in tensors:
        if tensor.is_floating_point() or tensor.dtype in (torch.long, torch.int, torch.bool):
            dist.broadcast(tensor.data, src)


def all_reduce_sum_(tensor: torch.Tensor) -> torch.Tensor:
    """Sum `tensor` over ranks in place (EMA statistics of a batch spread over ranks)."""
    if is_distributed():
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor
