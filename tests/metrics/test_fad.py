"""Frechet distance against closed forms, the regularised retry, FAD-inf and the Metric."""

import numpy as np
import pytest
import torch

from audiocraft.metrics import fad
from audiocraft.metrics.fad import (
    FrechetAudioDistance,
    fad_inf,
    frechet_distance,
    frechet_distance_from_stats,
    gaussian_stats,
)


def _psd_sqrt(m: np.ndarray) -> np.ndarray:
    """Symmetric square root through the eigendecomposition (independent of scipy.sqrtm)."""
    w, v = np.linalg.eigh(m)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def _closed_form(mu_a, sa, mu_b, sb) -> float:
    """|mu_a - mu_b|^2 + tr(Sa + Sb - 2 (Sa^1/2 Sb Sa^1/2)^1/2)."""
    ra = _psd_sqrt(sa)
    return float(((mu_a - mu_b) ** 2).sum()
                 + np.trace(sa + sb - 2 * _psd_sqrt(ra @ sb @ ra)))


def _samples_with_stats(mu: np.ndarray, sigma: np.ndarray, n: int, seed: int) -> np.ndarray:
    """n samples [n, D] whose sample mean and unbiased covariance are exactly mu and sigma."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, len(mu)))
    x -= x.mean(0)
    x = x @ np.linalg.inv(np.linalg.cholesky(np.cov(x, rowvar=False))).T  # identity covariance
    return x @ _psd_sqrt(sigma) + mu


def test_diagonal_covariances_match_closed_form():
    mu_a, mu_b = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    va, vb = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 1.0])
    expected = ((mu_a - mu_b) ** 2).sum() + ((np.sqrt(va) - np.sqrt(vb)) ** 2).sum()
    got = frechet_distance_from_stats(mu_a, np.diag(va), mu_b, np.diag(vb))
    assert got == pytest.approx(expected, rel=1e-10)  # 5 + 1 + 1 + 4 = 11
    assert expected == pytest.approx(11.0)


def test_non_commuting_covariances_from_samples():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((4, 4)), rng.standard_normal((4, 4))
    sa, sb = a @ a.T + 0.1 * np.eye(4), b @ b.T + 0.1 * np.eye(4)
    assert not np.allclose(sa @ sb, sb @ sa)
    mu_a, mu_b = rng.standard_normal(4), rng.standard_normal(4)
    emb_a = _samples_with_stats(mu_a, sa, 50, 2)
    emb_b = _samples_with_stats(mu_b, sb, 70, 3)
    expected = _closed_form(mu_a, sa, mu_b, sb)
    assert frechet_distance(emb_a, emb_b) == pytest.approx(expected, rel=1e-8)
    assert frechet_distance(torch.from_numpy(emb_a).float(), emb_b) == pytest.approx(
        expected, rel=1e-4)  # float32 input, float64 statistics


def test_singular_covariances():
    # Rank-deficient covariances (a dimension with no variance, D > rank).
    sa = np.diag([1.0, 0.0, 2.0])
    sb = np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    mu = np.zeros(3)
    expected = _closed_form(mu, sa, mu, sb)
    assert frechet_distance_from_stats(mu, sa, mu, sb) == pytest.approx(expected, abs=1e-6)
    # Fewer samples than dimensions: singular sample covariances on both sides.
    rng = np.random.default_rng(4)
    emb_a, emb_b = rng.standard_normal((5, 8)), rng.standard_normal((6, 8)) + 1.0
    (ma, ca), (mb, cb) = gaussian_stats(emb_a), gaussian_stats(emb_b)
    assert frechet_distance(emb_a, emb_b) == pytest.approx(_closed_form(ma, ca, mb, cb),
                                                           abs=1e-6)


def test_identical_sets_are_zero():
    emb = np.random.default_rng(5).standard_normal((40, 6))
    assert abs(frechet_distance(emb, emb)) < 1e-8


def test_regularised_retry(monkeypatch):
    calls = []
    real_sqrtm = fad._sqrtm

    def flaky(m):
        calls.append(m)
        return np.full_like(m, np.nan) if len(calls) == 1 else real_sqrtm(m)

    monkeypatch.setattr(fad, "_sqrtm", flaky)
    sa, sb = np.diag([1.0, 2.0]), np.diag([3.0, 0.5])
    eps = 1e-2
    got = frechet_distance_from_stats(np.zeros(2), sa, np.ones(2), sb, eps=eps)
    # The retry took the square root of (Sa + eps I)(Sb + eps I).
    assert len(calls) == 2
    np.testing.assert_allclose(calls[1], (sa + eps * np.eye(2)) @ (sb + eps * np.eye(2)))
    expected = 2.0 + 1 + 2 + 3 + 0.5 - 2 * (np.sqrt(1.01 * 3.01) + np.sqrt(2.01 * 0.51))
    assert got == pytest.approx(expected, rel=1e-12)


def test_retry_that_still_fails_raises(monkeypatch):
    monkeypatch.setattr(fad, "_sqrtm", lambda m: np.full_like(m, np.inf))
    with pytest.raises(ValueError, match="no finite square root"):
        frechet_distance_from_stats(np.zeros(2), np.eye(2), np.zeros(2), np.eye(2))


def test_large_imaginary_part_raises(monkeypatch):
    monkeypatch.setattr(fad, "_sqrtm", lambda m: m.astype(complex) + 0.5j * np.eye(len(m)))
    with pytest.raises(ValueError, match="imaginary"):
        frechet_distance_from_stats(np.zeros(2), np.eye(2), np.zeros(2), np.eye(2))


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match=r"\[N, D\]"):
        frechet_distance(np.zeros(5), np.zeros(5))
    with pytest.raises(ValueError, match="at least 2"):
        frechet_distance(np.zeros((1, 3)), np.zeros((4, 3)))


def test_fad_inf_extrapolates_a_line_in_one_over_n():
    rng = np.random.default_rng(6)
    ref = rng.standard_normal((20000, 16))
    gen = rng.standard_normal((2000, 16))  # the same distribution: FAD-inf should be ~0
    mu, sigma = gaussian_stats(ref)
    result = fad_inf(mu, sigma, gen, num_points=10, min_n=50, seed=0)
    assert result.ns[0] == 50 and result.ns[-1] == 2000 and len(result.fads) == 10
    slope, intercept = np.polyfit(1.0 / np.array(result.ns), result.fads, 1)
    assert result.value == pytest.approx(intercept) and result.slope == pytest.approx(slope)
    # Small sets inflate FAD (by about tr(sigma) / n): a positive slope, a good line, and
    # FAD-inf below FAD at full N.
    assert result.slope > 0 and result.r2 > 0.9
    assert abs(result.value) < result.fads[-1]
    with pytest.raises(ValueError, match="min_n"):
        fad_inf(mu, sigma, gen[:3], min_n=5)


def test_metric_matches_function_and_accumulates():
    rng = np.random.default_rng(7)
    gen, ref = rng.standard_normal((60, 5)), rng.standard_normal((45, 5)) + 0.5
    metric = FrechetAudioDistance(dim=5)
    for chunk in np.array_split(gen, 3):
        metric.update_embeddings(generated=torch.from_numpy(chunk))
    metric.update_embeddings(reference=torch.from_numpy(ref))
    assert metric.compute()["fad"] == pytest.approx(frechet_distance(gen, ref), rel=1e-9)
    metric.reset()
    with pytest.raises(ValueError, match="at least 2 generated"):
        metric.compute()


def test_metric_with_inf_correction():
    rng = np.random.default_rng(8)
    gen, ref = rng.standard_normal((80, 3)), rng.standard_normal((90, 3))
    metric = FrechetAudioDistance(dim=3, inf_correction=True, num_points=5, min_n=20)
    metric.update_embeddings(torch.from_numpy(gen[:30]), torch.from_numpy(ref))
    metric.update_embeddings(torch.from_numpy(gen[30:]))
    out = metric.compute()
    expected = fad_inf(*gaussian_stats(ref), gen, num_points=5, min_n=20)
    assert out["fad_inf"] == pytest.approx(expected.value, rel=1e-9)
    assert set(out) == {"fad", "fad_inf", "fad_inf_slope", "fad_inf_r2"}


def test_metric_needs_backbone_or_dim():
    with pytest.raises(ValueError, match="backbone or the embedding dim"):
        FrechetAudioDistance()
    with pytest.raises(ValueError, match="no backbone"):
        FrechetAudioDistance(dim=2).update(torch.zeros(1, 1, 10), sample_rate=16000)


def test_reference_state_can_be_saved_and_reused(tmp_path):
    rng = np.random.default_rng(9)
    gen, ref = rng.standard_normal((30, 3)), rng.standard_normal((40, 3)) + 1.0
    first = FrechetAudioDistance(dim=3)
    first.update_embeddings(reference=torch.from_numpy(ref))
    torch.save(first.reference_state(), tmp_path / "ref.pt")
    second = FrechetAudioDistance(dim=3)
    second.load_reference_state(torch.load(tmp_path / "ref.pt"))
    second.update_embeddings(generated=torch.from_numpy(gen))
    assert second.compute()["fad"] == pytest.approx(frechet_distance(gen, ref), rel=1e-9)
    with pytest.raises(ValueError, match="another backbone"):
        FrechetAudioDistance(dim=4).load_reference_state(first.reference_state())
