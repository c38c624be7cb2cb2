"""CLAP conditioner: text and audio in one embedding space (the reference's `clap`,
used by `clapemb2music`).

A joint-embedding conditioner reads `attributes.joint_embed[NAME]` (audio plus its
description). In training it embeds the audio (or, with probability `text_p`, the text);
at sampling, the text: the LM learns from audio what it is later asked for in words. The
embedding (`dim`, the CLAP projection size) is optionally L2-normalised and quantised by
a residual vector quantiser (`n_q` codebooks of `bins`), then `output_proj` gives one
step `[B, 1, D]`. Null conditions (no text at sampling, a silent length-0 wav in
training) give zeros with mask 0.

The CLAP model is transformers' `ClapModel` with its `ClapProcessor` (RoBERTa tokenizer,
CLAP feature extractor), read from local files only: `checkpoint` is a folder (or a hub id
in the local Hugging Face cache), by default the official `laion/larger_clap_music`. The
reference reads LAION's `laion_clap` file `music_audioset_epoch_15_esc_90.14.pt` instead,
another format and training run: its embeddings differ, so a model trained with one does
not work with the other. The CLAP model is frozen, loaded on first use and kept out of
checkpoints (only the quantiser and `output_proj` are stored).

Audio longer than `max_audio_length` seconds is cut into windows of that length every
`audio_stride` seconds whose embeddings are averaged (the reference's scheme).
"""

from __future__ import annotations

import logging
import random
import typing as tp

import torch
from torch.nn import functional as F

from ...data.audio_utils import convert_audio
from ...quantization import ResidualVectorQuantizer
from .attributes import ConditionType, JointEmbedCondition
from .base import CONDITIONERS, BaseConditioner, ConditionerContext

logger = logging.getLogger(__name__)

CLAP_SOURCE = "laion/larger_clap_music"


def _features(output: tp.Any) -> torch.Tensor:
    """transformers 5 returns an output whose `pooler_output` holds the projected
    embeddings; older versions the tensor itself."""
    return output if isinstance(output, torch.Tensor) else output.pooler_output


def load_clap(checkpoint: str) -> tuple[tp.Any, tp.Any]:
    """(ClapModel in eval mode, ClapProcessor) from a local folder or a cached hub id.

    Raises FileNotFoundError naming the folder and the official source when the files
    are missing (no network is used)."""
    from transformers import ClapModel, ClapProcessor  # heavy: imported on first use

    if str(checkpoint).endswith((".pt", ".pth", ".ckpt")):
        raise ValueError(
            f"The CLAP checkpoint {checkpoint!r} looks like a laion_clap file (the "
            "reference's format), which is not supported: use a transformers CLAP folder "
            f"such as {CLAP_SOURCE} (set `checkpoint` to it).")
    try:
        processor = ClapProcessor.from_pretrained(str(checkpoint), local_files_only=True)
        model = ClapModel.from_pretrained(str(checkpoint), local_files_only=True)
    except (OSError, ValueError) as err:
        raise FileNotFoundError(
            f"Could not load the CLAP model of the clap conditioner from {checkpoint!r} (a "
            "local folder, or a hub id in the Hugging Face cache; no network is used). Get "
            f"all the files of {CLAP_SOURCE} (config.json, model.safetensors, "
            "preprocessor_config.json, vocab.json, merges.txt, tokenizer_config.json...) on a "
            "machine with network, copy them into a folder and set the conditioner's "
            f"`checkpoint` to it.\n{err}") from err
    return model.eval(), processor


