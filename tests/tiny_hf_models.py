"""Tiny random-weight transformers models for tests (no downloads): T5 and its tokenizer."""

from __future__ import annotations

import io
import json
import random
from pathlib import Path
from typing import Any

WORDS = ("calm piano rock guitar solo jazz drums fast slow happy sad electronic bass synth "
         "melody with and a the of").split()
VOCAB_SIZE = 40


def save_tiny_t5_tokenizer(folder: Path) -> Path:
    """Train a 40-piece sentencepiece model and save it as a T5 tokenizer folder."""
    import sentencepiece as spm

    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(0)
    sentences = [" ".join(rng.choice(WORDS) for _ in range(6)) for _ in range(200)]
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences), model_writer=model, vocab_size=VOCAB_SIZE,
        pad_id=0, eos_id=1, unk_id=2, bos_id=-1, model_type="unigram", minloglevel=2,
    )
    (folder / "spiece.model").write_bytes(model.getvalue())
    (folder / "tokenizer_config.json").write_text(
        json.dumps({"tokenizer_class": "T5Tokenizer", "extra_ids": 0}))
    return folder


def tiny_t5_config(d_model: int = 16):
    from transformers import T5Config

    return T5Config(vocab_size=VOCAB_SIZE, d_model=d_model, d_kv=4, d_ff=32, num_layers=1,
                    num_heads=2, relative_attention_num_buckets=8, dropout_rate=0.0)


def save_tiny_t5(folder: Path, d_model: int = 16) -> Path:
    """A random T5 encoder + tokenizer saved with save_pretrained into `folder`."""
    import torch
    from transformers import AutoTokenizer, T5EncoderModel

    torch.manual_seed(0)
    T5EncoderModel(tiny_t5_config(d_model)).save_pretrained(folder)
    tok_dir = save_tiny_t5_tokenizer(folder / "_spm")
    AutoTokenizer.from_pretrained(str(tok_dir)).save_pretrained(folder)
    return folder


def tiny_musicgen_config(melody: bool = False, card: int = 64, dim: int = 32, n_q: int = 4,
                         chroma_length: int = 8, stereo: bool = False):
    """A tiny transformers MusicGen (or MusicGen-Melody) config: T5 d_model 16, decoder dim
    32, 2 layers, 4 heads, 4 codebooks of `card` entries, a small 32 kHz EnCodec (1.2 kbps:
    4 codebooks of 64 entries at 50 Hz). `stereo`: decoder audio_channels 2 and 2 x n_q
    codebooks (left/right of the same mono EnCodec), as in facebook/musicgen-stereo-*."""
    from transformers import EncodecConfig

    encodec = EncodecConfig(target_bandwidths=[1.2], sampling_rate=32000, audio_channels=1,
                            num_filters=4, hidden_size=32, upsampling_ratios=[8, 5, 4, 4],
                            codebook_size=card, num_lstm_layers=1, codebook_dim=32)
    decoder: dict[str, Any] = dict(
        vocab_size=card, max_position_embeddings=256, num_hidden_layers=2, ffn_dim=4 * dim,
        num_attention_heads=4, hidden_size=dim, num_codebooks=2 * n_q if stereo else n_q,
        pad_token_id=card, bos_token_id=card, decoder_start_token_id=card,
        audio_channels=2 if stereo else 1, dropout=0.0)
    if melody:
        from transformers import MusicgenMelodyConfig, MusicgenMelodyDecoderConfig

        return MusicgenMelodyConfig(
            text_encoder=tiny_t5_config().to_dict(), audio_encoder=encodec.to_dict(),
            decoder=MusicgenMelodyDecoderConfig(**decoder).to_dict(), num_chroma=12,
            chroma_length=chroma_length)
    from transformers import MusicgenConfig, MusicgenDecoderConfig

    return MusicgenConfig(text_encoder=tiny_t5_config().to_dict(),
                          audio_encoder=encodec.to_dict(),
                          decoder=MusicgenDecoderConfig(**decoder).to_dict())


def save_tiny_musicgen(folder: Path, melody: bool = False, seed: int = 0, stereo: bool = False):
    """Build a random tiny transformers MusicGen(-Melody), mono or `stereo` (see
    `tiny_musicgen_config`), save it with its tokenizer into
    `folder` and return the model (eval mode). Decoder weights are redrawn with std 0.1 so
    that logits are well spread (greedy choices are not near-ties); EnCodec codebooks are
    drawn at random, so that different codes give different audio."""
    import torch
    from transformers import AutoTokenizer

    if melody:
        from transformers import MusicgenMelodyForConditionalGeneration as cls
    else:
        from transformers import MusicgenForConditionalGeneration as cls  # type: ignore
    torch.manual_seed(seed)
    model = cls(tiny_musicgen_config(melody=melody, stereo=stereo)).eval()
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.startswith(("decoder.", "enc_to_dec_proj", "audio_enc_to_dec_proj")):
                if "layer_norm" in name:
                    param.add_(0.1 * torch.randn_like(param))
                else:
                    param.normal_(0.0, 0.1)
        # transformers starts EnCodec codebooks at zero (every code decodes alike): draw them.
        for name, buffer in model.audio_encoder.named_buffers():
            if name.endswith((".codebook.embed", ".codebook.embed_avg")):
                buffer.copy_(torch.randn_like(buffer))
    model.generation_config.decoder_start_token_id = model.config.decoder.bos_token_id
    model.save_pretrained(folder)
    tok_dir = save_tiny_t5_tokenizer(folder / "_spm")
    AutoTokenizer.from_pretrained(str(tok_dir)).save_pretrained(folder)
    # The published folders name their T5 (`text_encoder._name_or_path`, e.g. t5-base); here
    # the name is a folder holding the same T5, so that exported hub files can reload it.
    t5_dir = folder / "t5"
    model.text_encoder.save_pretrained(t5_dir)
    AutoTokenizer.from_pretrained(str(tok_dir)).save_pretrained(t5_dir)
    config = json.loads((folder / "config.json").read_text())
    config["text_encoder"]["_name_or_path"] = str(t5_dir)
    (folder / "config.json").write_text(json.dumps(config))
    return model
