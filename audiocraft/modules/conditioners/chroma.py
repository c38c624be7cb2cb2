"""Melody conditioner: chroma of the melody's pitched stems (MusicGen-Melody).

Semantics of the reference `ChromaStemConditioner`: the melody wav is separated with
Demucs (htdemucs) and its "vocals" and "other" stems are summed, removing drums and bass
whose energy would hide the melody; the chroma (argmax, one-hot per frame) of that mix
goes through `output_proj`. Demucs is used only when the `demucs` package and its weights
are available locally (torch hub cache); otherwise the plain mix is used, with a warning.

`match_len_on_eval=True` (the released models) repeats or truncates the chroma to the
length of `duration` seconds and does not mask it, so the null melody (a silent wav)
becomes a constant non-zero condition: one-hot on the first pitch class, projected. With
`match_len_on_eval=False` steps past a melody's length are masked and zeroed, so the null
melody gives an all-zero condition.

`frame_rate` (not in the reference) resamples the chroma to the LM's frame rate (nearest
chroma frame in time), so that chroma step t describes token frame t: with the fuser's
`aligned` method each step of the sequence then gets the pitch classes of the frame it
predicts, instead of learning to find them among prepended steps.
"""

from __future__ import annotations

import logging
import math
import typing as tp

import torch
from torch import nn

from ..chroma import ChromaExtractor
from .attributes import WavCondition
from .base import CONDITIONERS, ConditionerContext, WaveformConditioner

logger = logging.getLogger(__name__)

MELODY_STEMS = ("vocals", "other")


def _resample(wav: torch.Tensor, from_rate: int, to_rate: int) -> torch.Tensor:
    if from_rate == to_rate:
        return wav
    import julius

    return julius.resample_frac(wav, from_rate, to_rate)


def load_local_demucs(name: str = "htdemucs") -> nn.Module | None:
    """The Demucs separator if the package and its weights are available without network."""
    try:
        from demucs import pretrained  # type: ignore[import-not-found]
    except ImportError:
        return None
    try:
        return tp.cast(nn.Module, pretrained.get_model(name)).eval()
    except Exception as err:  # noqa: BLE001 - any failure (no weights, no network) falls back
        logger.debug("Demucs %s unavailable: %s", name, err)
        return None


