"""T5 text conditioner: a frozen (by default) T5 encoder from transformers + `output_proj`.

Any T5 or flan-T5 checkpoint that transformers can load works: a hub id found in the local
Hugging Face cache (`t5-base`, `google/flan-t5-base`, ...) or a local folder. Nothing is
downloaded. The encoder is loaded on first use, so a model whose T5 weights are absent
can still be built and used from precomputed conditions (only its size must be known:
from the folder's config.json or, for the standard names, a built-in table).

Unless `finetune=True`, the encoder is kept outside the module tree: it is not in
`state_dict()` (as in the audiocraft checkpoints, which store only `output_proj`), gets
no gradients and stays in eval mode.

Null texts (None or empty) give mask 0 and an all-zero embedding: the null condition of
classifier-free guidance.
"""

from __future__ import annotations

import logging
import random
import re
import typing as tp

import torch
from torch import nn

from .attributes import ConditionType
from .base import CONDITIONERS, ConditionerContext, TextConditioner

logger = logging.getLogger(__name__)

# Hidden size of the standard checkpoints, for building without the weights at hand.
KNOWN_T5_DIMS = {
    "t5-small": 512, "t5-base": 768, "t5-large": 1024, "t5-3b": 1024, "t5-11b": 1024,
    "google/flan-t5-small": 512, "google/flan-t5-base": 768, "google/flan-t5-large": 1024,
    "google/flan-t5-xl": 2048, "google/flan-t5-xxl": 4096,
}


def _candidate_names(name: str) -> list[str]:
    # The original t5-* repos now live under google-t5/; a cache may hold either name.
    names = [name]
    if name.startswith("t5-"):
        names.append(f"google-t5/{name}")
    elif name.startswith("google-t5/"):
        names.append(name.split("/", 1)[1])
    return names


def _from_pretrained(loader: tp.Callable[..., tp.Any], name: str, what: str) -> tp.Any:
    errors = []
    for candidate in _candidate_names(name):
        try:
            return loader(candidate, local_files_only=True)
        except (OSError, ValueError) as err:
            errors.append(f"{candidate}: {err}")
    raise FileNotFoundError(
        f"Could not load the T5 {what} {name!r} from a local folder or the Hugging Face cache "
        "(no network is used). Download it on a machine with network "
        f"(`huggingface-cli download {_candidate_names(name)[-1]}`) and copy the cache, set "
        "HF_HOME to a cache that holds it, or pass a local folder as the name.\n"
        + "\n".join(errors)
    )


def t5_hidden_size(name: str) -> int:
    """Hidden size of a T5 checkpoint: from its config if available locally, else the table."""
    from transformers import AutoConfig

    try:
        config = _from_pretrained(AutoConfig.from_pretrained, name, "config")
        return int(config.d_model)
    except FileNotFoundError:
        for candidate in _candidate_names(name):
            if candidate in KNOWN_T5_DIMS:
                return KNOWN_T5_DIMS[candidate]
        raise


