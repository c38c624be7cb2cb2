"""Conditioners: turn text, melodies and other attributes into embeddings for the LM.

See `attributes.py` (what a sample is conditioned on), `base.py` (the interface),
`provider.py` (batching + running conditioners), `fuser.py` (how conditions enter the
transformer), `dropout.py` (guidance and attribute dropout), `captions.py` (tempo and key read from
a user's words) and one file per conditioner.

Each conditioner file registers its class in `CONDITIONERS` (`base.py`) under the name a
config's `conditioners.NAME.model` uses; importing this package registers them all.
"""

from .attributes import (
    ConditioningAttributes,
    ConditionType,
    JointEmbedCondition,
    WavCondition,
    length_to_mask,
    null_wav_condition,
    nullify_joint_embed,
    nullify_wav,
)
from .base import (
    CONDITIONERS,
    BaseConditioner,
    ConditionerContext,
    TextConditioner,
    WaveformConditioner,
)
from .beat import BeatConditioner, parse_start, with_start
from .captions import caption_attributes, parse_key, parse_tempo, strip_tempo
from .chroma import ChromaStemConditioner
from .clap import CLAPEmbeddingConditioner
from .dropout import AttributeDropout, ClassifierFreeGuidanceDropout, dropout_condition
from .fuser import FUSE_METHODS, ConditionFuser, FusedConditions
from .lut import LUTConditioner, WhiteSpaceTokenizer
from .number import NumberConditioner
from .provider import ConditioningProvider
from .style import StyleConditioner
from .text import T5Conditioner

__all__ = [
    "CONDITIONERS",
    "FUSE_METHODS",
    "AttributeDropout",
    "BaseConditioner",
    "BeatConditioner",
    "CLAPEmbeddingConditioner",
    "ChromaStemConditioner",
    "ClassifierFreeGuidanceDropout",
    "ConditionerContext",
    "ConditionFuser",
    "ConditionType",
    "ConditioningAttributes",
    "ConditioningProvider",
    "FusedConditions",
    "JointEmbedCondition",
    "LUTConditioner",
    "NumberConditioner",
    "StyleConditioner",
    "T5Conditioner",
    "TextConditioner",
    "WavCondition",
    "WaveformConditioner",
    "WhiteSpaceTokenizer",
    "caption_attributes",
    "dropout_condition",
    "length_to_mask",
    "null_wav_condition",
    "nullify_joint_embed",
    "nullify_wav",
    "parse_key",
    "parse_start",
    "parse_tempo",
    "strip_tempo",
    "with_start",
]
