"""KL divergence between a classifier's label distributions on reference and generated audio.

As the reference audiocraft's PaSST KL metric: every item is resampled to the
classifier's rate, made mono, cut into consecutive windows of the classifier's length
(the last, shorter piece kept unless it is ``min_samples`` or shorter; no padding, which
would change the label distribution), the softmax probabilities of its windows averaged
into one distribution per item, and for each generated/reference pair::

    KL(ref || gen) = sum_c p_ref[c] * (log p_ref[c] - log(p_gen[c] + eps)),  eps = 1e-6

summed over labels (0 log 0 = 0) and averaged over pairs. ``kld_qp`` swaps the roles.
The classifier is pluggable (:class:`~audiocraft.metrics.backbones.base.AudioClassifier`):
an AudioSet classifier (AST here; PaSST in the reference).
"""

from __future__ import annotations

import torch
from torchmetrics import Metric

from audiocraft.metrics.backbones.base import AudioClassifier, to_mono

__all__ = ["KL_EPSILON", "kl_divergence", "label_distribution", "KLDivergence"]

KL_EPSILON = 1e-6


def kl_divergence(pred_probs: torch.Tensor, target_probs: torch.Tensor,
                  epsilon: float = KL_EPSILON) -> torch.Tensor:
    """``KL(target || pred)`` per item ``[B]`` for probabilities ``[B, classes]``, with
    ``epsilon`` added to ``pred_probs`` inside the log."""
    if pred_probs.shape != target_probs.shape:
        raise ValueError(f"Probability shapes differ: {tuple(pred_probs.shape)} and "
                         f"{tuple(target_probs.shape)}.")
    return torch.nn.functional.kl_div((pred_probs + epsilon).log(), target_probs,
                                      reduction="none").sum(-1)


def label_distribution(classifier: AudioClassifier, wav: torch.Tensor,
                       sample_rate: int) -> torch.Tensor:
    """Mean label probabilities ``[classes]`` of one item ``wav [C, T]`` over its windows."""
    mono = to_mono(wav[None], sample_rate, classifier.sample_rate)[0]  # [T']
    segments = [s for s in torch.split(mono, classifier.max_samples)
                if s.shape[-1] > classifier.min_samples]
    if not segments:
        raise ValueError(
            f"Audio of {wav.shape[-1] / sample_rate:.3f} s is too short for the "
            f"{classifier.name} classifier: give more than "
            f"{classifier.min_samples / classifier.sample_rate:.3f} s.")
    with torch.no_grad():
        probs = [classifier.probabilities(s[None])[0] for s in segments]  # [classes] each
    return torch.stack(probs).mean(0)


class KLDivergence(Metric):
    """Mean KL divergence between the classifier's label distributions on reference
    (``targets``) and generated (``preds``) audio, pair by pair.

    ``compute()`` returns ``{"kld": KL(ref || gen), "kld_pq": same, "kld_qp":
    KL(gen || ref), "kld_both": their sum}`` (the reference's keys).
    """

    full_state_update = False
    higher_is_better = False
    is_differentiable = False
    kld_pq_sum: torch.Tensor
    kld_qp_sum: torch.Tensor
    count: torch.Tensor

    def __init__(self, classifier: AudioClassifier | None = None, epsilon: float = KL_EPSILON):
        super().__init__()
        self.classifier = classifier
        self.epsilon = epsilon
        self.add_state("kld_pq_sum", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("kld_qp_sum", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, preds: torch.Tensor, targets: torch.Tensor, sample_rate: int | None = None,
               sizes: torch.Tensor | None = None, target_sizes: torch.Tensor | None = None,
               probabilities: bool = False) -> None:
        """Generated ``preds [B, C, T]`` against reference ``targets [B, C, T']`` at
        ``sample_rate``; items are cut to ``sizes [B]`` / ``target_sizes [B]`` samples
        (default: ``sizes`` for both) when given. With ``probabilities``, both are label
        distributions ``[B, classes]`` already (see :meth:`add_probabilities`)."""
        if preds.shape[0] != targets.shape[0]:
            raise ValueError(f"KL pairs generated and reference items: got {preds.shape[0]} "
                             f"and {targets.shape[0]}.")
        if probabilities:
            self._add(preds, targets)
            return
        if sample_rate is None:
            raise ValueError("KLDivergence.update needs the audio's sample_rate.")
        target_sizes = sizes if target_sizes is None else target_sizes
        p_gen = self._distributions(preds, sample_rate, sizes)
        p_ref = self._distributions(targets, sample_rate, target_sizes)
        self._add(p_gen, p_ref)

    def add_probabilities(self, pred_probs: torch.Tensor, target_probs: torch.Tensor) -> None:
        """Accumulate precomputed label distributions ``[B, classes]`` (generated, reference)."""
        self.update(pred_probs, target_probs, probabilities=True)

    def _add(self, pred_probs: torch.Tensor, target_probs: torch.Tensor) -> None:
        kld_pq = kl_divergence(pred_probs.double(), target_probs.double(), self.epsilon)
        kld_qp = kl_divergence(target_probs.double(), pred_probs.double(), self.epsilon)
        if torch.isnan(kld_pq).any() or torch.isnan(kld_qp).any():
            raise ValueError("KL divergence is NaN: the classifier returned NaN probabilities.")
        self.kld_pq_sum += kld_pq.sum().to(self.device)
        self.kld_qp_sum += kld_qp.sum().to(self.device)
        self.count += kld_pq.shape[0]

    def _distributions(self, wav: torch.Tensor, sample_rate: int,
                       sizes: torch.Tensor | None) -> torch.Tensor:
        if self.classifier is None:
            raise ValueError("This KLDivergence has no classifier: pass label distributions "
                             "(probabilities=True / add_probabilities) instead of audio.")
        if wav.dim() != 3:
            raise ValueError(f"Expected audio [B, C, T], got shape {tuple(wav.shape)}.")
        lengths = [wav.shape[-1]] * len(wav) if sizes is None else [int(n) for n in sizes]
        return torch.stack([label_distribution(self.classifier, w[:, :n], sample_rate)
                            for w, n in zip(wav, lengths)])

    def compute(self) -> dict[str, float]:
        n = float(self.count)
        if n == 0:
            raise ValueError("KL divergence has no pairs: call update first.")
        pq, qp = float(self.kld_pq_sum) / n, float(self.kld_qp_sum) / n
        return {"kld": pq, "kld_pq": pq, "kld_qp": qp, "kld_both": pq + qp}
