"""Tempo and key read from a user's words, for the conditioners that take them as
attributes (``number`` on ``bpm``, or a text conditioner on ``key``).

Training reads them from each sample's metadata; at inference the user writes "a slow
rock ballad at 128 bpm", "128 BPM", "tempo 128", "128 beats per minute", "in the key of
F# minor", "Am"... ``caption_attributes`` finds them (explicit values given by the caller
win). Numbers that are not tempos ("a 1980s track", "2 guitars") are not taken: a tempo
is a number next to a tempo word (bpm, beats per minute, tempo), or 40-240 after "at".
"""

from __future__ import annotations

import re

PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")

_NUM = r"(\d{2,3}(?:\.\d+)?)"
_TEMPO_PATTERNS = (
    re.compile(_NUM + r"\s*-?\s*(?:bpm|beats?\s+(?:per|a|each)\s+min(?:ute)?|b\.p\.m\.?)\b", re.I),
    re.compile(r"\b(?:bpm|tempo)\s*(?:of|:|=|at|is)?\s*(?:about\s+|around\s+|~\s*)?" + _NUM,
               re.I),
    re.compile(r"\bat\s+(?:about\s+|around\s+)?" + _NUM + r"\b(?!\s*(?:%|hz|khz|db|s\b|sec))",
               re.I),
)
_FLATS = {"db": "C#", "eb": "D#", "gb": "F#", "ab": "G#", "bb": "A#", "cb": "B", "fb": "E",
          "e#": "F", "b#": "C"}
_KEY = re.compile(
    r"(?<![\w#])([a-g])\s*(#|♯|b|♭|sharp|flat)?\s*[-\s]?"
    r"(major|minor|maj|min|m)(?![\w#])", re.I)


def parse_tempo(text: str | None, low: float = 30.0, high: float = 300.0) -> float | None:
    """The tempo (bpm) a text asks for, or None."""
    if not text:
        return None
    for pattern in _TEMPO_PATTERNS:
        for match in pattern.finditer(text):
            value = float(match.group(1))
            if low <= value <= high:
                return value
    return None


# Words before a tempo that go with it ("at", "around", "with a tempo of"); the article
# only before "tempo" ("a tempo of 128"), not before a number ("a 128 bpm track").
_TEMPO_LEAD = re.compile(r"(?:\b(?:at|around|about|with)\s+)?(?:\ba\s+tempo\s+of\s+)?$",
                         re.I)
_TEMPO_WORD_LEAD = re.compile(r"(?:\b(?:at|around|about|with)\s+)?(?:\ba\s+)?$", re.I)
_TIDY = ((re.compile(r"\s+([,.;:)])"), r"\1"), (re.compile(r"([,;:])(?:\s*[,;:])+"), r"\1"),
         (re.compile(r"[,;:]\s*\."), "."), (re.compile(r"\(\s*\)"), ""),
         (re.compile(r"^[\s,.;:]+"), ""), (re.compile(r"[\s,;:]+$"), ""),
         (re.compile(r"\s{2,}"), " "))


def strip_tempo(text: str | None, low: float = 30.0, high: float = 300.0) -> str | None:
    """``text`` without the tempo it asks for: the words ``parse_tempo`` reads it from and
    those that lead to them ("at 128 bpm", "a tempo of 128", "tempo 128"), punctuation
    tidied. A text that names no tempo comes back unchanged (None stays None)."""
    if not text:
        return text
    out = text
    for _ in range(4):  # a caption rarely says its tempo more than once
        match = next((m for pattern in _TEMPO_PATTERNS for m in pattern.finditer(out)
                      if low <= float(m.group(1)) <= high), None)
        if match is None:
            break
        before = out[:match.start()]
        word_first = match.group(0)[:1].isalpha()  # "tempo 128", "bpm: 128"
        lead = (_TEMPO_WORD_LEAD if word_first else _TEMPO_LEAD).search(before)
        before = before[:lead.start()] if lead else before
        out = before.rstrip() + " " + out[match.end():].lstrip()
    if out == text:
        return text
    for pattern, repl in _TIDY:
        out = pattern.sub(repl, out)
    return out.strip()


def _tonic(letter: str, accidental: str | None) -> str:
    acc = (accidental or "").lower()
    sign = "#" if acc in ("#", "♯", "sharp") else "b" if acc in ("b", "♭", "flat") else ""
    name = letter.lower() + sign
    if name in _FLATS:
        return _FLATS[name]
    index = PITCH_CLASSES.index(letter.upper())
    return PITCH_CLASSES[(index + (1 if sign == "#" else 0)) % 12]


def parse_key(text: str | None) -> str | None:
    """The key a text names, as the synthetic labels write it ("F# minor", "A# major";
    flats as their sharps), or None. A lone "m" after the tonic ("Am") is minor; the
    article "a" is only a tonic when a mode word follows it."""
    if not text:
        return None
    for match in _KEY.finditer(text):
        letter, accidental, mode = match.group(1), match.group(2), match.group(3)
        if mode == "M" or mode.lower() in ("major", "maj"):
            quality = "major"
        else:
            quality = "minor"
        if mode.lower() == "m" and mode == "m" and letter.islower():
            continue  # "a m..." in running text is not a key; "Am" is
        return f"{_tonic(letter, accidental)} {quality}"
    return None


def caption_attributes(text: str | None, **explicit: object) -> dict[str, str | None]:
    """``{"bpm": "128", "key": "A minor"}`` from ``text`` (None where it names none);
    ``explicit`` values (not None) win over the text."""
    bpm = parse_tempo(text)
    found: dict[str, str | None] = {
        "bpm": None if bpm is None else f"{bpm:g}",
        "key": parse_key(text),
    }
    for name, value in explicit.items():
        if value is not None:
            found[name] = f"{value:g}" if isinstance(value, float) else str(value)
    return found
