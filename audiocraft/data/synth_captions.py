"""Captions of the synthetic music in varied wordings, for data whose tempo is free of its
genre (``synth.make_spec(..., free_tempo=True)``).

The default captions (``synth._caption``: four templates) name the tempo as "128 BPM",
"128 bpm" or "128 beats per minute", and every genre keeps its own tempo range, so a model
can learn the tempo from the genre word alone. Here every genre takes any tempo of
``FREE_BPM``, the tempo is written in many ways ("128 BPM", "128bpm", "tempo 128", "a
tempo of 128 beats per minute"...), and pace words ("slow", "fast", "ballad") and style
words the synthesizer does not render ("rock", "jazz") appear independently of the
tempo: the only reliable tempo cue left is the number.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# Tempo range of every genre with free tempo (the default ranges span 72-160 overall).
FREE_BPM = (68, 168)

TEMPO_WORDINGS = (
    "{bpm} BPM", "{bpm} bpm", "{bpm} Bpm", "{bpm}bpm", "{bpm} beats per minute",
    "tempo {bpm}", "a tempo of {bpm} bpm", "{bpm} beats a minute", "bpm {bpm}",
    "a tempo of {bpm}",
)
KEY_WORDINGS = ("in {key}", "in the key of {key}", "{key} key", "key: {key}", "in {key}")
# Words that say nothing true of the audio's tempo (drawn independently of it).
PACE_WORDS = ("slow", "fast", "mid-tempo", "laid-back", "uptempo", "ballad", "groovy",
              "sparse", "busy", "steady")
STYLE_WORDS = ("rock", "jazz", "funk", "techno", "ambient", "disco", "soul", "trap",
               "electro", "folk", "cinematic", "retro")
GENRE_SYNONYMS = {
    "house": ("house", "house", "deep house", "club house"),
    "pop": ("pop", "pop", "synth pop", "pop song"),
    "hip hop": ("hip hop", "hip-hop", "hiphop", "boom bap"),
    "synthwave": ("synthwave", "synthwave", "retrowave", "outrun"),
    "chiptune": ("chiptune", "chiptune", "8-bit", "chip tune"),
    "lofi": ("lofi", "lo-fi", "lofi", "lo-fi hip hop"),
}


def _pick(rng: np.random.Generator, items: tuple[str, ...] | list[str]) -> str:
    return str(items[int(rng.integers(len(items)))])


def varied_caption(rng: np.random.Generator, spec: Any, parts: dict[str, str]) -> str:
    """A caption of ``spec`` (a ``synth.PieceSpec``: genre, key, bpm, moods) with
    ``parts`` (role -> instrument name), in one of many wordings; may be lowercase."""
    tempo = _pick(rng, TEMPO_WORDINGS).format(bpm=spec.bpm)
    key = _pick(rng, KEY_WORDINGS).format(key=spec.key)
    genre = _pick(rng, GENRE_SYNONYMS.get(spec.genre, (spec.genre,)))
    mood = spec.moods[0]
    extra = []
    if rng.random() < 0.4:
        extra.append(_pick(rng, PACE_WORDS))
    if rng.random() < 0.3:
        extra.append(_pick(rng, STYLE_WORDS) + "-tinged")
    flavour = " ".join([*extra, mood])
    article = "an" if flavour[0] in "aeiou" else "a"
    instruments = f"{parts['lead']}, {parts['chords']}, {parts['bass']} and drums"
    templates = (
        f"{article} {flavour} {genre} track {key} at {tempo}, with {instruments}.",
        f"{genre} at {tempo}, {key}, {flavour}: {instruments}",
        f"{tempo}. {flavour} {genre} {key} with {instruments}.",
        f"{article} {flavour} {genre} piece {key}, {tempo}; {parts['lead']} over "
        f"{parts['chords']}.",
        f"{key}, {tempo}, {genre}, {flavour}, {instruments}",
        f"Make {article} {flavour} {genre} tune {key} at {tempo} using {instruments}.",
    )
    text = _pick(rng, templates)
    text = text[0].upper() + text[1:]
    return text.lower() if rng.random() < 0.25 else text
