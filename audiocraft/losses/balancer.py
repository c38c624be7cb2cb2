"""The gradient balancer of the EnCodec paper (Défossez et al. 2022, section 3.4).

Each loss is differentiated with respect to the model output only; its gradient is
rescaled so that its (EMA-smoothed) norm is `total_norm * weight / sum(weights)`. A loss
weight then reads as "this share of the output gradient", whatever the loss scale.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import distributed as dist


class Balancer:
    """Combine the gradients of several losses on one output tensor.

    Args:
        weights: loss name -> weight; losses with weight 0 or absent are ignored.
        balance_grads: rescale gradients as in the paper; False gives the plain weighted sum.
        total_norm: norm of the combined gradient when balancing.
        ema_decay: decay of the running average of each gradient norm.
        per_batch_item: measure norms per batch item and average them (else one global norm).
        epsilon: keeps the rescaling finite for a vanishing gradient.

    Usage: `grad = balancer.compute(losses, y_pred)`, then back-propagate
    `(y_pred * grad).sum()` (which gives the model exactly that output gradient). The
    running norms are averaged across distributed ranks so every rank scales alike.
    """

    def __init__(self, weights: Mapping[str, float], balance_grads: bool = True,
                 total_norm: float = 1.0, ema_decay: float = 0.999,
                 per_batch_item: bool = True, epsilon: float = 1e-12):
        self.weights = {k: float(v) for k, v in weights.items() if float(v) != 0.0}
        if any(w < 0 for w in self.weights.values()):
            raise ValueError(f"balancer weights must be >= 0, got {dict(weights)}.")
        self.balance_grads = balance_grads
        self.total_norm = total_norm
        self.ema_decay = ema_decay
        self.per_batch_item = per_batch_item
        self.epsilon = epsilon
        # Running weighted sums (value, weight) of each loss's gradient norm.
        self._ema: dict[str, tuple[float, float]] = {}
        self.metrics: dict[str, float] = {}

    def _average(self, name: str, norm: float, count: float) -> float:
        value, weight = self._ema.get(name, (0.0, 0.0))
        value = self.ema_decay * value + count * norm
        weight = self.ema_decay * weight + count
        self._ema[name] = (value, weight)
        return value / weight

    def compute(self, losses: Mapping[str, torch.Tensor], output: torch.Tensor) -> torch.Tensor:
        """Return the combined gradient with respect to `output` (same shape)."""
        names = [k for k in losses if k in self.weights]
        if not names:
            raise ValueError(
                f"none of the losses {sorted(losses)} has a non-zero balancer weight "
                f"({self.weights}); set at least one `losses.<name>` weight above 0."
            )
        grads: dict[str, torch.Tensor] = {}
        norms = []
        for name in names:
            (grad,) = torch.autograd.grad(losses[name], [output], retain_graph=True)
            grads[name] = grad
            if self.per_batch_item:
                norms.append(grad.flatten(1).norm(dim=1).mean())
            else:
                norms.append(grad.norm())
        norm_tensor = torch.stack(norms).detach().float()  # [n_losses]
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(norm_tensor)
            norm_tensor /= dist.get_world_size()
        count = float(output.shape[0]) if self.per_batch_item else 1.0
        total_weight = sum(self.weights[n] for n in names)
        combined = torch.zeros_like(output)
        for name, norm in zip(names, norm_tensor.tolist()):
            avg = self._average(name, norm, count)
            self.metrics[f"grad_norm/{name}"] = avg
            if self.balance_grads:
                scale = self.weights[name] / total_weight * self.total_norm / (self.epsilon + avg)
            else:
                scale = self.weights[name]
            combined = combined + scale * grads[name]
        return combined

    def state_dict(self) -> dict[str, dict[str, tuple[float, float]]]:
        return {"ema": dict(self._ema)}

    def load_state_dict(self, state: Mapping[str, Mapping[str, tuple[float, float]]]) -> None:
        self._ema = {k: (float(v[0]), float(v[1])) for k, v in state["ema"].items()}
