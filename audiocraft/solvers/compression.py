"""The compression solver: trains an EnCodec-style codec (manual optimisation).

Each step: the codec reconstructs the batch; every named reconstruction loss and the
adversarial terms (`adv`: hinge, `feat`: feature matching) are differentiated with
respect to the reconstruction only and combined by the gradient balancer; the
quantizer's commitment penalty is added unbalanced; then the discriminator takes its own
hinge-loss step every `adv_every` steps. Validation (on EMA weights) reports every loss
and the SI-SNR of the reconstruction.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..adversarial import feature_matching_loss, hinge_discriminator_loss, hinge_generator_loss
from ..losses import Balancer, si_snr
from ..models.encodec import CompressionModel
from .base import BaseSolver, OptimizerFactory, SchedulerFactory
from .media import log_audio
from .stages import StageRunner, StageSettings


class CompressionSolver(BaseSolver):
    """LightningModule training `model` (a CompressionModel).

    Args:
        model: the codec; `model(wav)` returns a QuantizedResult (x [B, C, T], penalty, ...).
        losses: loss name -> module, each `(estimate, reference) -> scalar`.
        weights: loss name -> balancer weight (also for the adversarial `adv`, `feat`).
        balancer: combines the per-loss gradients on the reconstruction.
        optimizer: builds the codec optimizer; disc_optimizer: the discriminator's.
        scheduler: per-step learning-rate scheduler of the codec, or None.
        adversary: the discriminator (None: no adversarial training).
        adv_every: discriminator update every this many steps.
        max_norm: gradient clipping of the codec (0: off).
        ema_decay, ema_every: EMA of the codec weights (None: off).
        samples_every, num_samples, sample_dir: reconstructions logged every N epochs.
        stages, run_dir: the evaluate stage (the reconstructions of the evaluate split scored
            with `evaluate.metrics`: sisnr, mel, and e.g. fad_codec) and the generate
            stage (reconstructions written with sidecars); see `audiocraft.solvers.stages`.
    Batches are `wav [B, C, T]` or `(wav, infos)`.
    """

    def __init__(self, model: CompressionModel, losses: dict[str, nn.Module], balancer: Balancer,
                 optimizer: OptimizerFactory, scheduler: SchedulerFactory | None = None,
                 adversary: nn.Module | None = None,
                 disc_optimizer: OptimizerFactory | None = None, adv_every: int = 1,
                 max_norm: float = 0.0, ema_decay: float | None = None, ema_every: int = 1,
                 samples_every: int = 0, num_samples: int = 2, sample_dir: str | None = None,
                 stages: StageSettings | None = None, run_dir: str | None = None):
        super().__init__(model, ema_decay, ema_every, best_metric="valid/loss")
        self.automatic_optimization = False
        self.model: CompressionModel = model
        self.losses = nn.ModuleDict(losses)
        self.balancer = balancer
        self.adversary = adversary
        if adversary is not None and disc_optimizer is None:
            raise ValueError("an adversary needs its disc_optimizer.")
        self.optimizer_factory = optimizer
        self.disc_optimizer_factory = disc_optimizer
        self.scheduler_factory = scheduler
        self.adv_every = adv_every
        self.max_norm = max_norm
        self.samples_every = samples_every
        self.num_samples = num_samples
        self.sample_dir = Path(sample_dir) if sample_dir else None
        self._eval_stack: contextlib.ExitStack | None = None
        self._sample_batch: torch.Tensor | None = None
        self._steps = 0
        self.train_history: list[float] = []  # weighted reconstruction loss per step
        self.stages = None if stages is None else StageRunner(
            stages, Path(run_dir or "."), model, lambda wav, infos: self.model(wav).x)
        self.stage_results: dict[str, Any] = {}  # the last evaluate stage's results

    def trained_module(self) -> nn.Module:
        return self.model

    @staticmethod
    def _wav(batch: Any) -> torch.Tensor:
        return batch if isinstance(batch, torch.Tensor) else batch[0]

    # ---- training ----------------------------------------------------------------------

    def _reconstruction_losses(self, y_pred: torch.Tensor,
                               wav: torch.Tensor) -> dict[str, torch.Tensor]:
        return {name: fn(y_pred, wav) for name, fn in self.losses.items()}

    def training_step(self, batch: Any, batch_idx: int) -> None:
        wav = self._wav(batch)  # [B, C, T]
        optimizers = self.optimizers()
        opt_g = optimizers[0] if isinstance(optimizers, list) else optimizers
        qres = self.model(wav)
        y_pred = qres.x  # [B, C, T]
        losses = self._reconstruction_losses(y_pred, wav)
        if self.adversary is not None:
            with torch.no_grad():
                real = self.adversary(wav)
            fake = self.adversary(y_pred)
            losses["adv"] = hinge_generator_loss(fake)
            losses["feat"] = feature_matching_loss(real, fake)
        penalty = qres.penalty if qres.penalty is not None else y_pred.new_zeros(())
        weighted = torch.stack([self.balancer.weights.get(k, 0.0) * v.detach()
                                for k, v in losses.items()]).sum()
        self.check_finite(weighted + penalty.detach(), "train/loss")

        grad = self.balancer.compute(losses, y_pred)  # [B, C, T]
        total = (y_pred * grad).sum() + penalty  # gives y_pred exactly the balanced gradient
        opt_g.zero_grad()
        self.manual_backward(total)
        if self.max_norm > 0:
            self.clip_gradients(opt_g.optimizer, gradient_clip_val=self.max_norm,
                                gradient_clip_algorithm="norm")
        opt_g.step()
        scheduler = self.lr_schedulers()
        if scheduler is not None:
            scheduler.step()  # type: ignore[union-attr]
        self.update_ema()

        logs = {f"train/{k}": v.detach() for k, v in losses.items()}
        logs["train/penalty"] = penalty.detach()
        logs["train/loss"] = weighted
        if self.adversary is not None and self._steps % self.adv_every == 0:
            logs["train/d_loss"] = self._discriminator_step(wav, y_pred.detach())
        self._steps += 1
        for k, v in self.balancer.metrics.items():
            logs[f"train/{k}"] = torch.tensor(v)
        batch_size = wav.shape[0]
        shown = {"train/loss", "train/d_loss"}
        self.log_dict({k: v for k, v in logs.items() if k not in shown}, batch_size=batch_size)
        self.log_dict({k: v for k, v in logs.items() if k in shown}, prog_bar=True,
                      batch_size=batch_size)
        reconstruction = sum(self.balancer.weights.get(k, 0.0) * float(v.detach())
                             for k, v in losses.items() if k in self.losses)
        self.train_history.append(reconstruction)

    def _discriminator_step(self, wav: torch.Tensor, fake_wav: torch.Tensor) -> torch.Tensor:
        assert self.adversary is not None
        opt_d = self.optimizers()[1]  # type: ignore[index]
        d_loss = hinge_discriminator_loss(self.adversary(wav), self.adversary(fake_wav))
        self.check_finite(d_loss, "train/d_loss")
        opt_d.zero_grad()
        self.manual_backward(d_loss)
        # The raw optimizer: Lightning counts global steps on the codec optimizer only.
        opt_d.optimizer.step()
        return d_loss.detach()

    def configure_optimizers(self) -> Any:
        opt_g = self.optimizer_factory(self.model.parameters())
        optimizers = [opt_g]
        if self.adversary is not None:
            assert self.disc_optimizer_factory is not None
            optimizers.append(self.disc_optimizer_factory(self.adversary.parameters()))
        if self.scheduler_factory is None:
            return optimizers
        return optimizers, [{"scheduler": self.scheduler_factory(opt_g), "interval": "step"}]

    # ---- validation -----------------------------------------------------------------------

    def on_validation_epoch_start(self) -> None:
        self._eval_stack = contextlib.ExitStack()
        self._eval_stack.enter_context(self.eval_context())

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        wav = self._wav(batch)
        qres = self.model(wav)
        y_pred = qres.x
        losses = self._reconstruction_losses(y_pred, wav)
        total = torch.stack([self.balancer.weights.get(k, 0.0) * v for k, v in losses.items()])
        logs = {f"valid/{k}": v for k, v in losses.items()}
        logs["valid/loss"] = total.sum()
        logs["valid/sisnr"] = si_snr(y_pred, wav).mean()
        self.log_dict(logs, sync_dist=True, batch_size=wav.shape[0])
        if batch_idx == 0:
            self._sample_batch = wav[: self.num_samples].detach()

    def on_validation_epoch_end(self) -> None:
        try:
            if not self.trainer.sanity_checking:
                value = self.trainer.callback_metrics.get("valid/loss")
                if value is not None:
                    self.track_best(float(value))
                if self.samples_every and (self.current_epoch + 1) % self.samples_every == 0:
                    self.log_samples()
                if self.stages is not None:
                    with torch.no_grad():
                        results = self.stages.run_due(self, self.current_epoch + 1)
                    if results is not None:
                        self.stage_results = results
        finally:
            if self._eval_stack is not None:
                self._eval_stack.close()
                self._eval_stack = None

    @torch.no_grad()
    def log_samples(self) -> None:
        if self._sample_batch is None or not self.trainer.is_global_zero:
            return
        recon = self.model(self._sample_batch).x
        sr = self.model.sample_rate
        folder = self.sample_dir / f"epoch_{self.current_epoch + 1}" if self.sample_dir else None
        for i in range(recon.shape[0]):
            log_audio(self.trainer, f"samples/reference_{i}", self._sample_batch[i], sr, folder)
            log_audio(self.trainer, f"samples/reconstruction_{i}", recon[i], sr, folder)

    # ---- exact resume: the balancer's running norms and the step counter ----------------

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_save_checkpoint(checkpoint)
        checkpoint["audiocraft"]["balancer"] = self.balancer.state_dict()
        checkpoint["audiocraft"]["compression_steps"] = self._steps

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_load_checkpoint(checkpoint)
        extra = checkpoint.get("audiocraft", {})
        if "balancer" in extra:
            self.balancer.load_state_dict(extra["balancer"])
            self._steps = int(extra["compression_steps"])
