"""The evaluate and generate stages of the solvers (run every N epochs at validation, or
alone on a checkpoint with ``execute_only=evaluate`` / ``execute_only=generate``).

- evaluate: for the first ``evaluate.num_samples`` items of the evaluate split, the LM
  solver generates from the item's conditions and the configured metrics
  (``evaluate.metrics``, names of :data:`audiocraft.metrics.METRICS`) compare with the
  item's audio; the codec solver reconstructs the item (SI-SNR, mel distance, and FAD with
  ``fad_codec``...). Values are logged as ``evaluate/<metric>/<value>`` and written, with
  the unavailable metrics and their reasons, to ``<run_dir>/evaluate/epoch_<n>/results.json``.
- generate: the LM solver generates for the first ``generate.num_samples`` items of the
  generate split, written as ``<run_dir>/generate/epoch_<n>/<id>.wav`` with a JSON sidecar
  ``<id>.json`` (conditions, settings); ids are deterministic (the item's index and a hash
  of the conditions and epoch).

The splits are read from ``datasource.evaluate`` / ``datasource.generate`` with the run's
dataset settings; the stages run on rank 0 only (single-process metrics).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import soundfile as sf
import torch

from ..metrics.adherence import labels_of
from ..metrics.evaluation import EvalBatch, EvalContext, build_metrics, compute_metrics

logger = logging.getLogger(__name__)

__all__ = ["StageSettings", "StageRunner", "STAGES"]

STAGES = ("evaluate", "generate")


@dataclass
class StageSettings:
    """What the stages do (``cfg.evaluate`` / ``cfg.generate``).

    Attributes:
        evaluate_every: epochs between evaluate stages (0: only with execute_only).
        metrics: metric names of the evaluate stage.
        evaluate_num: items of the evaluate split.
        generate_every: epochs between generate stages (0: only with execute_only).
        generate_num: items of the generate split.
        weights: folder of metric weights (None: ``$AUDIOCRAFT_METRICS_DIR``).
        evaluate_manifest, generate_manifest: the splits' manifests (None: no stage).
        dataset_kwargs: arguments of the splits' datasets; music: MusicDataset items.
        only: the ``execute_only`` stage, or None.
        metric_options: per-metric constructor arguments.
    """

    evaluate_every: int = 0
    metrics: list[str] = field(default_factory=list)
    evaluate_num: int = 4
    generate_every: int = 0
    generate_num: int = 2
    weights: str | None = None
    evaluate_manifest: str | None = None
    generate_manifest: str | None = None
    dataset_kwargs: dict[str, Any] = field(default_factory=dict)
    music: bool = True
    only: str | None = None
    metric_options: dict[str, dict[str, Any]] = field(default_factory=dict)

    def due(self, stage: str, epoch: int) -> bool:
        """Whether ``stage`` runs after (1-based) ``epoch``."""
        if self.only is not None:
            return self.only == stage
        every = self.evaluate_every if stage == "evaluate" else self.generate_every
        return bool(every) and epoch % every == 0


def _items(manifest: str, kwargs: dict[str, Any], music: bool, num: int,
           batch_size: int) -> Iterator[tuple[torch.Tensor, list[Any]]]:
    """Batches ``(wav [B, C, T], infos)`` of the first ``num`` items of ``manifest``."""
    from ..data.datamodule import AudioDataModule

    kwargs = {**kwargs, "num_samples": num}  # the segmented dataset's length
    data = AudioDataModule(evaluate=manifest, dataset_kwargs=kwargs, batch_size=batch_size,
                           num_workers=0, music=music)
    seen = 0
    for wav, infos in data.evaluate_dataloader():
        take = min(num - seen, wav.shape[0])
        yield wav[:take], list(infos[:take])
        seen += take
        if seen >= num:
            return


def _labels(infos: list[Any]) -> tuple[list[str | None], list[float | None], list[str | None]]:
    texts = [getattr(i, "description", None) for i in infos]
    pairs = [labels_of(i) for i in infos]
    return texts, [p[0] for p in pairs], [p[1] for p in pairs]


class StageRunner:
    """Runs the stages for a solver.

    Args:
        settings: the stage settings.
        run_dir: the run's folder (outputs go under ``evaluate/`` and ``generate/``).
        compression_model: the codec (for ``fad_codec`` and the sample rate).
        produce: ``(wav [B, C, T], infos) -> audio [B, C, T']`` to score: the LM's
            generation from the items' conditions, or the codec's reconstruction.
    """

    def __init__(self, settings: StageSettings, run_dir: Path, compression_model: Any,
                 produce: Callable[[torch.Tensor, list[Any]], torch.Tensor]):
        self.settings = settings
        self.run_dir = Path(run_dir)
        self.compression_model = compression_model
        self.produce = produce

    @property
    def sample_rate(self) -> int:
        return int(self.compression_model.sample_rate)

    def evaluate(self, epoch: int, device: torch.device) -> dict[str, Any]:
        """Run the evaluate stage; returns the results (also written to results.json)."""
        s = self.settings
        if not s.evaluate_manifest:
            raise ValueError("The evaluate stage needs `datasource.evaluate` (a manifest).")
        context = EvalContext(self.sample_rate, self.compression_model, s.weights, device,
                              s.metric_options)
        metrics, unavailable = build_metrics(s.metrics, context)
        for name, reason in unavailable.items():
            logger.warning("evaluate: metric %s unavailable: %s", name, reason)
        count = 0
        for wav, infos in _items(s.evaluate_manifest, s.dataset_kwargs, s.music,
                                 s.evaluate_num, 4):
            wav = wav.to(device)
            out = self.produce(wav, infos).float()
            texts, bpms, keys = _labels(infos)
            batch = EvalBatch(out.cpu(), self.sample_rate, wav.cpu(), texts, bpms, keys)
            for metric in metrics.values():
                metric.update(batch)
            count += wav.shape[0]
        values, complete = compute_metrics(s.metrics, metrics, unavailable)
        results: dict[str, Any] = {"epoch": epoch, "items": count, "metrics": list(s.metrics),
                                   **values, "complete": complete}
        folder = self.run_dir / "evaluate" / f"epoch_{epoch}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "results.json").write_text(json.dumps(results, indent=2) + "\n")
        logger.info("evaluate (epoch %d): %s", epoch, results)
        return results

    def run_due(self, module: Any, epoch: int,
                generation: dict[str, Any] | None = None) -> dict[str, Any] | None:
        """The stages due after (1-based) ``epoch``, for a solver ``module`` (a
        LightningModule, on rank 0 only); evaluate values are logged through it. Returns the
        evaluate results when that stage ran."""
        if not module.trainer.is_global_zero:
            return None
        results = None
        if self.settings.due("evaluate", epoch):
            results = self.evaluate(epoch, module.device)
            flat = flat_metrics(results)
            for key, value in flat.items():
                module.log(key, value, rank_zero_only=True)
            _push_to_dora(flat)
        if self.settings.due("generate", epoch):
            self.generate(epoch, module.device, generation)
        return results

    def generate(self, epoch: int, device: torch.device,
                 settings: dict[str, Any] | None = None) -> list[Path]:
        """Run the generate stage; returns the written audio files."""
        s = self.settings
        if not s.generate_manifest:
            raise ValueError("The generate stage needs `datasource.generate` (a manifest).")
        folder = self.run_dir / "generate" / f"epoch_{epoch}"
        folder.mkdir(parents=True, exist_ok=True)
        written: list[Path] = []
        index = 0
        for wav, infos in _items(s.generate_manifest, s.dataset_kwargs, s.music,
                                 s.generate_num, 4):
            out = self.produce(wav.to(device), infos).float().cpu()
            texts, bpms, keys = _labels(infos)
            for i in range(out.shape[0]):
                source = str(getattr(getattr(infos[i], "meta", None), "path", ""))
                blob = json.dumps([epoch, source, texts[i], settings], sort_keys=True,
                                  default=str)
                sid = f"{index:04d}_{hashlib.sha1(blob.encode()).hexdigest()[:8]}"
                path = folder / f"{sid}.wav"
                sf.write(path, out[i].clamp(-1, 1).numpy().T, self.sample_rate,
                         subtype="PCM_16")
                side = {"id": sid, "epoch": epoch, "source": source, "description": texts[i],
                        "bpm": bpms[i], "key": keys[i], "settings": settings or {}}
                (folder / f"{sid}.json").write_text(json.dumps(side, indent=2, default=str)
                                                    + "\n")
                written.append(path)
                index += 1
        logger.info("generate (epoch %d): %d samples in %s", epoch, len(written), folder)
        return written


def _push_to_dora(metrics: dict[str, float]) -> None:
    """Add the evaluate values to the dora experiment's history (for `dora grid` tables):
    the history callback has already pushed this validation's row when the stage runs."""
    import dora

    if metrics and dora.is_xp():
        dora.get_xp().link.push_metrics(metrics)


def flat_metrics(results: dict[str, Any]) -> dict[str, float]:
    """``evaluate/<metric>/<value>`` -> float, for the loggers."""
    out = {}
    for name in results.get("metrics", []):
        for key, value in results.get(name, {}).items():
            if isinstance(value, (int, float)):
                out[f"evaluate/{name}/{key}"] = float(value)
    return out