@CONDITIONERS.register("chroma_stem")
class ChromaStemConditioner(WaveformConditioner):
    """Melody wav -> (Demucs melodic stems) -> chroma [B, frames, n_chroma] -> output_proj.

    Args:
        output_dim: model dimension D.
        sample_rate: rate of the melody wavs it receives (the model's rate).
        n_chroma, radix2_exp, argmax: chroma settings (MusicGen-Melody: 12, 14, True).
        duration: segment length in seconds, which sets the matched chroma length.
        match_len_on_eval: repeat/truncate the chroma to `duration` and do not mask.
        eval_wavs, n_eval_wavs: not supported (must be None/any).
        cache_path: not supported; chroma is computed on the fly (a warning if set).
        device: where it runs.
        use_demucs: try to separate stems with Demucs (False: always the plain mix).
        demucs_model: a separator to use instead of loading one: a module with `sources`,
            `samplerate` and `audio_channels` attributes whose output is stems
            [B, S, C, T] (run through demucs' `apply_model` when demucs is installed).
        frame_rate: output steps per second (the LM's frame rate), or None for the
            chroma's own hop (MusicGen-Melody).
    """

    @classmethod
    def from_config(cls, output_dim: int, args: dict[str, tp.Any],
                    context: ConditionerContext) -> ChromaStemConditioner:
        """The chroma spans the training segment (`context.duration`) and runs on the
        model's device (`args` may set either itself)."""
        return cls(output_dim=output_dim,
                   **{"duration": context.duration, "device": context.device, **args})

    def __init__(self, output_dim: int, sample_rate: int, n_chroma: int = 12,
                 radix2_exp: int = 14, duration: float = 30.0, match_len_on_eval: bool = True,
                 eval_wavs: str | None = None, n_eval_wavs: int = 0,
                 cache_path: str | None = None, device: str | torch.device = "cpu",
                 use_demucs: bool = True, demucs_model: nn.Module | None = None,
                 argmax: bool = True, frame_rate: float | None = None,
                 **chroma_kwargs: tp.Any):
        super().__init__(n_chroma, output_dim, sample_rate, use_masking=not match_len_on_eval)
        if eval_wavs is not None:
            raise ValueError("eval_wavs is not supported: pass the melody with each sample.")
        if cache_path is not None:
            logger.warning("Chroma caching is not supported: computing chroma on the fly.")
        self.duration = duration
        self.match_len_on_eval = match_len_on_eval
        self.chroma = ChromaExtractor(sample_rate=sample_rate, n_chroma=n_chroma,
                                      radix2_exp=radix2_exp, argmax=argmax, **chroma_kwargs)
        if frame_rate is not None and frame_rate <= 0:
            raise ValueError(f"frame_rate must be positive (the LM's frames per second), "
                             f"got {frame_rate}.")
        self.frame_rate = frame_rate
        self.chroma_len = self._num_steps(int(duration * sample_rate))
        self.use_demucs = use_demucs
        # Kept outside the module tree: the separator is never part of our checkpoints.
        self.__dict__["_demucs"] = demucs_model
        self._demucs_tried = demucs_model is not None
        self.device = torch.device(device)

    @property
    def demucs(self) -> nn.Module | None:
        """The stem separator, loaded on first use (None: not available locally)."""
        if not self._demucs_tried and self.use_demucs:
            self._demucs_tried = True
            self.__dict__["_demucs"] = load_local_demucs()
            if self.__dict__["_demucs"] is None:
                logger.warning(
                    "Demucs or its htdemucs weights are not available locally: the melody "
                    "chroma is computed from the full mix (drums and bass included). Install "
                    "`demucs` and place its weights in the torch hub cache for stem separation."
                )
        return self.__dict__["_demucs"] if self.use_demucs else None

    def _downsampling_factor(self) -> float:
        if self.frame_rate is None:
            return self.chroma.winhop
        return self.sample_rate / self.frame_rate

    def _num_steps(self, num_samples: int) -> int:
        if self.frame_rate is None:
            return self.chroma.num_frames(num_samples)
        return math.ceil(num_samples * self.frame_rate / self.sample_rate)

    def _to_frame_rate(self, chroma: torch.Tensor, num_samples: int) -> torch.Tensor:
        """Chroma [B, F, n] at its hop -> [B, steps, n] at `frame_rate`: step t takes the
        chroma frame nearest to its time t / frame_rate."""
        if self.frame_rate is None:
            return chroma
        steps = max(self._num_steps(num_samples), 1)
        times = torch.arange(steps, device=chroma.device) / self.frame_rate  # [steps] s
        index = torch.round(times * self.sample_rate / self.chroma.winhop).long()
        return chroma[:, index.clamp(max=chroma.shape[1] - 1)]

    def _melodic_mix(self, wav: torch.Tensor, sample_rate: int) -> torch.Tensor:
        """[B, 1, T] at sample_rate -> the summed melodic stems [B, 1, T'] at self.sample_rate."""
        separator: tp.Any = self.demucs
        if separator is None:
            return _resample(wav, sample_rate, self.sample_rate)
        sources = list(separator.sources)
        stem_idx = [sources.index(s) for s in MELODY_STEMS]
        sep_rate = int(separator.samplerate)
        x = _resample(wav, sample_rate, sep_rate).expand(-1, int(separator.audio_channels), -1)
        try:
            from demucs.apply import apply_model  # type: ignore[import-not-found]
        except ImportError:  # a separator given directly: a plain forward
            stems = separator(x)  # [B, S, C, T]
        else:
            stems = apply_model(separator, x, device=self.device)  # [B, S, C, T]
        mix = stems[:, stem_idx].sum(1).mean(1, keepdim=True)  # [B, 1, T]
        return _resample(mix, sep_rate, self.sample_rate)

    def _get_wav_embedding(self, x: WavCondition) -> torch.Tensor:
        rates = set(x.sample_rate)
        if len(rates) != 1:
            raise ValueError(f"All melodies of a batch need one sample rate, got {sorted(rates)}.")
        wav = x.wav.mean(1, keepdim=True)  # [B, 1, T]
        if wav.shape[-1] > 1:  # a null (length-1) wav stays silent: no separation needed
            wav = self._melodic_mix(wav, rates.pop())
        chroma = self._to_frame_rate(self.chroma(wav), wav.shape[-1])  # [B, frames, n_chroma]
        if self.match_len_on_eval:
            frames = chroma.shape[1]
            if frames < self.chroma_len:
                chroma = chroma.repeat(1, math.ceil(self.chroma_len / frames), 1)
            chroma = chroma[:, : self.chroma_len]
        return chroma
