"""Hugging Face transformers MusicGen / MusicGen-Melody folders -> our classes.

Part of the checkpoint formats of `loaders.py` (which exposes the entry points); kept in
its own file because the key maps are long. A folder holds `config.json` (model_type
`musicgen` or `musicgen_melody`, with `text_encoder`, `audio_encoder` and `decoder`
sub-configs), the weights (`model.safetensors`, possibly sharded) and usually the T5
tokenizer files; `preprocessor_config.json` of a melody folder gives the chroma settings.

Correspondences (transformers -> ours):
- `decoder.model.decoder.embed_tokens.k` -> `emb.k`; `decoder.lm_heads.k` -> `linears.k`;
  `decoder.model.decoder.layer_norm` -> `out_norm`;
- per layer: `self_attn.{q,k,v}_proj` -> `self_attn.in_proj_weight` (stacked),
  `self_attn.out_proj`, `self_attn_layer_norm` -> `norm1`, `encoder_attn.*` ->
  `cross_attention.*`, `encoder_attn_layer_norm` -> `norm_cross`, `fc1`/`fc2` ->
  `linear1`/`linear2`, `final_layer_norm` -> `norm2`;
- `text_encoder.*` -> the T5 encoder of the `description` conditioner, `enc_to_dec_proj`
  -> its `output_proj` (identity when absent: same sizes); `audio_enc_to_dec_proj` ->
  `output_proj` of the `self_wav` chroma conditioner.

The model matches transformers' computation: pre-norm, GELU, no biases, sinusoidal
positions, the delay pattern; cross-attention masks padded text (transformers does,
audiocraft does not); the melody model prepends [chroma (repeated to chroma_length
frames, never masked), text] to the audio tokens, and its null melody is a one-hot first
pitch class, as in transformers.

Stereo folders (`decoder.audio_channels: 2`, facebook/musicgen-stereo-*) keep the mono
EnCodec: transformers codes left and right separately and interleaves the codebooks per
codebook ([L0, R0, L1, R1, ...], `num_codebooks` = 2 x the codec's), each pair delayed
alike ([0, 0, 1, 1, ...]). Ours is the same LM with that delay pattern, and
`loaders.load_compression_model` wraps the codec in `InterleaveStereoCompressionModel`.
"""

from __future__ import annotations

import json
import logging
import typing as tp
from pathlib import Path

import torch
from omegaconf import OmegaConf
from torch import nn

from ..modules.conditioners import BaseConditioner, ConditionFuser, ConditioningProvider
from ..modules.conditioners.chroma import ChromaStemConditioner
from ..modules.conditioners.text import T5Conditioner
from ..modules.patterns import DelayedPatternProvider
from ..utils.safe_config import inert_config
from .encodec import CompressionModel, EncodecModel, InterleaveStereoCompressionModel
from .lm import LMModel
from .model_size import check_lm_config

logger = logging.getLogger(__name__)

HF_MUSICGEN_TYPES = ("musicgen", "musicgen_melody")
# Chroma settings of transformers' MusicgenMelodyFeatureExtractor (its defaults).
DEFAULT_CHROMA_NFFT = 16384
DEFAULT_CHROMA_HOP = 4096


def is_hf_musicgen_config(config: dict[str, tp.Any]) -> bool:
    """True for the config.json of a transformers MusicGen or MusicGen-Melody folder."""
    return config.get("model_type") in HF_MUSICGEN_TYPES


def hf_audio_channels(config: dict[str, tp.Any]) -> int:
    """Channels of the audio a transformers MusicGen folder generates (decoder.audio_channels:
    1, or 2 for the stereo models, whose codec stays the mono EnCodec)."""
    channels = int(config.get("decoder", {}).get("audio_channels", 1))
    if channels not in (1, 2):
        raise ValueError(f"decoder.audio_channels must be 1 or 2, got {channels}.")
    return channels


