"""Tiny random-weight metric backbones saved like the official ones (no downloads)."""

from __future__ import annotations

import random
from pathlib import Path

import torch

WORDS = "calm piano rock guitar solo jazz drums fast slow happy sad a the".split()
TINY_VGGISH = dict(channels=(4, 4, 8, 8), pools=(0, 1, 2, 3), hidden=16, dim=8)


def save_tiny_vggish(folder: Path) -> Path:
    """A tiny VGGish with random weights saved as ``folder/vggish-10086976.pth``."""
    from audiocraft.metrics.backbones.vggish import VGGISH_FILE, VGGish

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    torch.save(VGGish(**TINY_VGGISH).state_dict(), folder / VGGISH_FILE)  # type: ignore[arg-type]
    return folder


def save_tiny_clap(folder: Path) -> Path:
    """A tiny random ``ClapModel`` (projection dim 8, 1 s windows at 48 kHz) with a byte-level
    BPE tokenizer trained here and a CLAP feature extractor, saved with save_pretrained."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import (
        ClapAudioConfig,
        ClapConfig,
        ClapFeatureExtractor,
        ClapModel,
        ClapProcessor,
        ClapTextConfig,
        RobertaTokenizer,
    )

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    text = ClapTextConfig(vocab_size=320, hidden_size=16, num_hidden_layers=1,
                          num_attention_heads=2, intermediate_size=32,
                          max_position_embeddings=40, projection_dim=8)
    # hidden_size = patch_embeds_hidden_size * 2 ** (len(depths) - 1)
    audio = ClapAudioConfig(spec_size=128, num_mel_bins=64, window_size=4, patch_size=4,
                            patch_stride=(4, 4), hidden_size=16, depths=[1, 1], num_heads=[2, 2],
                            patch_embeds_hidden_size=8, projection_dim=8, enable_fusion=False)
    config = ClapConfig(text_config=text.to_dict(), audio_config=audio.to_dict(), projection_dim=8)
    ClapModel(config).save_pretrained(folder)
    rng = random.Random(0)
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator([" ".join(rng.choice(WORDS) for _ in range(6)) for _ in range(200)],
                            vocab_size=300, min_frequency=1, show_progress=False,
                            special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    bpe.save_model(str(folder))
    tokenizer = RobertaTokenizer.from_pretrained(str(folder), model_max_length=32)
    extractor = ClapFeatureExtractor(feature_size=64, sampling_rate=48000, hop_length=480,
                                     max_length_s=1, fft_window_size=1024,
                                     truncation="rand_trunc", padding="repeatpad")
    ClapProcessor(feature_extractor=extractor, tokenizer=tokenizer).save_pretrained(folder)
    return folder


def save_tiny_ast(folder: Path, num_labels: int = 5) -> Path:
    """A tiny random ``ASTForAudioClassification`` (1 s inputs at 16 kHz, 16 mel bins) and its
    feature extractor, saved with save_pretrained."""
    from transformers import ASTConfig, ASTFeatureExtractor, ASTForAudioClassification

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    config = ASTConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                       intermediate_size=32, max_length=100, num_mel_bins=16,
                       num_labels=num_labels)
    ASTForAudioClassification(config).save_pretrained(folder)
    ASTFeatureExtractor(num_mel_bins=16, max_length=100).save_pretrained(folder)
    return folder
