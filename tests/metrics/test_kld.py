"""KL divergence against numpy, the reference windowing, and the Metric's bookkeeping."""

import numpy as np
import pytest
import torch

from audiocraft.metrics.kld import KL_EPSILON, KLDivergence, kl_divergence, label_distribution


class WindowClassifier:
    """A fake 3-label classifier at 100 Hz with 1 s windows; records each window's length."""

    name = "fake"
    sample_rate = 100
    max_samples = 100
    min_samples = 15

    def __init__(self):
        self.lengths = []

    def probabilities(self, wav):
        self.lengths.append(wav.shape[-1])
        logits = torch.stack([wav.mean(-1) * 10, torch.full_like(wav[:, 0], wav.shape[-1] / 50),
                              torch.zeros_like(wav[:, 0])], dim=-1)
        return logits.softmax(-1)


def _numpy_kl(p_gen, p_ref, eps=1e-6):
    ref_term = np.where(p_ref > 0, p_ref * np.log(np.where(p_ref > 0, p_ref, 1)), 0.0)
    return (ref_term - p_ref * np.log(p_gen + eps)).sum(-1)


def test_kl_matches_numpy_with_epsilon():
    rng = np.random.default_rng(0)
    p_gen = rng.dirichlet(np.ones(6), size=4)
    p_ref = rng.dirichlet(np.ones(6), size=4)
    p_gen[0, 2] = 0.0  # the epsilon keeps log(0) finite
    p_ref[1, 3] = 0.0  # 0 log 0 = 0
    got = kl_divergence(torch.from_numpy(p_gen), torch.from_numpy(p_ref))
    np.testing.assert_allclose(got.numpy(), _numpy_kl(p_gen, p_ref), rtol=1e-12)
    assert KL_EPSILON == 1e-6
    # The epsilon matters: KL against a zero probability is large but finite.
    assert np.isfinite(got.numpy()).all()
    assert got[0] > p_ref[0, 2] * (np.log(p_ref[0, 2]) - np.log(1e-6)) - 1.0


def test_windows_are_averaged_and_short_tails_dropped():
    clf = WindowClassifier()
    wav = torch.randn(1, 2, 200 + 100 + 40)  # 2 channels at 100 Hz: windows 100, 100, 100, 40
    probs = label_distribution(clf, wav[0], 100)
    assert clf.lengths == [100, 100, 100, 40]
    mono = wav[0].mean(0)
    expected = torch.stack([clf.probabilities(s[None])[0] for s in torch.split(mono, 100)])
    torch.testing.assert_close(probs, expected.mean(0))
    clf.lengths.clear()
    label_distribution(clf, torch.randn(2, 315), 100)  # a 15-sample tail is not > min_samples
    assert clf.lengths == [100, 100, 100]
    with pytest.raises(ValueError, match="too short"):
        label_distribution(clf, torch.randn(1, 10), 100)


def test_metric_accumulates_pairs_and_resamples():
    clf = WindowClassifier()
    metric = KLDivergence(clf)
    gen, ref = torch.randn(3, 1, 500), torch.randn(3, 1, 500) + 0.3
    metric.update(gen[:2], ref[:2], sample_rate=200)  # resampled to the classifier's 100 Hz
    metric.update(gen[2:], ref[2:], sample_rate=200)
    out = metric.compute()
    p_gen = torch.stack([label_distribution(clf, g, 200) for g in gen]).double()
    p_ref = torch.stack([label_distribution(clf, r, 200) for r in ref]).double()
    assert out["kld"] == pytest.approx(kl_divergence(p_gen, p_ref).mean().item(), rel=1e-9)
    assert out["kld_qp"] == pytest.approx(kl_divergence(p_ref, p_gen).mean().item(), rel=1e-9)
    assert out["kld_both"] == pytest.approx(out["kld_pq"] + out["kld_qp"])
    assert clf.lengths[0] == 100  # 500 samples at 200 Hz -> 250 at 100 Hz -> 100, 100, 50


def test_metric_sizes_and_errors():
    clf = WindowClassifier()
    metric = KLDivergence(clf)
    gen, ref = torch.randn(2, 1, 300), torch.randn(2, 1, 300)
    metric.update(gen, ref, sample_rate=100, sizes=torch.tensor([300, 120]))
    assert clf.lengths == [100, 100, 100, 100, 20] * 2  # generated items, then reference
    with pytest.raises(ValueError, match="pairs"):
        metric.update(gen, ref[:1], sample_rate=100)
    with pytest.raises(ValueError, match="call update"):
        KLDivergence(clf).compute()
    with pytest.raises(ValueError, match="no classifier"):
        KLDivergence().update(gen, ref, sample_rate=100)
    probs = KLDivergence()
    probs.add_probabilities(torch.tensor([[0.5, 0.5]]), torch.tensor([[0.5, 0.5]]))
    assert probs.compute()["kld"] == pytest.approx(-np.log1p(2e-6) * 1.0, abs=1e-9)
