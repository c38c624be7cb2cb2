"""The named evaluation metrics: how an evaluation builds each metric and feeds it a batch.

Every entry of :data:`audiocraft.metrics.METRICS` is a factory
``(EvalContext) -> EvalMetric``. The context carries what a metric may need from the run
(the loaded compression model, the audio's sample rate, the weights folder, the device,
per-metric options), so that no metric imports a model. A factory whose backbone weights
are absent raises :class:`~audiocraft.metrics.backbones.base.MetricUnavailable`;
:func:`build_metrics` collects those as ``{name: reason}`` so a run reports them and goes
on with the others.

An :class:`EvalMetric` reads one :class:`EvalBatch` (generated audio, reference audio, texts
and labels), whatever the wrapped torchmetrics ``Metric``'s own ``update`` signature is.

    metrics, unavailable = build_metrics(["fad_codec", "tempo"], EvalContext(32000, codec))
    for batch in batches:
        for metric in metrics.values():
            metric.update(batch)
    results = {name: m.compute() for name, m in metrics.items()}
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torchmetrics import Metric

from ..data.audio_utils import convert_audio
from . import METRICS
from .adherence import KeyAdherence, TempoAdherence
from .backbones.base import MetricUnavailable
from .chroma_cosine import ChromaCosineSimilarity
from .clap import CLAPTextConsistency
from .codec import SISNR, MelDistance
from .fad import FrechetAudioDistance
from .kld import KLDivergence

__all__ = ["EvalContext", "EvalBatch", "EvalMetric", "MetricFactory", "build_metrics",
           "OFFLINE_METRICS"]

# Metrics that need no downloaded weights (the codec's are the evaluated model's own).
OFFLINE_METRICS = ("fad_codec", "tempo", "key", "chroma_cosine", "sisnr", "mel")


@dataclass
class EvalContext:
    """What metric factories may use.

    Attributes:
        sample_rate: rate of the audio the metrics receive.
        compression_model: the evaluated model's codec (for ``fad_codec``), or None.
        weights: folder of backbone weights (default ``$AUDIOCRAFT_METRICS_DIR``).
        device: where backbones run.
        options: per-metric keyword arguments of the metric's constructor, e.g.
            ``{"key": {"profiles": "synthetic"}, "fad_codec": {"inf_correction": True}}``.
    """

    sample_rate: int
    compression_model: nn.Module | None = None
    weights: str | Path | None = None
    device: str | torch.device = "cpu"
    options: dict[str, dict[str, Any]] = field(default_factory=dict)

    def kwargs(self, name: str) -> dict[str, Any]:
        return dict(self.options.get(name, {}))


@dataclass
class EvalBatch:
    """One batch of an evaluation.

    Attributes:
        generated: generated audio ``[B, C, T]`` at ``sample_rate``.
        reference: the reference audio ``[B, C', T']`` at ``sample_rate`` (the item the
            generation's conditions came from), or None.
        texts, bpms, keys: per item (``B`` each) description, tempo label, key label.
    """

    generated: torch.Tensor
    sample_rate: int
    reference: torch.Tensor | None = None
    texts: Sequence[str | None] = ()
    bpms: Sequence[float | None] = ()
    keys: Sequence[str | None] = ()

    def paired(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(generated, reference)`` cut to the shorter length, the reference with the
        generated audio's channels: both ``[B, C, T_min]``."""
        if self.reference is None:
            raise ValueError("This metric compares with reference audio; the batch has none.")
        ref = convert_audio(self.reference, self.sample_rate, self.sample_rate,
                            self.generated.shape[1])
        n = min(self.generated.shape[-1], ref.shape[-1])
        return self.generated[..., :n], ref[..., :n]


class EvalMetric:
    """A torchmetrics ``Metric`` and how it reads an :class:`EvalBatch`.

    Args:
        name: the registry name.
        metric: the metric (``compute()`` returns a dict of floats).
        feed: ``(metric, batch) -> None``, calls the metric's own ``update``.
    """

    def __init__(self, name: str, metric: Metric, feed: Callable[[Any, EvalBatch], None]):
        self.name = name
        self.metric = metric
        self.feed = feed

    def update(self, batch: EvalBatch) -> None:
        self.feed(self.metric, batch)

    def compute(self) -> dict[str, float]:
        return {k: float(v) for k, v in self.metric.compute().items()}

    def reset(self) -> None:
        self.metric.reset()


MetricFactory = Callable[[EvalContext], EvalMetric]


def build_metrics(names: Sequence[str], context: EvalContext
                  ) -> tuple[dict[str, EvalMetric], dict[str, str]]:
    """Build the metrics ``names`` for ``context``.

    Returns ``(metrics, unavailable)``: the built metrics by name, and for each metric
    whose weights are absent the reason (naming the file it needs).

    Raises:
        UnknownNameError: (a ValueError) for a name nobody registered, before anything is
            built; the message lists the known names.
    """
    factories = {name: METRICS.get(name, where="metrics") for name in names}
    metrics: dict[str, EvalMetric] = {}
    unavailable: dict[str, str] = {}
    for name, factory in factories.items():
        try:
            metrics[name] = factory(context)
        except MetricUnavailable as err:
            unavailable[name] = str(err)
    return metrics, unavailable


def compute_metrics(names: Sequence[str], metrics: dict[str, EvalMetric],
                    unavailable: dict[str, str]) -> tuple[dict[str, Any], bool]:
    """The values of the metrics ``names`` (built by `build_metrics`, then updated).

    Returns ``(results, complete)``: per name the metric's values, or
    ``{"unavailable": reason}`` / ``{"error": reason}`` (a metric that could not compute,
    e.g. too few samples); ``complete`` is False when any metric has no values.
    """
    results: dict[str, Any] = {}
    complete = not unavailable
    for name in names:
        if name in unavailable:
            results[name] = {"unavailable": unavailable[name]}
            continue
        try:
            results[name] = metrics[name].compute()
        except ValueError as err:
            results[name] = {"error": str(err)}
            complete = False
    return results, complete


# ---- the registered metrics ----------------------------------------------------------------


def _feed_fad(metric: FrechetAudioDistance, batch: EvalBatch) -> None:
    metric.update(batch.generated, batch.reference, sample_rate=batch.sample_rate)


@METRICS.register("fad_codec")
def _fad_codec(ctx: EvalContext) -> EvalMetric:
    from .backbones.codec import CodecBackbone
    if ctx.compression_model is None:
        raise MetricUnavailable("codec", "the evaluated model's compression model",
                                "the evaluation context (pass compression_model)")
    backbone = CodecBackbone(ctx.compression_model, **ctx.kwargs("fad_codec_backbone"))
    return EvalMetric("fad_codec", FrechetAudioDistance(backbone, **ctx.kwargs("fad_codec")),
                      _feed_fad)


@METRICS.register("fad_vggish")
def _fad_vggish(ctx: EvalContext) -> EvalMetric:
    from .backbones.vggish import VGGishBackbone
    backbone = VGGishBackbone(ctx.weights, device=ctx.device)
    return EvalMetric("fad_vggish", FrechetAudioDistance(backbone, **ctx.kwargs("fad_vggish")),
                      _feed_fad)


@METRICS.register("fad_clap")
def _fad_clap(ctx: EvalContext) -> EvalMetric:
    from .backbones.clap import ClapBackbone
    backbone = ClapBackbone(ctx.weights, device=ctx.device)
    return EvalMetric("fad_clap", FrechetAudioDistance(backbone, **ctx.kwargs("fad_clap")),
                      _feed_fad)


@METRICS.register("kld")
def _kld(ctx: EvalContext) -> EvalMetric:
    from .backbones.ast import ASTClassifier

    def feed(metric: KLDivergence, batch: EvalBatch) -> None:
        gen, ref = batch.paired()
        metric.update(gen, ref, sample_rate=batch.sample_rate)

    return EvalMetric("kld", KLDivergence(ASTClassifier(ctx.weights, device=ctx.device),
                                          **ctx.kwargs("kld")), feed)


@METRICS.register("clap")
def _clap(ctx: EvalContext) -> EvalMetric:
    from .backbones.clap import ClapBackbone

    def feed(metric: CLAPTextConsistency, batch: EvalBatch) -> None:
        keep = [i for i, t in enumerate(batch.texts) if t]
        if keep:
            metric.update(batch.generated[keep], [str(batch.texts[i]) for i in keep],
                          sample_rate=batch.sample_rate)

    return EvalMetric("clap", CLAPTextConsistency(ClapBackbone(ctx.weights, device=ctx.device)),
                      feed)


@METRICS.register("chroma_cosine")
def _chroma_cosine(ctx: EvalContext) -> EvalMetric:
    def feed(metric: ChromaCosineSimilarity, batch: EvalBatch) -> None:
        gen, ref = batch.paired()
        metric.update(gen, ref, sample_rate=batch.sample_rate)

    return EvalMetric("chroma_cosine", ChromaCosineSimilarity(**ctx.kwargs("chroma_cosine")),
                      feed)


@METRICS.register("tempo")
def _tempo(ctx: EvalContext) -> EvalMetric:
    def feed(metric: TempoAdherence, batch: EvalBatch) -> None:
        metric.update(batch.generated, list(batch.bpms), batch.sample_rate)

    return EvalMetric("tempo", TempoAdherence(**ctx.kwargs("tempo")), feed)


@METRICS.register("key")
def _key(ctx: EvalContext) -> EvalMetric:
    def feed(metric: KeyAdherence, batch: EvalBatch) -> None:
        metric.update(batch.generated, list(batch.keys), batch.sample_rate)

    return EvalMetric("key", KeyAdherence(**ctx.kwargs("key")), feed)


@METRICS.register("sisnr")
def _sisnr(ctx: EvalContext) -> EvalMetric:
    def feed(metric: SISNR, batch: EvalBatch) -> None:
        metric.update(*batch.paired())

    return EvalMetric("sisnr", SISNR(**ctx.kwargs("sisnr")), feed)


@METRICS.register("mel")
def _mel(ctx: EvalContext) -> EvalMetric:
    def feed(metric: MelDistance, batch: EvalBatch) -> None:
        metric.update(*batch.paired())

    return EvalMetric("mel", MelDistance(ctx.sample_rate, **ctx.kwargs("mel")), feed)
