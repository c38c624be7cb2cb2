"""Frechet Audio Distance: the Frechet distance between Gaussians fitted to embeddings.

For embeddings ``A [N, D]`` and ``B [M, D]`` with means ``mu_a, mu_b`` and covariances
``S_a, S_b`` (unbiased, float64)::

    FD = |mu_a - mu_b|^2 + tr(S_a) + tr(S_b) - 2 tr((S_a S_b)^(1/2))

The matrix square root is scipy's ``sqrtm``; when it is not finite (near-singular
products) it is retried on ``(S_a + eps I)(S_b + eps I)``, and a complex result whose
imaginary part is not negligible raises (numerical garbage rather than a distance).

:class:`FrechetAudioDistance` accumulates running sums (sum, sum of outer products, count:
float64, summed across DDP processes) for the "reference" and "generated" sets, with a
pluggable embedding backbone (``audiocraft.metrics.backbones``). With
``inf_correction=True`` it also keeps the generated embeddings and reports FAD-infinity
(the FID-infinity of Chong & Forsyth 2020, brought to audio by fadtk, Gui et al.
2024): FAD on random draws of increasing size ``n``, a line fitted in ``1 / n`` and
extrapolated to ``1 / n = 0``, which removes the bias of FAD towards small sets.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import scipy.linalg
import torch
from torchmetrics import Metric

from audiocraft.metrics.backbones.base import EmbeddingBackbone

__all__ = ["frechet_distance", "frechet_distance_from_stats", "gaussian_stats", "FADInf",
           "fad_inf", "FrechetAudioDistance"]

# Largest |imaginary part| on the diagonal of the square root accepted as rounding noise.
IMAGINARY_TOLERANCE = 1e-3


def gaussian_stats(emb: np.ndarray | torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``[D]`` and unbiased covariance ``[D, D]`` (float64) of embeddings ``[N, D]``."""
    x = _as_float64(emb)
    if x.shape[0] < 2:
        raise ValueError(f"Need at least 2 embeddings to fit a Gaussian, got {x.shape[0]}.")
    return x.mean(axis=0), np.atleast_2d(np.cov(x, rowvar=False))


def _as_float64(emb: np.ndarray | torch.Tensor) -> np.ndarray:
    if isinstance(emb, torch.Tensor):
        emb = emb.detach().cpu().double().numpy()
    x = np.asarray(emb, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"Expected embeddings [N, D], got shape {x.shape}.")
    return x


