"""Tiny random-weight transformers models for tests (no downloads): T5 and its tokenizer."""

from __future__ import annotations

import io
import json
import random
from pathlib import Path

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
