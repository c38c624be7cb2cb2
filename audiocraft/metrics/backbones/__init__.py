"""Metric backbones: audio -> embeddings (FAD) or label probabilities (KL).

Weights are read from local files only, in the metrics folder (the ``folder`` argument,
else ``$AUDIOCRAFT_METRICS_DIR``); a backbone whose file is absent raises
:class:`~audiocraft.metrics.backbones.base.MetricUnavailable` naming it. Nothing is
downloaded at run time.

- codec latents (``codec.CodecBackbone``): no file, the compression model passed in.
- VGGish (``vggish.VGGishBackbone``): ``vggish-10086976.pth``, from
  https://github.com/harritaylor/torchvggish/releases/download/v0.1/vggish-10086976.pth
- CLAP (``clap.ClapBackbone``): the folder ``larger_clap_music/`` (``config.json``,
  ``model.safetensors``, ``preprocessor_config.json``, ``vocab.json``, ``merges.txt``,
  the tokenizer files), all files of https://huggingface.co/laion/larger_clap_music
- AST, the KL classifier (``ast.ASTClassifier``): the folder
  ``ast-finetuned-audioset-10-10-0.4593/`` (``config.json``, ``model.safetensors``,
  ``preprocessor_config.json``), from
  https://huggingface.co/MIT/ast-finetuned-audioset-10-10-0.4593

The modules import transformers only when a CLAP or AST backbone is built.
"""

from audiocraft.metrics.backbones.ast import ASTClassifier
from audiocraft.metrics.backbones.base import (
    WEIGHTS_ENV,
    AudioClassifier,
    EmbeddingBackbone,
    MetricUnavailable,
    TextAudioBackbone,
)
from audiocraft.metrics.backbones.clap import ClapBackbone
from audiocraft.metrics.backbones.codec import CodecBackbone
from audiocraft.metrics.backbones.vggish import VGGishBackbone

__all__ = ["WEIGHTS_ENV", "MetricUnavailable", "EmbeddingBackbone", "AudioClassifier",
           "TextAudioBackbone", "CodecBackbone", "VGGishBackbone", "ClapBackbone",
           "ASTClassifier"]
