"""MusicDataset: audio segments with their music metadata (``MusicInfo``).

Each audio file ``x.wav`` has a JSON sidecar (``x.wav.json``, the reference layout's
``x.json``, or the manifest's ``info_path``) holding any of: title, artist, key, bpm,
genre, moods, keywords, description, name, instrument. Items are ``(wav [C, T], MusicInfo)``;
:meth:`MusicInfo.to_condition_attributes` turns the info into what the language model
is conditioned on.

Description augmentation (training): with probability ``merge_text_p`` the other
metadata (key, bpm, genre, moods, keywords, instrument) is merged into the description
text; when merging, each of those fields is left out with probability ``drop_other_p``
and the original description with probability ``drop_desc_p``, all independently. When
not merging the description is unchanged. If every part is dropped the description is
None (the model then sees no text for that sample). Then, with probability
``drop_tempo_p``, the tempo the description names ("at 128 bpm", "tempo 128") is taken
out of it while the sample's ``bpm`` stays: a conditioner on the tempo (``beat``,
``number``) is then the only tempo cue of those samples, so the model learns to follow it
rather than the caption's number.

Melody: an item's ``self_wav`` (what a melody conditioner such as ``chroma_stem`` reads)
is the segment itself, unless the sidecar names a file of the melody alone,
``melody_path`` (relative to the sidecar: the synthetic set's ``--melody-stem``), whose
same segment is then read instead (no separation needed to train on it).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .audio import audio_read
from .audio_dataset import AudioDataset, SegmentInfo
from .audio_utils import convert_audio
from .sidecars import find_sidecar, sidecar_path

logger = logging.getLogger(__name__)

# Fields merged into the description by the augmentation, in this order.
MERGED_FIELDS = ("key", "bpm", "genre", "moods", "keywords", "instrument")
TEXT_FIELDS = (
    "title", "artist", "key", "bpm", "genre", "moods", "keywords", "description", "name",
    "instrument",
)


def _as_list(value: Any) -> list[str] | None:
    """Moods/keywords arrive as lists or comma-separated strings."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        items = [v.strip() for v in value.split(",")]
    else:
        items = [str(v).strip() for v in value]
    items = [v for v in items if v]
    return items or None