@CONDITIONERS.register("t5")
class T5Conditioner(TextConditioner):
    """Text -> T5 encoder hidden states -> output_proj.

    Args:
        name: hub id (looked up in the local HF cache) or local folder of a T5 model.
        output_dim: model dimension D.
        finetune: train the encoder (it is then stored in checkpoints).
        device: where the encoder runs.
        word_dropout: in training, drop each word with this probability.
        normalize_text: lowercase and collapse whitespace/punctuation before tokenizing
            (a light normalisation; the reference's spaCy lemmatisation is not done).
        autocast_dtype: accepted for config compatibility; the encoder runs in float32.
        encoder, tokenizer: an already built T5 encoder (`T5EncoderModel`) and tokenizer,
            instead of loading them by name (used for transformers MusicGen folders).
    """

    @classmethod
    def from_config(cls, output_dim: int, args: dict[str, tp.Any],
                    context: ConditionerContext) -> T5Conditioner:
        """The T5 encoder runs on the model's device (`args` may set `device` itself)."""
        return cls(output_dim=output_dim, **{"device": context.device, **args})

    def __init__(self, name: str, output_dim: int, finetune: bool = False,
                 device: str | torch.device = "cpu", word_dropout: float = 0.0,
                 normalize_text: bool = False, autocast_dtype: str | None = None,
                 encoder: nn.Module | None = None, tokenizer: tp.Any = None):
        if not 0.0 <= word_dropout <= 1.0:
            raise ValueError(f"word_dropout must be in [0, 1], got {word_dropout}.")
        config: tp.Any = encoder.config if encoder is not None else None
        dim = int(config.d_model) if config is not None else t5_hidden_size(name)
        super().__init__(dim, output_dim)
        self.name = name
        self.finetune = finetune
        self.word_dropout = word_dropout
        self.normalize_text = normalize_text
        self.encoder_device = torch.device(device)
        self._tokenizer = tokenizer
        self.__dict__["_frozen_t5"] = None
        if encoder is not None:
            self._set_encoder(encoder)

    def _set_encoder(self, encoder: nn.Module) -> None:
        encoder = encoder.to(self.encoder_device)
        if self.finetune:
            self.t5 = encoder
        else:
            encoder.eval().requires_grad_(False)
            # Stored outside _modules: not in state_dict, not moved by .to(), not trained.
            self.__dict__["_frozen_t5"] = encoder

    def _apply(self, fn: tp.Callable[..., tp.Any], recurse: bool = True) -> T5Conditioner:
        # `.to(device)` / `.cuda()` reach the module tree only: move the frozen encoder to
        # the same device by hand. Its dtype stays float32 (T5 overflows in float16).
        super()._apply(fn, recurse)
        device = self.output_proj.weight.device
        if device != self.encoder_device:
            self.encoder_device = device
            frozen = self.__dict__["_frozen_t5"]
            if frozen is not None:
                frozen.to(device)
        return self

    @property
    def encoder(self) -> nn.Module:
        """The T5 encoder, loaded on first use."""
        if self.finetune and "t5" in self._modules:
            module = self._modules["t5"]
            assert module is not None
            return module
        if self.__dict__["_frozen_t5"] is None:
            from transformers import T5EncoderModel

            loaded = _from_pretrained(T5EncoderModel.from_pretrained, self.name, "encoder")
            self._set_encoder(loaded)
        if self.finetune:
            return self.encoder
        return tp.cast(nn.Module, self.__dict__["_frozen_t5"])

    @property
    def tokenizer(self) -> tp.Any:
        """The T5 tokenizer, loaded on first use."""
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            loader = AutoTokenizer.from_pretrained
            self._tokenizer = _from_pretrained(loader, self.name, "tokenizer")
        return self._tokenizer

    def _prepare(self, texts: list[str | None]) -> list[str]:
        entries = [t if t is not None else "" for t in texts]
        if self.normalize_text:
            entries = [" ".join(re.findall(r"[\w']+", t.lower())) for t in entries]
        if self.word_dropout > 0 and self.training:
            entries = [
                " ".join(w for w in t.split(" ") if random.random() >= self.word_dropout)
                for t in entries
            ]
        return entries

    def tokenize(self, x: list[str | None]) -> dict[str, torch.Tensor]:
        """B texts (None = null) -> {'input_ids': [B, L], 'attention_mask': [B, L]}."""
        entries = self._prepare(x)
        inputs = self.tokenizer(entries, return_tensors="pt", padding=True)
        batch = {"input_ids": inputs["input_ids"], "attention_mask": inputs["attention_mask"]}
        empty = [i for i, t in enumerate(entries) if t == ""]
        if empty:
            batch["attention_mask"][empty] = 0  # null condition: nothing valid
        return {k: v.to(self.encoder_device) for k, v in batch.items()}

    def forward(self, inputs: dict[str, torch.Tensor]) -> ConditionType:
        mask = inputs["attention_mask"]  # [B, L]
        with torch.set_grad_enabled(self.finetune and torch.is_grad_enabled()):
            hidden = self.encoder(**inputs).last_hidden_state  # [B, L, dim]
        return self.project(hidden, mask)

    def project(self, hidden: torch.Tensor, mask: torch.Tensor) -> ConditionType:
        """From T5 hidden states [B, L, dim] and mask [B, L] to the condition."""
        embeds = self.output_proj(hidden.to(self.output_proj.weight))  # [B, L, D]
        mask = mask.to(embeds.device)
        return embeds * mask.unsqueeze(-1).to(embeds), mask

    def __repr__(self) -> str:
        return (f"T5Conditioner(name={self.name!r}, dim={self.dim}, output_dim={self.output_dim},"
                f" finetune={self.finetune}, word_dropout={self.word_dropout})")
