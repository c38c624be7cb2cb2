"""Style conditioner (MusicGen-Style): an audio excerpt through a frozen music encoder and
a quantised bottleneck.

Semantics of the reference `style` conditioner ("Audio conditioning for music generation
via discrete bottleneck features"): an excerpt of `length` seconds is cut from the style
audio (at random in training, of a random length in `varying_lengths`), encoded by a
frozen pretrained self-supervised music model (MERT, `m-a-p/MERT-v1-95M`, 75 frames/s at
24 kHz), projected to `dim`, passed through a small transformer, batch-normalised, then
through a residual vector quantiser (`n_q_out` codebooks of `bins`; `eval_q` of them at
sampling, fewer meaning a looser imitation of the style) and downsampled by `ds_factor`
(75 / 15 = 5 steps per second). `output_proj` maps the result to the LM's dimension.
The LM is sampled with double guidance (`cfg_coef_beta`, see `LMModel.generate`).

The encoder is read through transformers from local files only, with `AutoModel`: a folder
(or a hub id in the local Hugging Face cache) holding `config.json` and weights of a
HuBERT/Wav2Vec2-style audio encoder (its `conv_stride` gives the frame rate). The official
MERT folder ships its own model code (`auto_map` in its config.json): transformers runs
it only with `trust_remote_code: true`, which is off by default; read that code first.
The encoder is frozen and kept outside the module tree (not in checkpoints), as in the
reference. It loads on first use: for a loaded checkpoint (whose xp.cfg names the hub id),
set `encoder_path` and `trust_remote_code` on the conditioner before generating.

With `compute_mask` (training), the excerpt's position is kept in `loss_excerpt` so that
the solver leaves those frames out of the loss: the LM would otherwise learn to copy the
excerpt.
"""

from __future__ import annotations

import json
import math
import random
import typing as tp
from pathlib import Path

import torch
from torch import nn

from ...data.audio_utils import convert_audio
from ...quantization import ResidualVectorQuantizer
from ..transformer import StreamingTransformer
from .attributes import ConditionType, WavCondition
from .base import CONDITIONERS, ConditionerContext, WaveformConditioner

STYLE_ENCODER_SOURCE = "m-a-p/MERT-v1-95M"
MERT_SAMPLE_RATE = 24000
MERT_DIM = 768
# transformer_scale -> (d_model, num_heads, num_layers) of the reference; "none": no
# transformer (d_model 512).
TRANSFORMER_SCALES: dict[str, tuple[int, int, int]] = {
    "xsmall": (256, 8, 4), "default": (512, 8, 8), "large": (1024, 16, 24), "none": (512, 0, 0),
}


def _read_json(path: Path) -> dict[str, tp.Any]:
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        return {}