def _as_bpm(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _as_str(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text if text and text.lower() != "none" else None


@dataclass
class MusicInfo(SegmentInfo):
    """Segment info plus the music metadata of its file (all optional)."""

    title: str | None = None
    artist: str | None = None
    key: str | None = None  # e.g. "A minor"
    bpm: float | None = None
    genre: str | None = None
    moods: list[str] | None = None
    keywords: list[str] | None = None
    description: str | None = None
    name: str | None = None
    instrument: str | None = None
    # Filled by the dataset: the segment's own audio as a WavCondition (melody/chroma).
    self_wav: Any = None
    joint_embed: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(
        cls, d: dict[str, Any], segment: SegmentInfo, fields_required: bool = False
    ) -> MusicInfo:
        """Build from a sidecar dict; ``fields_required`` makes every text field mandatory."""
        if fields_required:
            missing = [f for f in TEXT_FIELDS if f not in d]
            if missing:
                raise KeyError(
                    f"Sidecar of {segment.meta.path} lacks {missing}: add them or build the "
                    "dataset with info_fields_required=False."
                )
        base = {f.name: getattr(segment, f.name) for f in fields(SegmentInfo)}
        if "instrument" not in d and "instruments" in d:  # the synthetic set lists them
            instruments = d["instruments"]
            d = {**d, "instrument": ", ".join(instruments) if isinstance(instruments, list)
                 else instruments}
        return cls(
            **base,
            title=_as_str(d.get("title")), artist=_as_str(d.get("artist")),
            key=_as_str(d.get("key")), bpm=_as_bpm(d.get("bpm")),
            genre=_as_str(d.get("genre")), moods=_as_list(d.get("moods")),
            keywords=_as_list(d.get("keywords")), description=_as_str(d.get("description")),
            name=_as_str(d.get("name")), instrument=_as_str(d.get("instrument")),
        )

    def text_value(self, name: str) -> str | None:
        """A field as conditioning text: lists comma-joined, bpm without trailing .0."""
        value = getattr(self, name)
        if value is None:
            return None
        if isinstance(value, list):
            return ", ".join(value)
        if isinstance(value, float):
            return f"{value:g}"
        return str(value)

    def to_condition_attributes(self) -> Any:
        """``ConditioningAttributes``: every text field, ``self_wav`` and joint embeds."""
        from audiocraft.modules.conditioners import ConditioningAttributes, with_start

        attrs = ConditioningAttributes()
        for name in TEXT_FIELDS:
            attrs.text[name] = self.text_value(name)
        # The tempo with the segment's start in the file, for the beat grid (the `beat`
        # conditioner): "128 +3.2500s".
        attrs.text["beat"] = with_start(attrs.text["bpm"], float(self.seek_time or 0.0))
        if self.self_wav is not None:
            attrs.wav["self_wav"] = self.self_wav
        attrs.joint_embed.update(self.joint_embed)
        return attrs


def augment_music_info_description(
    info: MusicInfo,
    merge_text_p: float = 0.0,
    drop_desc_p: float = 0.0,
    drop_other_p: float = 0.0,
    rng: np.random.Generator | None = None,
) -> MusicInfo:
    """Rewrite ``info.description`` in place (see the module docstring for the meaning of
    the probabilities) and return ``info``."""
    for name, p in (("merge_text_p", merge_text_p), ("drop_desc_p", drop_desc_p),
                    ("drop_other_p", drop_other_p)):
        if not 0 <= p <= 1:
            raise ValueError(f"{name} must be a probability in [0, 1], got {p}.")
    rng = rng if rng is not None else np.random.default_rng()
    if rng.random() >= merge_text_p:
        return info
    parts: list[str] = []
    if info.description is not None and rng.random() >= drop_desc_p:
        parts.append(info.description.rstrip(". "))
    for name in MERGED_FIELDS:
        # Draw for every field, present or not, so one field's presence does not shift
        # the random stream of the others.
        keep = rng.random() >= drop_other_p
        value = info.text_value(name)
        if keep and value is not None:
            parts.append(f"{name}: {value}")
    info.description = ". ".join(parts) + "." if parts else None
    return info


def drop_description_tempo(info: MusicInfo, drop_tempo_p: float = 0.0,
                           rng: np.random.Generator | None = None) -> MusicInfo:
    """With probability ``drop_tempo_p``, take the tempo out of ``info.description`` in
    place (``captions.strip_tempo``; the ``bpm`` field is kept) and return ``info``. Draws
    from ``rng`` only when ``drop_tempo_p > 0`` (other settings keep their random stream)."""
    if not 0 <= drop_tempo_p <= 1:
        raise ValueError(f"drop_tempo_p must be a probability in [0, 1], got {drop_tempo_p}.")
    if drop_tempo_p == 0:
        return info
    rng = rng if rng is not None else np.random.default_rng()
    if rng.random() < drop_tempo_p and info.description is not None:
        from audiocraft.modules.conditioners.captions import strip_tempo

        info.description = strip_tempo(info.description) or None
    return info


class MusicDataset(AudioDataset):
    """AudioDataset whose items are ``(wav [C, T], MusicInfo)``.

    Args (besides AudioDataset's):
        info_fields_required: every sidecar must hold every text field.
        merge_text_p, drop_desc_p, drop_other_p, drop_tempo_p: description augmentation
            (module docs).
        joint_embed_attributes: names under which the segment and its description are
            passed as joint-embedding conditions (e.g. ["description"] for CLAP).
    """

    def __init__(
        self,
        *args: Any,
        info_fields_required: bool = False,
        merge_text_p: float = 0.0,
        drop_desc_p: float = 0.0,
        drop_other_p: float = 0.0,
        drop_tempo_p: float = 0.0,
        joint_embed_attributes: list[str] | None = None,
        **kwargs: Any,
    ):
        kwargs["return_info"] = True
        super().__init__(*args, **kwargs)
        self.info_fields_required = info_fields_required
        self.merge_text_p = merge_text_p
        self.drop_desc_p = drop_desc_p
        self.drop_other_p = drop_other_p
        self.drop_tempo_p = drop_tempo_p
        self.joint_embed_attributes = list(joint_embed_attributes or [])

    def _sidecar(self, segment: SegmentInfo) -> dict[str, Any]:
        found = segment.meta.info_path or find_sidecar(segment.meta.path)
        path = Path(found or sidecar_path(segment.meta.path))
        if not path.exists():
            if self.info_fields_required:
                raise FileNotFoundError(
                    f"No metadata sidecar {path} for {segment.meta.path}: write one or build "
                    "the dataset with info_fields_required=False."
                )
            return {}
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(
                f"Sidecar {path} is not valid JSON ({err}): fix or delete it."
            ) from err
        if not isinstance(data, dict):
            raise ValueError(
                f"Sidecar {path} must hold a JSON object, got {type(data).__name__}."
            )
        return data

    def _melody_wav(self, sidecar: dict[str, Any], segment: SegmentInfo,
                    wav: torch.Tensor) -> torch.Tensor:
        """The melody of the segment ``[C, T]``: the same seconds of the sidecar's
        ``melody_path`` file when it names one, else the segment ``wav`` itself."""
        name = sidecar.get("melody_path")
        if not name:
            return wav
        found = segment.meta.info_path or find_sidecar(segment.meta.path)
        folder = Path(found or sidecar_path(segment.meta.path)).parent
        path = folder / str(name)
        if not path.is_file():
            raise FileNotFoundError(
                f"The sidecar of {segment.meta.path} names the melody {path}, which does not "
                "exist: render it again (synth --melody-stem) or remove melody_path.")
        melody, sr = audio_read(path, segment.seek_time, wav.shape[-1] / self.sample_rate,
                                pad=False)
        melody = convert_audio(melody, sr, self.sample_rate, self.channels)[..., :wav.shape[-1]]
        return torch.nn.functional.pad(melody, (0, wav.shape[-1] - melody.shape[-1]))

    def __getitem__(self, index: int) -> tuple[torch.Tensor, MusicInfo]:  # type: ignore[override]
        wav, segment, rng = self._get(index)
        sidecar = self._sidecar(segment)
        info = MusicInfo.from_dict(sidecar, segment, self.info_fields_required)
        augment_music_info_description(
            info, self.merge_text_p, self.drop_desc_p, self.drop_other_p, rng
        )
        drop_description_tempo(info, self.drop_tempo_p, rng)
        from audiocraft.modules.conditioners import JointEmbedCondition, WavCondition

        info.self_wav = WavCondition(
            wav=self._melody_wav(sidecar, segment, wav)[None],  # [1, C, T]
            length=torch.tensor([segment.n_frames]),  # [1]
            sample_rate=[segment.sample_rate], path=[segment.meta.path],
            seek_time=[segment.seek_time],
        )
        for name in self.joint_embed_attributes:
            info.joint_embed[name] = JointEmbedCondition(
                wav=wav[None], text=[info.text_value(name)],
                length=torch.tensor([segment.n_frames]), sample_rate=[segment.sample_rate],
                path=[segment.meta.path], seek_time=[segment.seek_time],
            )
        return wav, info
