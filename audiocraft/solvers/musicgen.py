"""The MusicGen solver: trains a language model on the tokens of a frozen compression model.

Loss: cross-entropy per codebook on the positions that are valid under the codebook
pattern (`LMOutput.mask`) and inside the real audio (padding excluded), averaged over
codebooks. Conditions go through classifier-free-guidance dropout and attribute
dropout during training only. Validation runs on the EMA weights.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from ..models.encodec import CompressionModel
from ..models.lm import LMModel
from .base import BaseSolver, OptimizerFactory, SchedulerFactory
from .media import log_audio
from .stages import StageRunner, StageSettings
from .token_cache import TokenCache


@dataclass
class SampleSettings:
    """What to generate for the audio samples logged every `every` epochs (0: never)."""

    every: int = 0
    num_samples: int = 2
    duration: float = 1.0
    use_sampling: bool = True
    temp: float = 1.0
    top_k: int = 250
    top_p: float = 0.0
    cfg_coef: float | None = None


@dataclass
class CrossEntropy:
    """ce: mean over codebooks of the per-codebook cross-entropy; ce_per_codebook [K]."""

    ce: torch.Tensor
    ce_per_codebook: torch.Tensor


def masked_cross_entropy(logits: torch.Tensor, codes: torch.Tensor,
                         mask: torch.Tensor) -> CrossEntropy:
    """Cross-entropy per codebook over the positions where `mask` is True.

    logits [B, K, T, card], codes [B, K, T] long, mask [B, K, T] bool.
    """
    B, K, T, card = logits.shape
    # One pass over all positions (cheaper to differentiate than a gather per codebook);
    # positions outside the mask hold NaN logits, replaced so they add exact zeros.
    logits = torch.where(mask[..., None], logits.float(), 0.0)  # [B, K, T, card]
    ce = F.cross_entropy(logits.reshape(-1, card), codes.reshape(-1), reduction="none")
    ce = ce.view(B, K, T) * mask  # [B, K, T]
    ce_k = ce.sum(dim=(0, 2)) / mask.sum(dim=(0, 2)).clamp(min=1)  # [K]
    return CrossEntropy(ce_k.mean(), ce_k)


class MusicGenSolver(BaseSolver):
    """LightningModule training `lm` on codes of `compression_model` (kept frozen).

    Args:
        lm: the LMModel to train.
        compression_model: the codec that turns audio into codes; never updated.
        optimizer: builds the optimizer from the LM parameters (e.g. AdamW partial).
        scheduler: builds the per-step learning-rate scheduler, or None.
        ema_decay, ema_every: EMA of the LM weights (None: no EMA).
        token_cache: pre-computed codes to read (and/or write) instead of encoding.
        samples: audio samples to generate and log at validation.
        sample_dir: where sample files are written.
        stages: the evaluate/generate stages (see `audiocraft.solvers.stages`), or None.
        run_dir: the run's folder (the stages write under it).
    Batches are `wav [B, C, T]` or `(wav, infos)` where each info has
    `to_condition_attributes()` and, for padded segments, `n_frames` (real samples).
    """

    def __init__(self, lm: LMModel, compression_model: CompressionModel,
                 optimizer: OptimizerFactory, scheduler: SchedulerFactory | None = None,
                 ema_decay: float | None = None, ema_every: int = 1,
                 token_cache: TokenCache | None = None, samples: SampleSettings | None = None,
                 sample_dir: str | None = None,
                 stages: StageSettings | None = None, run_dir: str | None = None):
        super().__init__(lm, ema_decay, ema_every, best_metric="valid/ce")
        self.lm: LMModel = lm
        self.compression_model: CompressionModel = compression_model
        for p in self.compression_model.parameters():
            p.requires_grad_(False)
        self.compression_model.eval()
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.token_cache = token_cache
        self.samples = samples or SampleSettings()
        self.sample_dir = Path(sample_dir) if sample_dir else None
        self._eval_stack: contextlib.ExitStack | None = None
        self._sample_attributes: list[Any] | None = None
        self.train_history: list[float] = []  # train/ce per step (this rank)
        self._batch_size = 1
        self.stages = None if stages is None else StageRunner(
            stages, Path(run_dir or "."), compression_model, self._generate_like)
        self.stage_results: dict[str, Any] = {}  # the last evaluate stage's results

    def trained_module(self) -> nn.Module:
        return self.lm

    def train(self, mode: bool = True) -> MusicGenSolver:
        super().train(mode)
        self.compression_model.eval()  # frozen: never update codebooks or norms
        return self

    # ---- data -> tokens and conditions -----------------------------------------------

    @torch.no_grad()
    def _encode(self, wav: torch.Tensor) -> torch.Tensor:
        """codes [B, K, T] of audio [B, C, T] through the frozen codec."""
        with torch.autocast(device_type=wav.device.type, enabled=False):
            codes, scale = self.compression_model.encode(wav.float())
        if scale is not None:
            raise ValueError(
                "the compression model renormalizes its input (scale is not None); "
                "MusicGen training needs a codec built with renormalize=False."
            )
        return codes

    @torch.no_grad()
    def tokenize(self, wav: torch.Tensor,
                 infos: Sequence[Any] | None) -> tuple[torch.Tensor, torch.Tensor]:
        """codes [B, K, T] and the padding mask [B, K, T] (False past the real audio)."""
        found: list[torch.Tensor | None] = [None] * wav.shape[0]
        if self.token_cache is not None and infos:
            found = self.token_cache.lookup_each(infos)
        missing = [i for i, c in enumerate(found) if c is None]
        if missing:
            # Encode only the segments the cache lacks (all of them without a cache).
            encoded = self._encode(wav[missing])  # [M, K, T]
            if self.token_cache is not None and self.token_cache.write and infos:
                self.token_cache.add([infos[i] for i in missing], encoded)
            for i, c in zip(missing, encoded):
                found[i] = c
        if len({tuple(c.shape) for c in found}) != 1:  # type: ignore[union-attr]
            # Cached segments of another length than this batch's: encode it whole.
            found = list(self._encode(wav))
        codes = torch.stack([c.to(wav.device).long() for c in found])  # type: ignore[union-attr]
        padding = torch.ones_like(codes, dtype=torch.bool)  # [B, K, T]
        sample_rate = self.compression_model.sample_rate
        frame_rate = self.compression_model.frame_rate
        for i, info in enumerate(infos or []):
            n_frames = getattr(info, "n_frames", None)
            if n_frames is not None and n_frames < wav.shape[-1]:
                valid = math.ceil(n_frames / sample_rate * frame_rate)
                padding[i, :, valid:] = False
        return codes, padding

    def conditions(self, infos: Sequence[Any] | None, batch_size: int) -> list[Any]:
        from ..modules.conditioners import ConditioningAttributes

        if infos is None:
            return [ConditioningAttributes() for _ in range(batch_size)]
        # Items carry every attribute the data set knows (title, bpm, key...); the model
        # reads the ones it has conditioners for.
        provider = self.lm.condition_provider
        known = {"text": set(provider.text_conditions), "wav": set(provider.wav_conditions),
                 "joint_embed": set(provider.joint_embed_conditions)}
        attributes = []
        for info in infos:
            full = info.to_condition_attributes()
            attributes.append(ConditioningAttributes(
                text={k: v for k, v in full.text.items() if k in known["text"]},
                wav={k: v for k, v in full.wav.items() if k in known["wav"]},
                joint_embed={k: v for k, v in full.joint_embed.items()
                             if k in known["joint_embed"]}))
        return attributes

    def _predict(self, codes: torch.Tensor, attributes: list[Any]):
        # prepare_conditions applies the guidance and attribute dropouts (training only).
        condition_tensors = self.lm.prepare_conditions(attributes)
        return self.lm.compute_predictions(codes, [], condition_tensors)

    @staticmethod
    def split_batch(batch: Any) -> tuple[torch.Tensor, Sequence[Any] | None]:
        if isinstance(batch, torch.Tensor):
            return batch, None
        wav, infos = batch[0], batch[1]
        return wav, infos

    def _step(self, batch: Any) -> CrossEntropy:
        wav, infos = self.split_batch(batch)
        self._batch_size = wav.shape[0]
        codes, padding = self.tokenize(wav, infos)
        attributes = self.conditions(infos, wav.shape[0])
        out = self._predict(codes, attributes)
        mask = out.mask & padding & self._excerpt_mask(codes)
        return masked_cross_entropy(out.logits, codes, mask)

    def _excerpt_mask(self, codes: torch.Tensor) -> torch.Tensor:
        """[B, K, T] bool, False on the frames a conditioner took its excerpt from in this
        step (the style conditioner's `loss_excerpt`, in seconds): the LM must not learn to
        copy its condition."""
        keep = torch.ones_like(codes, dtype=torch.bool)  # [B, K, T]
        if not self.lm.training:
            return keep
        frame_rate = float(self.compression_model.frame_rate)
        for conditioner in self.lm.condition_provider.conditioners.values():
            excerpt = getattr(conditioner, "loss_excerpt", None)
            if excerpt is None:
                continue
            for b, (start, length) in enumerate(zip(*excerpt)):
                first = int(float(start) * frame_rate + 1e-4)  # float32 seconds: 0.2 * 10
                count = int(math.ceil(float(length) * frame_rate - 1e-4))
                keep[b, :, first: first + count] = False
        return keep

    # ---- Lightning hooks ------------------------------------------------------------------

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        result = self._step(batch)
        self.check_finite(result.ce, "train/ce")
        self._log_ce("train", result, prog_bar=True)
        self.train_history.append(float(result.ce.detach()))
        self.log("train/lr", self.optimizers().param_groups[0]["lr"],  # type: ignore[union-attr]
                 batch_size=self._batch_size)
        return result.ce

    def optimizer_step(self, *args: Any, **kwargs: Any) -> None:
        super().optimizer_step(*args, **kwargs)
        # Here rather than in on_train_batch_end, which runs after the checkpoint callback:
        # a checkpoint must hold the EMA of the weights it holds.
        self.update_ema()

    def on_validation_epoch_start(self) -> None:
        self._eval_stack = contextlib.ExitStack()
        self._eval_stack.enter_context(self.eval_context())

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        result = self._step(batch)
        self._log_ce("valid", result, sync_dist=True)
        if batch_idx == 0 and self._sample_attributes is None:
            wav, infos = self.split_batch(batch)
            self._sample_attributes = self.conditions(infos, wav.shape[0])

    def on_validation_epoch_end(self) -> None:
        try:
            if not self.trainer.sanity_checking:
                value = self.trainer.callback_metrics.get("valid/ce")
                if value is not None:
                    self.track_best(float(value))
                every = self.samples.every
                if every and (self.current_epoch + 1) % every == 0:
                    self.log_samples()
                self.run_stages(self.current_epoch + 1)
        finally:
            if self._eval_stack is not None:
                self._eval_stack.close()
                self._eval_stack = None

    def _log_ce(self, split: str, result: CrossEntropy, **kwargs: Any) -> None:
        kwargs["batch_size"] = self._batch_size
        self.log(f"{split}/ce", result.ce, **kwargs)
        self.log(f"{split}/ppl", torch.exp(result.ce), **{k: v for k, v in kwargs.items()
                                                           if k != "prog_bar"})
        for k, ce_k in enumerate(result.ce_per_codebook):
            extra = {k2: v for k2, v in kwargs.items() if k2 != "prog_bar"}
            self.log(f"{split}/ce_q{k + 1}", ce_k, **extra)
            self.log(f"{split}/ppl_q{k + 1}", torch.exp(ce_k), **extra)

    def configure_optimizers(self) -> Any:
        optimizer = self.optimizer_factory(p for p in self.lm.parameters() if p.requires_grad)
        if self.scheduler_factory is None:
            return optimizer
        scheduler = self.scheduler_factory(optimizer)
        return {"optimizer": optimizer,
                "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    # ---- samples -------------------------------------------------------------------------

    def run_stages(self, epoch: int) -> None:
        """The evaluate and generate stages due after `epoch` (rank 0 only)."""
        if self.stages is None:
            return
        s = self.samples
        results = self.stages.run_due(self, epoch, {
            "use_sampling": s.use_sampling, "temp": s.temp, "top_k": s.top_k,
            "top_p": s.top_p, "cfg_coef": s.cfg_coef})
        if results is not None:
            self.stage_results = results

    def _generate_like(self, wav: torch.Tensor, infos: list[Any]) -> torch.Tensor:
        """Audio [B, C, T'] generated from the conditions of `infos`, as long as `wav`."""
        duration = wav.shape[-1] / self.compression_model.sample_rate
        return self.generate_audio(self.conditions(infos, wav.shape[0]), duration)

    @torch.no_grad()
    def generate_audio(self, attributes: list[Any], duration: float | None = None
                       ) -> torch.Tensor:
        """Generate audio [B, C, T] for `attributes` with the current (EMA) weights,
        `duration` seconds (default: the sample settings')."""
        s = self.samples
        duration = s.duration if duration is None else duration
        max_gen_len = max(1, int(duration * self.compression_model.frame_rate))
        codes = self.lm.generate(None, attributes, max_gen_len=max_gen_len,
                                 use_sampling=s.use_sampling, temp=s.temp, top_k=s.top_k,
                                 top_p=s.top_p, cfg_coef=s.cfg_coef)  # [B, K, T]
        return self.compression_model.decode(codes, None)

    def log_samples(self) -> None:
        if not self.trainer.is_global_zero or not self._sample_attributes:
            return
        attributes = self._sample_attributes[: self.samples.num_samples]
        wav = self.generate_audio(attributes)
        folder = self.sample_dir / f"epoch_{self.current_epoch + 1}" if self.sample_dir else None
        for i in range(wav.shape[0]):
            log_audio(self.trainer, f"samples/gen_{i}", wav[i],
                      self.compression_model.sample_rate, folder)

    def on_train_epoch_end(self) -> None:
        if self.token_cache is not None and self.token_cache.write:
            self.token_cache.flush(self.global_rank)