def _sqrtm(matrix: np.ndarray) -> np.ndarray:
    """Principal matrix square root (a seam: tests replace it to reach the retry path).

    scipy warns on singular matrices; the caller checks the result for finiteness instead.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        return np.asarray(scipy.linalg.sqrtm(matrix))


def frechet_distance_from_stats(mu_a: np.ndarray, sigma_a: np.ndarray, mu_b: np.ndarray,
                                sigma_b: np.ndarray, eps: float = 1e-6) -> float:
    """Frechet distance between ``N(mu_a, sigma_a)`` and ``N(mu_b, sigma_b)`` (``[D]``,
    ``[D, D]``), in float64. ``eps``: the ridge added to both covariances when the square
    root of their product is not finite."""
    mu_a, mu_b = np.atleast_1d(mu_a).astype(np.float64), np.atleast_1d(mu_b).astype(np.float64)
    sigma_a = np.atleast_2d(sigma_a).astype(np.float64)
    sigma_b = np.atleast_2d(sigma_b).astype(np.float64)
    if mu_a.shape != mu_b.shape or sigma_a.shape != sigma_b.shape \
            or sigma_a.shape != (mu_a.shape[0],) * 2:
        raise ValueError(f"Mismatched statistics: means {mu_a.shape}, {mu_b.shape}, "
                         f"covariances {sigma_a.shape}, {sigma_b.shape}.")
    diff = mu_a - mu_b
    covmean = _sqrtm(sigma_a @ sigma_b)
    if not np.isfinite(covmean).all():
        offset = eps * np.eye(sigma_a.shape[0])
        covmean = _sqrtm((sigma_a + offset) @ (sigma_b + offset))
        if not np.isfinite(covmean).all():
            raise ValueError("The covariance product has no finite square root, even with "
                             f"eps={eps} added: check the embeddings for NaN or inf.")
    if np.iscomplexobj(covmean):
        imag = np.abs(np.diagonal(covmean).imag).max()
        if imag > IMAGINARY_TOLERANCE:
            raise ValueError(f"The square root of the covariance product has an imaginary part "
                             f"of {imag:.3g} on its diagonal: the statistics are degenerate.")
        covmean = covmean.real
    value = diff @ diff + np.trace(sigma_a) + np.trace(sigma_b) - 2.0 * np.trace(covmean)
    return float(value)


def frechet_distance(emb_a: np.ndarray | torch.Tensor, emb_b: np.ndarray | torch.Tensor,
                     eps: float = 1e-6) -> float:
    """Frechet distance between Gaussians fitted to embeddings ``emb_a [N, D]`` and
    ``emb_b [M, D]`` (float64 statistics; see the module docstring)."""
    mu_a, sigma_a = gaussian_stats(emb_a)
    mu_b, sigma_b = gaussian_stats(emb_b)
    return frechet_distance_from_stats(mu_a, sigma_a, mu_b, sigma_b, eps)


@dataclass
class FADInf:
    """FAD extrapolated to infinitely many generated samples.

    value: the intercept at ``1 / n = 0``; slope: of FAD against ``1 / n``; r2: of the
    line fit; ns, fads: the subset sizes and their FADs.
    """

    value: float
    slope: float
    r2: float
    ns: list[int]
    fads: list[float]


def fad_inf(mu_ref: np.ndarray, sigma_ref: np.ndarray, emb: np.ndarray | torch.Tensor,
            num_points: int = 25, min_n: int | None = None, seed: int = 0,
            eps: float = 1e-6) -> FADInf:
    """FAD-infinity of generated embeddings ``emb [N, D]`` against reference statistics.

    FAD is measured on random draws (with replacement, as fadtk; generator ``seed``) of
    ``num_points`` sizes evenly spaced from ``min_n`` (default ``min(500, N // 2)``;
    fadtk's is 500) to ``N``; a least-squares line in ``1 / n`` gives the value at
    ``1 / n = 0``, and ``r2`` says how well the line fits.
    """
    x = _as_float64(emb)
    n_total = x.shape[0]
    min_n = min(500, n_total // 2) if min_n is None else min_n
    if min_n < 2 or min_n >= n_total or num_points < 2:
        raise ValueError(f"FAD-inf needs subsets from min_n >= 2 up to N > min_n and at least "
                         f"2 points: got min_n={min_n}, N={n_total}, num_points={num_points}. "
                         "Evaluate more samples or lower min_n.")
    rng = np.random.default_rng(seed)
    ns = [int(n) for n in np.linspace(min_n, n_total, num_points)]
    fads = []
    for n in ns:
        subset = x[rng.choice(n_total, size=n, replace=True)]
        mu, sigma = gaussian_stats(subset)
        fads.append(frechet_distance_from_stats(mu, sigma, mu_ref, sigma_ref, eps))
    inv = 1.0 / np.asarray(ns, dtype=np.float64)
    ys = np.asarray(fads)
    slope, intercept = np.polyfit(inv, ys, 1)
    residual = ys - (slope * inv + intercept)
    total = ((ys - ys.mean()) ** 2).sum()
    r2 = 1.0 - float((residual ** 2).sum() / total) if total > 0 else 1.0
    return FADInf(float(intercept), float(slope), r2, ns, [float(f) for f in fads])


class FrechetAudioDistance(Metric):
    """FAD between generated and reference audio, accumulated over batches and processes.

    Args:
        backbone: turns audio into embeddings (``audiocraft.metrics.backbones``); None to
            feed embeddings only (:meth:`update_embeddings`), then ``dim`` is required.
        dim: embedding size (default: ``backbone.dim``).
        inf_correction: also report FAD-infinity (keeps every generated embedding).
        num_points, min_n, seed: the FAD-infinity subsets (see :func:`fad_inf`).
        eps: ridge of the regularised retry (see :func:`frechet_distance_from_stats`).

    ``compute()`` returns ``{"fad": value}``, plus ``fad_inf``, ``fad_inf_slope`` and
    ``fad_inf_r2`` with ``inf_correction``.
    """

    full_state_update = False
    higher_is_better = False
    is_differentiable = False
    gen_embeddings: list[torch.Tensor] | torch.Tensor  # [N, D] each; one tensor after a sync

    def __init__(self, backbone: EmbeddingBackbone | None = None, dim: int | None = None,
                 inf_correction: bool = False, num_points: int = 25, min_n: int | None = None,
                 seed: int = 0, eps: float = 1e-6):
        super().__init__()
        self.backbone = backbone
        if dim is None:
            if backbone is None:
                raise ValueError("FrechetAudioDistance needs a backbone or the embedding dim.")
            dim = int(backbone.dim)
        self.dim = dim
        self.inf_correction = inf_correction
        self.num_points, self.min_n, self.seed, self.eps = num_points, min_n, seed, eps
        for side in ("ref", "gen"):
            self.add_state(f"{side}_sum", torch.zeros(dim, dtype=torch.float64),
                           dist_reduce_fx="sum")
            self.add_state(f"{side}_outer", torch.zeros(dim, dim, dtype=torch.float64),
                           dist_reduce_fx="sum")
            self.add_state(f"{side}_count", torch.zeros((), dtype=torch.float64),
                           dist_reduce_fx="sum")
        if inf_correction:
            self.add_state("gen_embeddings", [], dist_reduce_fx="cat")

    def embed(self, wav: torch.Tensor, sample_rate: int,
              sizes: torch.Tensor | None = None) -> torch.Tensor:
        """Embeddings ``[N, D]`` of ``wav [B, C, T]``; items are cut to ``sizes [B]`` samples
        (then embedded one by one) when given."""
        if self.backbone is None:
            raise ValueError("This FrechetAudioDistance has no backbone: pass embeddings to "
                             "update_embeddings instead of audio.")
        with torch.no_grad():
            if sizes is None:
                return self.backbone.embed(wav, sample_rate)
            return torch.cat([self.backbone.embed(w[None, :, : int(n)], sample_rate)
                              for w, n in zip(wav, sizes)])

    def update(self, generated: torch.Tensor | None = None,
               reference: torch.Tensor | None = None, sample_rate: int | None = None,
               generated_sizes: torch.Tensor | None = None,
               reference_sizes: torch.Tensor | None = None, embedded: bool = False) -> None:
        """Add audio ``[B, C, T]`` at ``sample_rate`` to either or both sets (the two sets
        need not have the same number of items); with ``embedded``, the inputs are
        embeddings ``[N, D]`` instead (see :meth:`update_embeddings`)."""
        if embedded:
            self._add_embeddings(generated, reference)
            return
        if sample_rate is None:
            raise ValueError("FrechetAudioDistance.update needs the audio's sample_rate.")
        self._add_embeddings(
            None if generated is None else self.embed(generated, sample_rate, generated_sizes),
            None if reference is None else self.embed(reference, sample_rate, reference_sizes))

    def update_embeddings(self, generated: torch.Tensor | None = None,
                          reference: torch.Tensor | None = None) -> None:
        """Add precomputed embeddings ``[N, D]`` to either or both sets."""
        self.update(generated, reference, embedded=True)

    def _add_embeddings(self, generated: torch.Tensor | None,
                        reference: torch.Tensor | None) -> None:
        for side, emb in (("gen", generated), ("ref", reference)):
            if emb is None:
                continue
            if emb.dim() != 2 or emb.shape[1] != self.dim:
                raise ValueError(f"Expected embeddings [N, {self.dim}], got {tuple(emb.shape)}.")
            x = emb.detach().to(self.device, torch.float64)
            setattr(self, f"{side}_sum", getattr(self, f"{side}_sum") + x.sum(0))
            setattr(self, f"{side}_outer", getattr(self, f"{side}_outer") + x.T @ x)
            setattr(self, f"{side}_count", getattr(self, f"{side}_count") + x.shape[0])
            if side == "gen" and self.inf_correction:
                stored = self.gen_embeddings
                assert isinstance(stored, list)  # a tensor only after compute's sync
                stored.append(x)

    def reference_state(self) -> dict[str, torch.Tensor]:
        """The reference set's running sums (``ref_sum [D]``, ``ref_outer [D, D]``,
        ``ref_count``), to save and reuse for other runs against the same reference."""
        return {name: getattr(self, name).detach().cpu().clone()
                for name in ("ref_sum", "ref_outer", "ref_count")}

    def load_reference_state(self, state: dict[str, torch.Tensor]) -> None:
        """Replace the reference set by one saved with :meth:`reference_state`."""
        if tuple(state["ref_sum"].shape) != (self.dim,):
            raise ValueError(f"The saved reference has dim {tuple(state['ref_sum'].shape)}, "
                             f"this metric {self.dim}: it was made with another backbone.")
        for name in ("ref_sum", "ref_outer", "ref_count"):
            setattr(self, name, state[name].to(self.device, torch.float64))

    def _stats(self, side: str) -> tuple[np.ndarray, np.ndarray]:
        n = float(getattr(self, f"{side}_count"))
        name = "generated" if side == "gen" else "reference"
        if n < 2:
            raise ValueError(f"FAD needs at least 2 {name} embeddings, got {int(n)}.")
        total = getattr(self, f"{side}_sum").cpu().numpy()
        outer = getattr(self, f"{side}_outer").cpu().numpy()
        mu = total / n
        sigma = (outer - n * np.outer(mu, mu)) / (n - 1)
        return mu, sigma

    def compute(self) -> dict[str, float]:
        mu_g, sigma_g = self._stats("gen")
        mu_r, sigma_r = self._stats("ref")
        out = {"fad": frechet_distance_from_stats(mu_g, sigma_g, mu_r, sigma_r, self.eps)}
        if self.inf_correction:
            # A list before a DDP sync, one concatenated tensor after it.
            stored = self.gen_embeddings
            emb = torch.cat(stored) if isinstance(stored, list) else stored
            inf = fad_inf(mu_r, sigma_r, emb, self.num_points, self.min_n, self.seed, self.eps)
            out.update(fad_inf=inf.value, fad_inf_slope=inf.slope, fad_inf_r2=inf.r2)
        return out
