"""AudioSet classifier for the KL divergence: transformers' Audio Spectrogram Transformer.

The reference audiocraft computes KL with PaSST (``hear21passt``). That package cannot be
installed beside this torch: it imports ``torchaudio`` (no release for torch 2.13) and
``timm`` (which needs ``torchvision``), and pip would replace torch to satisfy them. AST
(Gong et al. 2021) is the AudioSet classifier transformers provides, so KL here is
measured with it; values are therefore not comparable with the reference's PaSST KL.

The model is read with ``from_pretrained(folder, local_files_only=True)`` from
``<metrics dir>/ast-finetuned-audioset-10-10-0.4593`` by default: the Hugging Face
repository ``MIT/ast-finetuned-audioset-10-10-0.4593`` (527 AudioSet labels, 16 kHz,
10.24 s inputs), files ``config.json``, ``model.safetensors`` (or ``pytorch_model.bin``)
and ``preprocessor_config.json``. Label probabilities are the softmax of the logits, as
the reference takes them from PaSST. Windows are at most 10 s (the reference's PaSST
window) or the extractor's input length if shorter; pieces of 0.15 s or less are not
classified (see :mod:`audiocraft.metrics.kld`).
"""

from __future__ import annotations

from pathlib import Path

import torch

from audiocraft.metrics.backbones.base import MetricUnavailable, require_file, weights_folder

__all__ = ["AST_FOLDER", "AST_SOURCE", "ASTClassifier"]

AST_FOLDER = "ast-finetuned-audioset-10-10-0.4593"
AST_SOURCE = ("https://huggingface.co/MIT/ast-finetuned-audioset-10-10-0.4593 (config.json, "
              "model.safetensors, preprocessor_config.json)")
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
MAX_SECONDS, MIN_SECONDS = 10.0, 0.15


class ASTClassifier:
    """AudioSet label probabilities from a local transformers AST folder.

    Args:
        folder: the metrics weights folder (default ``$AUDIOCRAFT_METRICS_DIR``).
        subfolder: the AST model folder inside it.
        device: where the model runs.

    Raises:
        MetricUnavailable: when the model folder or one of its files is absent.
    """

    name = "ast"

    def __init__(self, folder: str | Path | None = None, subfolder: str = AST_FOLDER,
                 device: str | torch.device = "cpu"):
        from transformers import ASTFeatureExtractor, ASTForAudioClassification

        root = weights_folder(folder) / subfolder
        require_file(self.name, root / "config.json", AST_SOURCE)
        require_file(self.name, root / "preprocessor_config.json", AST_SOURCE)
        if not any((root / f).exists() for f in WEIGHT_FILES):
            raise MetricUnavailable(self.name, root / WEIGHT_FILES[0], AST_SOURCE)
        self.extractor = ASTFeatureExtractor.from_pretrained(str(root), local_files_only=True)
        model = ASTForAudioClassification.from_pretrained(str(root), local_files_only=True)
        self.model = model.eval()
        self.model.to(device)
        self.device = torch.device(device)
        self.sample_rate = int(self.extractor.sampling_rate)
        # Kaldi fbank frames: 25 ms windows every 10 ms; the extractor pads or cuts to
        # max_length frames.
        hop, win = self.sample_rate // 100, self.sample_rate * 25 // 1000
        fits = (int(self.extractor.max_length) - 1) * hop + win
        self.max_samples = min(int(MAX_SECONDS * self.sample_rate), fits)
        self.min_samples = int(MIN_SECONDS * self.sample_rate)
        self.num_labels = int(self.model.config.num_labels)

    def probabilities(self, wav: torch.Tensor) -> torch.Tensor:
        """Mono ``wav [N, T]`` at ``sample_rate`` (``T <= max_samples``) -> ``[N, labels]``."""
        inputs = self.extractor([w.cpu().numpy() for w in wav], sampling_rate=self.sample_rate,
                                return_tensors="pt")
        with torch.no_grad():
            logits = self.model(inputs["input_values"].to(self.device)).logits
        return logits.float().softmax(-1)