@CONDITIONERS.register("clap")
class CLAPEmbeddingConditioner(BaseConditioner):
    """Audio (training) or text (sampling) -> CLAP embedding [B, dim] -> (normalise) ->
    (RVQ) -> output_proj: (embedding [B, 1, D], mask [B, 1]).

    Args:
        output_dim: model dimension D. dim: the CLAP projection size (512 for
            larger_clap_music; checked against the model when it loads).
        checkpoint: folder or cached hub id of a transformers CLAP model.
        sample_rate: CLAP's input rate (48 kHz). max_audio_length: window seconds.
        audio_stride: seconds between windows of longer audio.
        attribute: the attribute name it reads (informational; the config key decides).
        normalize: L2-normalise the embeddings.
        quantize, n_q, bins, kmeans_iters, decay, threshold_ema_dead_code: the residual
            quantiser of the embeddings (reference: 12 codebooks of 1024).
        text_p: in training, probability of using the text instead of the audio.
        batch_size: windows per CLAP call (None: all at once).
        model_arch, enable_fusion, autocast_dtype: accepted for reference configs (the
            folder's config.json says the architecture; CLAP runs in float32).
        cache_path: not supported (embeddings are computed on the fly; a warning if set).
        device: where CLAP runs. model, processor: a CLAP model and processor to use
            instead of loading `checkpoint` (tests).
    """

    @classmethod
    def from_config(cls, output_dim: int, args: dict[str, tp.Any],
                    context: ConditionerContext) -> CLAPEmbeddingConditioner:
        """CLAP runs on the model's device (`args` may set `device` itself)."""
        return cls(output_dim=output_dim, **{"device": context.device, **args})

    def __init__(self, output_dim: int, dim: int = 512, checkpoint: str = CLAP_SOURCE,
                 sample_rate: int = 48000, max_audio_length: float = 10.0,
                 audio_stride: float = 1.0, attribute: str = "description",
                 normalize: bool = True, quantize: bool = True, n_q: int = 12, bins: int = 1024,
                 kmeans_iters: int = 50, decay: float = 0.99,
                 threshold_ema_dead_code: float = 2.0, text_p: float = 0.0,
                 batch_size: int | None = None, model_arch: str | None = None,
                 enable_fusion: bool = False, autocast_dtype: str | None = None,
                 cache_path: str | None = None, device: str | torch.device = "cpu",
                 model: tp.Any = None, processor: tp.Any = None):
        super().__init__(dim, output_dim)
        if not 0.0 <= text_p <= 1.0:
            raise ValueError(f"text_p must be in [0, 1], got {text_p}.")
        if max_audio_length <= 0 or audio_stride <= 0:
            raise ValueError("max_audio_length and audio_stride must be > 0 seconds, got "
                             f"{max_audio_length} and {audio_stride}.")
        if cache_path is not None:
            logger.warning("CLAP embedding caching is not supported: computing on the fly.")
        self.checkpoint = str(checkpoint)
        self.attribute = attribute
        self.clap_sample_rate = int(sample_rate)
        self.clap_max_frames = int(max_audio_length * sample_rate)
        self.clap_stride = int(audio_stride * sample_rate)
        self.normalize = normalize
        self.text_p = float(text_p)
        self.batch_size = batch_size
        self.device = torch.device(device)
        self.quantizer = ResidualVectorQuantizer(
            dim, n_q=n_q, bins=bins, kmeans_iters=kmeans_iters, decay=decay,
            threshold_ema_dead_code=threshold_ema_dead_code) if quantize else None
        # Frozen and outside the module tree: never in state_dict, never trained.
        self.__dict__["_clap"] = None
        if model is not None:
            self._set_clap(model, processor)

    # ---- the frozen CLAP model ----

    def _set_clap(self, model: tp.Any, processor: tp.Any) -> None:
        projection = int(model.config.projection_dim)
        if projection != self.dim:
            raise ValueError(f"The CLAP model in {self.checkpoint!r} embeds in {projection} "
                             f"dimensions; this conditioner was built with dim={self.dim}.")
        for p in model.parameters():
            p.requires_grad_(False)
        self.__dict__["_clap"] = (model.eval().to(self.device), processor)

    @property
    def clap(self) -> tuple[tp.Any, tp.Any]:
        """(ClapModel, ClapProcessor), loaded from `checkpoint` on first use."""
        if self.__dict__["_clap"] is None:
            self._set_clap(*load_clap(self.checkpoint))
        return tp.cast(tuple[tp.Any, tp.Any], self.__dict__["_clap"])

    # ---- embeddings ----

    @torch.no_grad()
    def text_embedding(self, texts: list[str | None]) -> torch.Tensor:
        """[B, dim] CLAP embeddings of B texts (None embeds as the empty text)."""
        model, processor = self.clap
        tokens = processor.tokenizer([t or "" for t in texts], padding=True, truncation=True,
                                     return_tensors="pt")
        tokens = {k: v.to(self.device) for k, v in tokens.items()}
        return _features(model.get_text_features(**tokens)).float()

    def _windows(self, wav: torch.Tensor) -> torch.Tensor:
        """Mono audio [T] at CLAP's rate -> windows [F, T_w] (one if shorter than a window)."""
        if wav.shape[-1] < self.clap_max_frames:
            return wav[None]
        return wav.unfold(-1, self.clap_max_frames, self.clap_stride)  # [F, max_frames]

    @torch.no_grad()
    def audio_embedding(self, x: JointEmbedCondition) -> torch.Tensor:
        """[B, dim] CLAP embeddings of the batch's audio (each item's valid part), the mean
        over its windows."""
        model, processor = self.clap
        windows: list[torch.Tensor] = []
        counts: list[int] = []
        for i in range(x.wav.shape[0]):
            n = max(1, int(x.length[i]))
            mono = convert_audio(x.wav[i, :, :n].float(), int(x.sample_rate[i]),
                                 self.clap_sample_rate, 1)[0]  # [T']
            item = self._windows(mono)
            windows.extend(item)
            counts.append(item.shape[0])
        step = self.batch_size or len(windows)
        embeds = []
        for start in range(0, len(windows), step):
            chunk = [w.cpu().numpy() for w in windows[start: start + step]]
            inputs = processor.feature_extractor(chunk, sampling_rate=self.clap_sample_rate,
                                                 return_tensors="pt")
            inputs = {k: v.to(self.device) for k, v in inputs.items()}
            embeds.append(_features(model.get_audio_features(**inputs)).float())
        per_window = torch.cat(embeds)  # [sum F, dim]
        return torch.stack([e.mean(0) for e in per_window.split(counts)])  # [B, dim]

    def _get_embed(self, x: JointEmbedCondition) -> tuple[torch.Tensor, torch.Tensor]:
        """(embedding [B, dim], valid [B] bool): audio in training (unless the text is drawn
        with probability text_p), text otherwise."""
        use_text = not self.training or random.random() < self.text_p
        if use_text:
            valid = torch.tensor([bool(t) for t in x.text], dtype=torch.bool)
            embed = self.text_embedding(list(x.text))
        else:
            valid = x.length.reshape(-1).cpu() > 0
            embed = self.audio_embedding(x)
        if self.normalize:
            embed = F.normalize(embed, p=2.0, dim=-1)
        return embed, valid

    def tokenize(self, x: JointEmbedCondition) -> JointEmbedCondition:
        return x

    def forward(self, x: JointEmbedCondition) -> ConditionType:
        embed, valid = self._get_embed(x)  # [B, dim], [B]
        embed = embed.to(self.output_proj.weight)
        if self.quantizer is not None:
            embed = self.quantizer(embed[:, :, None], frame_rate=1.0).x[:, :, 0]  # [B, dim]
        out = self.output_proj(embed)[:, None]  # [B, 1, D]
        mask = valid.to(out.device).long()[:, None]  # [B, 1]
        return out * mask.unsqueeze(-1), mask