def hf_codebook_delays(config: dict[str, tp.Any]) -> list[int]:
    """The delay of each of the decoder's codebooks (transformers' delay pattern mask).

    Mono: codebook k is delayed by k. Stereo: the codebooks are the mono codec's, left and
    right interleaved per codebook ([L0, R0, L1, R1, ...]), and both channels of the k-th
    codebook are delayed by k: [0, 0, 1, 1, 2, 2, ...].
    """
    n_q = int(config["decoder"]["num_codebooks"])
    if hf_audio_channels(config) == 1:
        return list(range(n_q))
    if n_q % 2:
        raise ValueError(f"A stereo MusicGen needs an even number of codebooks (left/right "
                         f"pairs), the config has num_codebooks = {n_q}.")
    if int(config.get("audio_encoder", {}).get("audio_channels", 1)) != 1:
        raise ValueError("A stereo transformers MusicGen codes each channel with a mono "
                         "EnCodec: its audio_encoder.audio_channels must be 1.")
    return [k // 2 for k in range(n_q)]


def hf_musicgen_codec(codec: EncodecModel, config: dict[str, tp.Any],
                      source: str = "folder") -> CompressionModel:
    """The codec a transformers folder's MusicGen works with: `codec` (its `audio_encoder`)
    itself, or for a stereo MusicGen that mono codec wrapped in
    `InterleaveStereoCompressionModel` (per codebook, [B, 2K, T]), with a config that
    `builders.get_compression_model` rebuilds it from (for export). Other configs (a plain
    EnCodec folder) return `codec` unchanged."""
    if not is_hf_musicgen_config(config) or hf_audio_channels(config) == 1:
        return codec
    if codec.channels != 1:
        raise ValueError(f"{source}: a stereo MusicGen must hold a mono EnCodec "
                         f"(audio_encoder.audio_channels 1), this one has {codec.channels}.")
    stereo = InterleaveStereoCompressionModel(codec, per_timestep=False)
    n_q = int(config["decoder"]["num_codebooks"])
    if stereo.num_codebooks != n_q:
        raise ValueError(f"{source}: the decoder has {n_q} codebooks but left + right of its "
                         f"EnCodec give {stereo.num_codebooks} (check audio_encoder."
                         "target_bandwidths).")
    cfg = OmegaConf.create(OmegaConf.to_container(codec.cfg, resolve=False))
    cfg.interleave_stereo_codebooks = {"use": True, "per_timestep": False}
    stereo.cfg = cfg
    return stereo.eval()


def _strip(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


def _linear_from(proj: nn.Linear, weight: torch.Tensor | None,
                 bias: torch.Tensor | None) -> None:
    """Copy a projection; None weight means transformers had none (equal sizes): identity."""
    with torch.no_grad():
        if weight is None:
            if proj.in_features != proj.out_features:
                raise ValueError("A missing projection needs equal input and output sizes.")
            proj.weight.copy_(torch.eye(proj.in_features))
            proj.bias.zero_()
        else:
            proj.weight.copy_(weight)
            if bias is not None:
                proj.bias.copy_(bias)
            else:
                proj.bias.zero_()


def convert_decoder_state(hf_state: dict[str, torch.Tensor], num_layers: int,
                          num_codebooks: int, cross_attention: bool) -> dict[str, torch.Tensor]:
    """transformers decoder weights (prefix `decoder.` removed) -> LMModel state (no
    condition_provider keys)."""
    base = "model.decoder."
    out: dict[str, torch.Tensor] = {}
    for k in range(num_codebooks):
        out[f"emb.{k}.weight"] = hf_state[f"{base}embed_tokens.{k}.weight"]
        out[f"linears.{k}.weight"] = hf_state[f"lm_heads.{k}.weight"]
    out["out_norm.weight"] = hf_state[f"{base}layer_norm.weight"]
    out["out_norm.bias"] = hf_state[f"{base}layer_norm.bias"]
    attn_blocks = [("self_attn", "self_attn", "self_attn_layer_norm", "norm1")]
    if cross_attention:
        attn_blocks.append(("encoder_attn", "cross_attention", "encoder_attn_layer_norm",
                            "norm_cross"))
    for i in range(num_layers):
        src, dst = f"{base}layers.{i}.", f"transformer.layers.{i}."
        for hf_attn, our_attn, hf_norm, our_norm in attn_blocks:
            out[f"{dst}{our_attn}.in_proj_weight"] = torch.cat(
                [hf_state[f"{src}{hf_attn}.{p}_proj.weight"] for p in "qkv"], dim=0)
            out[f"{dst}{our_attn}.out_proj.weight"] = hf_state[f"{src}{hf_attn}.out_proj.weight"]
            out[f"{dst}{our_norm}.weight"] = hf_state[f"{src}{hf_norm}.weight"]
            out[f"{dst}{our_norm}.bias"] = hf_state[f"{src}{hf_norm}.bias"]
        out[f"{dst}linear1.weight"] = hf_state[f"{src}fc1.weight"]
        out[f"{dst}linear2.weight"] = hf_state[f"{src}fc2.weight"]
        out[f"{dst}norm2.weight"] = hf_state[f"{src}final_layer_norm.weight"]
        out[f"{dst}norm2.bias"] = hf_state[f"{src}final_layer_norm.bias"]
    return out


def _text_conditioner(folder: Path, config: dict[str, tp.Any], state: dict[str, torch.Tensor],
                      dim: int) -> T5Conditioner:
    from transformers import AutoTokenizer, T5Config, T5EncoderModel

    text_cfg = dict(config["text_encoder"])
    text_cfg.pop("model_type", None)
    encoder = T5EncoderModel(T5Config(**text_cfg))
    missing, unexpected = encoder.load_state_dict(_strip(state, "text_encoder."), strict=False)
    # The shared/encoder embedding tables are tied: either name may be absent.
    missing = [k for k in missing if k not in ("shared.weight", "encoder.embed_tokens.weight")]
    if missing or unexpected:
        raise ValueError(f"T5 weights of {folder} do not fit its config: missing {missing[:5]}, "
                         f"unexpected {unexpected[:5]}.")
    name = str(text_cfg.get("_name_or_path") or "t5-base")
    if not text_cfg.get("_name_or_path") and int(text_cfg.get("d_model", 768)) != 768:
        logger.warning("%s does not name its T5 (text_encoder._name_or_path): it is called "
                       "t5-base in exported configs, which does not match its size.", folder)
    tokenizer = None
    if any((folder / f).is_file() for f in ("tokenizer.json", "spiece.model",
                                             "tokenizer_config.json")):
        tokenizer = AutoTokenizer.from_pretrained(str(folder))
    else:
        logger.info("No tokenizer in %s: the T5 tokenizer %r is loaded from the cache.",
                    folder, name)
    cond = T5Conditioner(name, output_dim=dim, encoder=encoder, tokenizer=tokenizer)
    _linear_from(cond.output_proj, state.get("enc_to_dec_proj.weight"),
                 state.get("enc_to_dec_proj.bias"))
    return cond


def _chroma_conditioner(folder: Path, config: dict[str, tp.Any],
                        state: dict[str, torch.Tensor], dim: int) -> ChromaStemConditioner:
    sample_rate = int(config["audio_encoder"].get("sampling_rate", 32000))
    n_fft, hop = DEFAULT_CHROMA_NFFT, DEFAULT_CHROMA_HOP
    pre = folder / "preprocessor_config.json"
    if pre.is_file():
        pre_cfg = json.loads(pre.read_text())
        n_fft = int(pre_cfg.get("n_fft", n_fft))
        hop = int(pre_cfg.get("hop_length", hop))
        sample_rate = int(pre_cfg.get("sampling_rate", sample_rate))
    chroma_length = int(config.get("chroma_length", 235))
    # The duration whose chroma has exactly chroma_length frames (1 + samples // hop).
    duration = (chroma_length - 1) * hop / sample_rate
    cond = ChromaStemConditioner(
        output_dim=dim, sample_rate=sample_rate, n_chroma=int(config.get("num_chroma", 12)),
        duration=duration, match_len_on_eval=True, argmax=True, nfft=n_fft, winlen=n_fft,
        winhop=hop)
    if cond.chroma_len != chroma_length:
        raise ValueError(f"Chroma length {cond.chroma_len} does not match the config's "
                         f"{chroma_length}.")
    _linear_from(cond.output_proj, state.get("audio_enc_to_dec_proj.weight"),
                 state.get("audio_enc_to_dec_proj.bias"))
    return cond


def build_lm_from_hf(folder: str | Path, config: dict[str, tp.Any],
                     state: dict[str, torch.Tensor]) -> LMModel:
    """Our LMModel (with its T5 / chroma conditioners) from a transformers MusicGen folder's
    config dict and full state dict. Guidance defaults to the folder's generation config."""
    folder = Path(folder)
    if not is_hf_musicgen_config(config):
        raise ValueError(f"{folder} is not a transformers MusicGen folder (model_type "
                         f"{config.get('model_type')!r}, expected one of {HF_MUSICGEN_TYPES}).")
    melody = config["model_type"] == "musicgen_melody"
    dec = config["decoder"]
    delays = hf_codebook_delays(config)
    if dec.get("activation_function", "gelu") != "gelu":
        raise ValueError(f"Unsupported activation {dec['activation_function']!r} (expected gelu).")
    dim, n_q, card = int(dec["hidden_size"]), int(dec["num_codebooks"]), int(dec["vocab_size"])
    num_layers = int(dec["num_hidden_layers"])
    # Sizes first: the config cannot allocate gigabytes before it is found absurd.
    check_lm_config({"dim": dim, "num_heads": dec.get("num_attention_heads"),
                     "num_layers": num_layers, "hidden_scale": int(dec["ffn_dim"]) / dim,
                     "n_q": n_q, "card": card}, where=f"{folder.name}/config.json decoder")
    conditioners: dict[str, BaseConditioner] = {
        "description": _text_conditioner(folder, config, state, dim)}
    if melody:
        conditioners["self_wav"] = _chroma_conditioner(folder, config, state, dim)
        fuser = ConditionFuser({"prepend": ["self_wav", "description"]})
    else:
        fuser = ConditionFuser({"cross": ["description"]})
    cfg_coef = 3.0
    gen = folder / "generation_config.json"
    if gen.is_file():
        cfg_coef = float(json.loads(gen.read_text()).get("guidance_scale") or cfg_coef)
    model = LMModel(
        pattern_provider=DelayedPatternProvider(n_q, delays=delays),
        condition_provider=ConditioningProvider(conditioners), fuser=fuser,
        n_q=n_q, card=card, dim=dim, num_heads=int(dec["num_attention_heads"]),
        hidden_scale=int(dec["ffn_dim"]) / dim, norm="layer_norm", norm_first=True,
        bias_proj=False, cfg_coef=cfg_coef, num_layers=num_layers, activation="gelu",
        bias_ff=False, bias_attn=False, causal=True, cross_attention=not melody,
        cross_attention_mask=not melody, positional_embedding="sin", dropout=0.0,
    )
    model.cfg = inert_config(_xp_cfg(config, model, cfg_coef))  # its strings are data
    lm_state = convert_decoder_state(_strip(state, "decoder."), num_layers, n_q,
                                     cross_attention=not melody)
    provider_state = {f"condition_provider.{k}": v
                      for k, v in model.condition_provider.state_dict().items()}
    missing, unexpected = model.load_state_dict({**lm_state, **provider_state}, strict=False)
    if missing or unexpected:
        raise ValueError(f"Decoder weights of {folder} do not fit: missing {missing[:5]}, "
                         f"unexpected {unexpected[:5]}.")
    return model.eval()


def _xp_cfg(config: dict[str, tp.Any], model: LMModel, cfg_coef: float) -> dict[str, tp.Any]:
    """The audiocraft-layout config (xp.cfg) of a model converted from transformers, so that
    `builders.get_lm_model` rebuilds it and `loaders.export_lm` can write a hub file. The T5
    is named by the folder's `text_encoder._name_or_path` (e.g. t5-base): hub files never
    hold frozen T5 weights."""
    dec = config["decoder"]
    dim = int(dec["hidden_size"])
    ffn = int(dec["ffn_dim"])
    melody = config["model_type"] == "musicgen_melody"
    text = model.condition_provider.conditioners["description"]
    assert isinstance(text, T5Conditioner)
    conditioners: dict[str, tp.Any] = {"description": {"model": "t5", "t5": {
        "name": text.name, "finetune": False, "word_dropout": 0.0, "normalize_text": False}}}
    sample_rate = int(config["audio_encoder"].get("sampling_rate", 32000))
    duration = 30.0
    if melody:
        chroma = model.condition_provider.conditioners["self_wav"]
        assert isinstance(chroma, ChromaStemConditioner)
        extractor = chroma.chroma
        conditioners["self_wav"] = {"model": "chroma_stem", "chroma_stem": {
            "sample_rate": chroma.sample_rate, "n_chroma": extractor.n_chroma,
            "radix2_exp": max(1, int(extractor.winlen).bit_length() - 1),
            "nfft": extractor.nfft, "winlen": extractor.winlen, "winhop": extractor.winhop,
            "argmax": True, "match_len_on_eval": True, "eval_wavs": None, "n_eval_wavs": 0,
            "cache_path": None}}
        duration = chroma.duration
    fuse = (["self_wav", "description"], []) if melody else ([], ["description"])
    channels = hf_audio_channels(config)
    cfg: dict[str, tp.Any] = {
        "device": "cpu", "dtype": "float32", "sample_rate": sample_rate, "channels": channels,
        "lm_model": "transformer_lm",
        "dataset": {"segment_duration": duration},
        "codebooks_pattern": {"modeling": "delay", "delay": {
            "delays": hf_codebook_delays(config), "flatten_first": 0, "empty_initial": 0}},
        "transformer_lm": {
            "dim": dim, "num_heads": int(dec["num_attention_heads"]),
            "num_layers": int(dec["num_hidden_layers"]),
            "hidden_scale": ffn // dim if ffn % dim == 0 else ffn / dim,
            "n_q": model.n_q, "card": model.card, "dropout": 0.0, "activation": "gelu",
            "norm": "layer_norm", "norm_first": True, "bias_ff": False, "bias_attn": False,
            "bias_proj": False, "causal": True, "positional_embedding": "sin",
            "cross_attention_mask": not melody,
        },
        "classifier_free_guidance": {"training_dropout": 0.0, "inference_coef": cfg_coef},
        "attribute_dropout": {},
        "fuser": {"cross_attention_pos_emb": False, "cross_attention_pos_emb_scale": 1,
                  "sum": [], "prepend": fuse[0], "cross": fuse[1], "input_interpolate": []},
        "conditioners": conditioners,
    }
    if channels == 2:  # the mono codec, left/right codebooks interleaved (audiocraft's key)
        cfg["interleave_stereo_codebooks"] = {"use": True, "per_timestep": False}
    codec_name = str(config["audio_encoder"].get("_name_or_path") or "")
    if codec_name.count("/") == 1 and not codec_name.startswith((".", "/", "~")):
        cfg["compression_model_checkpoint"] = f"//pretrained/{codec_name}"
    return cfg