def load_style_encoder(name_or_path: str, trust_remote_code: bool = False) -> nn.Module:
    """The frozen music encoder (eval mode) of `name_or_path`: a local folder or a hub id
    in the local Hugging Face cache, through `transformers.AutoModel` (no network).

    Raises FileNotFoundError naming the folder, the official source and what it needs."""
    from transformers import AutoModel  # heavy: imported when an encoder is first needed

    config = _read_json(Path(name_or_path).expanduser() / "config.json")
    if config.get("auto_map") and not trust_remote_code:
        raise ValueError(
            f"The style encoder {name_or_path!r} needs its own model code (config.json has "
            "auto_map, as the official MERT folder does): set trust_remote_code: true in the "
            "style conditioner's config once you have read that code, or use an encoder "
            "transformers knows (HuBERT, Wav2Vec2).")
    try:
        model = AutoModel.from_pretrained(str(name_or_path), local_files_only=True,
                                          trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as err:
        raise FileNotFoundError(
            f"Could not load the style conditioner's music encoder from {name_or_path!r} (a "
            "local folder, or a hub id in the Hugging Face cache; no network is used). The "
            f"official one is {STYLE_ENCODER_SOURCE}: download all its files (config.json, "
            "the weights, preprocessor_config.json and its .py model files) on a machine "
            "with network, copy them into a folder and set `encoder_path` to it (MERT "
            f"also needs trust_remote_code: true).\n{err}") from err
    return tp.cast(nn.Module, model).eval()


@CONDITIONERS.register("style")
class StyleConditioner(WaveformConditioner):
    """Style audio -> excerpt -> frozen encoder -> [transformer] -> RVQ -> ::ds_factor ->
    output_proj: (embedding [B, Tc, D], mask [B, Tc]), Tc = excerpt frames / ds_factor.

    Args:
        output_dim: model dimension D. sample_rate: rate of the wavs it receives.
        model_name: the encoder family, `mert` (the reference's other choice, `encodec`,
            is not supported).
        encoder_path: folder or cached hub id of the encoder (default the official MERT).
        encoder_sample_rate: the encoder's input rate (MERT: 24 kHz).
        encoder_dim: the encoder's hidden size (None: its config.json, else MERT's 768).
        trust_remote_code: let transformers run model code shipped with the encoder folder.
        transformer_scale: `none`, `xsmall`, `default` or `large` (sets `dim`).
        length: excerpt seconds at sampling (and in training without varying_lengths).
        varying_lengths: [min, max] seconds of the excerpt drawn in training (or empty).
        ds_factor: keep one encoder frame in ds_factor after quantisation.
        n_q_out, eval_q, q_dropout, bins, rvq_threshold_ema_dead_code: the quantiser:
            codebooks in training, codebooks at sampling, random codebook counts in
            training, codebook size, dead-code threshold.
        batch_norm: batch normalisation (no affine) before the quantiser.
        compute_mask: in training, record the excerpt (`loss_excerpt`) so the solver
            leaves its frames out of the loss.
        use_middle_of_segment: in training, take the middle of the audio, not a random
            excerpt. At sampling the middle is always taken (so a seed reproduces a piece;
            the reference draws it at random).
        encodec_checkpoint, encodec_n_q, ds_rate_compression, num_codebooks_lm: accepted
            for reference configs (the solver maps the excerpt to frames itself).
        device: where the encoder runs. encoder: an encoder module to use instead of
            loading one (tests).
    """

    @classmethod
    def from_config(cls, output_dim: int, args: dict[str, tp.Any],
                    context: ConditionerContext) -> StyleConditioner:
        """The encoder runs on the model's device (`args` may set `device` itself)."""
        return cls(output_dim=output_dim, **{"device": context.device, **args})

    def __init__(self, output_dim: int, sample_rate: int, model_name: str = "mert",
                 encoder_path: str = STYLE_ENCODER_SOURCE,
                 encoder_sample_rate: int = MERT_SAMPLE_RATE, encoder_dim: int | None = None,
                 trust_remote_code: bool = False, transformer_scale: str = "default",
                 length: float = 3.0, varying_lengths: tp.Sequence[float] = (1.5, 4.5),
                 ds_factor: int = 15, n_q_out: int = 6, eval_q: int = 3, q_dropout: bool = True,
                 bins: int = 1024, batch_norm: bool = True,
                 rvq_threshold_ema_dead_code: float = 0.1, compute_mask: bool = True,
                 use_middle_of_segment: bool = False, encodec_checkpoint: str | None = None,
                 encodec_n_q: int = 3, ds_rate_compression: int = 640, num_codebooks_lm: int = 4,
                 device: str | torch.device = "cpu", encoder: nn.Module | None = None):
        if model_name != "mert":
            raise ValueError(f"Style model_name {model_name!r} is not supported: use 'mert' "
                             "(any HuBERT/Wav2Vec2-style encoder transformers can load).")
        if transformer_scale not in TRANSFORMER_SCALES:
            raise ValueError(f"transformer_scale must be one of {sorted(TRANSFORMER_SCALES)}, "
                             f"got {transformer_scale!r}.")
        if length <= 0 or ds_factor < 1:
            raise ValueError(f"Need length > 0 and ds_factor >= 1, got {length}, {ds_factor}.")
        if varying_lengths and (len(varying_lengths) != 2 or not
                                0 < varying_lengths[0] <= varying_lengths[1]):
            raise ValueError(f"varying_lengths must be [min, max] seconds, got {varying_lengths}.")
        if not 1 <= eval_q <= n_q_out:
            raise ValueError(f"eval_q must be in [1, n_q_out={n_q_out}], got {eval_q}.")
        d_model, heads, layers = TRANSFORMER_SCALES[transformer_scale]
        super().__init__(d_model, output_dim, sample_rate, use_masking=False)
        self.encoder_path = str(encoder_path)
        self.encoder_sample_rate = int(encoder_sample_rate)
        self.trust_remote_code = trust_remote_code
        self.device = torch.device(device)
        self.__dict__["_encoder"] = None
        config = self._read_encoder_files()
        if encoder is not None:
            own: tp.Any = getattr(encoder, "config", None)
            config = own.to_dict() if own is not None else config
            self.encoder_hop = math.prod(config.get("conv_stride") or [5, 2, 2, 2, 2, 2, 2])
        self.encoder_dim = int(encoder_dim or config.get("hidden_size") or MERT_DIM)
        if encoder is not None:
            self._set_encoder(encoder)
        self.embed = nn.Linear(self.encoder_dim, d_model)
        self.transformer = None if layers == 0 else StreamingTransformer(
            d_model, heads, layers, dim_feedforward=4 * d_model, activation="gelu",
            norm_first=True, causal=False, bias_ff=False, bias_attn=False,
            positional_embedding="sin")
        self.batch_norm = nn.BatchNorm1d(d_model, affine=False) if batch_norm else None
        self.rvq = ResidualVectorQuantizer(d_model, n_q=n_q_out, q_dropout=q_dropout, bins=bins,
                                           threshold_ema_dead_code=rvq_threshold_ema_dead_code)
        self.n_q_out, self.eval_q = n_q_out, eval_q
        self.ds_factor = ds_factor
        self.length = float(length)
        self.varying_lengths = list(varying_lengths or [])
        self.compute_mask = compute_mask
        self.use_middle_of_segment = use_middle_of_segment
        self.encodec_n_q = encodec_n_q
        # (start, length) in seconds of the last training excerpt per item ([B] each, 0 for
        # null items), for the solver's loss mask; None outside training.
        self.loss_excerpt: tuple[torch.Tensor, torch.Tensor] | None = None

    # ---- the frozen encoder ----

    def _read_encoder_files(self) -> dict[str, tp.Any]:
        """The encoder folder's config.json (empty if absent); sets the frame hop (its
        `conv_stride`, MERT's by default) and the input normalisation of its
        preprocessor_config.json."""
        folder = Path(self.encoder_path).expanduser()
        config = _read_json(folder / "config.json")
        self.encoder_hop = math.prod(config.get("conv_stride") or [5, 2, 2, 2, 2, 2, 2])
        self._do_normalize = bool(_read_json(folder / "preprocessor_config.json")
                                  .get("do_normalize"))
        return config

    def _set_encoder(self, encoder: nn.Module) -> None:
        for p in encoder.parameters():
            p.requires_grad_(False)
        self.__dict__["_encoder"] = encoder.eval().to(self.device)

    @property
    def encoder(self) -> nn.Module:
        """The frozen music encoder, loaded from `encoder_path` on first use."""
        if self.__dict__["_encoder"] is None:
            # encoder_path and trust_remote_code may be set after loading a checkpoint,
            # whose xp.cfg names the encoder by hub id.
            self._read_encoder_files()
            self._set_encoder(load_style_encoder(self.encoder_path, self.trust_remote_code))
        encoder: nn.Module = self.__dict__["_encoder"]
        hidden = getattr(getattr(encoder, "config", None), "hidden_size", self.encoder_dim)
        if int(hidden) != self.encoder_dim:
            raise ValueError(f"The style encoder in {self.encoder_path!r} has hidden size "
                             f"{hidden}, this conditioner was built for {self.encoder_dim}.")
        return encoder

    @property
    def frame_rate(self) -> float:
        """Encoder frames per second (MERT: 75)."""
        return self.encoder_sample_rate / self.encoder_hop

    def set_params(self, eval_q: int = 3, excerpt_length: float = 3.0,
                   ds_factor: int | None = None, encodec_n_q: int | None = None) -> None:
        """Sampling settings (the reference's names): codebooks used at sampling (fewer:
        looser style), excerpt seconds, downsampling factor."""
        if not 1 <= eval_q <= self.n_q_out:
            raise ValueError(f"eval_q must be in [1, {self.n_q_out}], got {eval_q}.")
        if excerpt_length <= 0:
            raise ValueError(f"excerpt_length must be > 0 seconds, got {excerpt_length}.")
        self.eval_q, self.length = eval_q, float(excerpt_length)
        if ds_factor is not None:
            self.ds_factor = int(ds_factor)
        if encodec_n_q is not None:
            self.encodec_n_q = encodec_n_q

    # ---- excerpt, features ----

    def check_style_seconds(self, seconds: float, needed: float | None = None) -> None:
        """Raise a ValueError when style audio of `seconds` is shorter than the excerpt
        (`needed`, default the sampling excerpt `length`)."""
        needed = self.length if needed is None else needed
        if seconds + 1e-9 < needed:
            raise ValueError(
                f"The style excerpt is {seconds:.2f} s long but the style conditioner takes "
                f"{needed:.2f} s excerpts: give at least {needed:.2f} s of style audio, or "
                "shorten the excerpt (MusicGen.set_style_conditioner_params(excerpt_length=...) "
                "at sampling, `length`/`varying_lengths` in training).")

    def _excerpt_seconds(self) -> float:
        if self.training and self.varying_lengths:
            return random.uniform(self.varying_lengths[0], self.varying_lengths[1])
        return self.length

    def _excerpts(self, x: WavCondition) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Excerpts [B, 1, L] (zeros for null items), their starts [B] and which items are
        real [B] (bool). Raises ValueError for a real item shorter than the excerpt."""
        rate = int(x.sample_rate[0])
        seconds = self._excerpt_seconds()
        size = int(round(seconds * rate))
        lengths = x.length.reshape(-1).long()  # [B]
        real = lengths > 0  # [B]
        short = [i for i in range(len(lengths)) if real[i] and lengths[i] < size]
        if short:
            self.check_style_seconds(float(lengths[short[0]]) / rate, seconds)
        wav = x.wav.mean(1, keepdim=True)  # [B, 1, T]
        out = wav.new_zeros(wav.shape[0], 1, size)  # [B, 1, L]
        starts = torch.zeros_like(lengths)  # [B]
        for i in torch.nonzero(real).flatten().tolist():
            room = int(lengths[i]) - size
            middle = not self.training or self.use_middle_of_segment
            starts[i] = room // 2 if middle else random.randint(0, room)
            out[i] = wav[i, :, int(starts[i]): int(starts[i]) + size]
        return out, starts, real

    def _encode(self, excerpt: torch.Tensor, rate: int) -> torch.Tensor:
        """Excerpts [B, 1, L] at `rate` -> encoder states [B, T_e, encoder_dim]."""
        wav = convert_audio(excerpt, rate, self.encoder_sample_rate, 1)[:, 0]  # [B, L']
        if self._do_normalize:  # as the encoder's own feature extractor does
            wav = (wav - wav.mean(-1, keepdim=True)) / torch.sqrt(
                wav.var(-1, keepdim=True) + 1e-7)
        encoder = self.encoder
        with torch.no_grad():
            out = encoder(wav.to(self.device))
        states = out.last_hidden_state if hasattr(out, "last_hidden_state") else out[0]
        return tp.cast(torch.Tensor, states)

    def _get_wav_embedding(self, x: WavCondition) -> torch.Tensor:
        """Quantised style features [B, Tc, dim] (zeros [B, 1, dim] for an all-null batch)."""
        excerpt, starts, real = self._excerpts(x)
        self.loss_excerpt = None
        if not bool(real.any()):
            return excerpt.new_zeros(excerpt.shape[0], 1, self.dim)
        if self.training and self.compute_mask:
            rate = float(x.sample_rate[0])
            self.loss_excerpt = (starts.float() / rate * real,  # [B] seconds
                                 torch.full_like(starts, excerpt.shape[-1]).float() / rate * real)
        # Only real styles go through: null ones would shift the batch-norm statistics
        # and the quantiser's codebooks with the features of silence.
        index = torch.nonzero(real).flatten().to(excerpt.device)  # [R]
        states = self._encode(excerpt[index], int(x.sample_rate[0]))  # [R, T_e, H]
        z = self.embed(states.to(self.embed.weight))  # [R, T_e, dim]
        if self.transformer is not None:
            z = self.transformer(z)
        if self.batch_norm is not None:
            z = self.batch_norm(z.transpose(1, 2)).transpose(1, 2)
        self.rvq.set_num_codebooks(self.n_q_out if self.training else self.eval_q)
        z = self.rvq(z.transpose(1, 2), frame_rate=1.0).x.transpose(1, 2)  # [R, T_e, dim]
        z = z[:, :: self.ds_factor]  # [R, Tc, dim]
        out = z.new_zeros(excerpt.shape[0], *z.shape[1:])  # [B, Tc, dim]
        return out.index_copy(0, index, z)

    def _downsampling_factor(self) -> int:
        return max(1, int(round(self.sample_rate / self.frame_rate * self.ds_factor)))

    def forward(self, x: WavCondition) -> ConditionType:
        """(embedding [B, Tc, D], mask [B, Tc]): every step of a real excerpt is valid; a
        null style (length 0) gives zeros and mask 0."""
        feats = self._get_wav_embedding(x)  # [B, Tc, dim]
        embeds = self.output_proj(feats.to(self.output_proj.weight))  # [B, Tc, D]
        real = (x.length.reshape(-1) > 0).to(embeds.device)  # [B]
        mask = real[:, None].expand(-1, embeds.shape[1]).long()  # [B, Tc]
        return embeds * mask.unsqueeze(-1), mask
