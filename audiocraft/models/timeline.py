"""Timelines as users write them: texts that change over a piece, parsed and checked.

A timeline is a list of ``(start_seconds, text)`` entries sorted by start time (the
``Timeline`` of the long-form engine, ``longform.py``, which conditions each window on
the text active where its new audio starts). Users write one as a JSON file
(``read_timeline``: ``[[0, "calm intro"], {"start": 60, "text": "drums come in"}]``) or
as text lines (``parse_timeline_text``: ``0: calm intro`` / ``1:00: drums come in``).
The CLI and the app both parse through here, so they accept and reject the same inputs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import InputError
from .params import check_number

TimelineEntries = list[tuple[float, str | None]]
# The time of one timeline text line: seconds ("30", "12.5") or minutes and seconds ("1:30").
_TIMELINE_TIME = re.compile(r"^(?:(\d+):)?(\d+(?:\.\d*)?|\.\d+)$")
_TIMELINE_LINE_HELP = "write one 'TIME: text' line per entry, e.g. '0: calm piano' or '1:30: drums'"


# (start_seconds, text) entries of one sample, sorted by time (what the engine takes).
Timeline = Sequence[tuple[float, "str | None"]]


def seconds_to_frames(seconds: float, frame_rate: float) -> int:
    """Seconds to whole frames, robust to float error (0.3 * 50 must be 15, not 14)."""
    return int(seconds * frame_rate + 1e-6)


def active_text(timeline: Timeline, frame: int, frame_rate: float) -> str | None:
    """The text of ``timeline`` active at ``frame``: the last entry starting at or before
    it. Before the first entry's start, the first entry applies."""
    current = timeline[0][1]
    for start, text in timeline:
        if seconds_to_frames(start, frame_rate) <= frame:
            current = text
        else:
            break
    return current


def validate_timeline(timeline: Timeline) -> None:
    """Raise a clear error unless ``timeline`` is a non-empty list sorted by start time."""
    if isinstance(timeline, (str, bytes)) or len(timeline) == 0:
        raise ValueError("A timeline needs at least one (start_seconds, text) entry.")
    for i, entry in enumerate(timeline):
        if isinstance(entry, (str, bytes)) or len(entry) != 2:
            raise ValueError(f"Timeline entry {i} must be a (start_seconds, text) pair, got "
                             f"{entry!r}.")
        check_number(entry[0], f"Timeline entry {i}'s start", 0, hint="seconds")
        if entry[1] is not None and not isinstance(entry[1], str):
            raise ValueError(f"Timeline entry {i}'s text must be a text or None, got "
                             f"{entry[1]!r}.")
    starts = [float(start) for start, _ in timeline]
    if any(start < 0 for start in starts):
        raise ValueError(f"Timeline start times must be >= 0 seconds, got {starts}.")
    if any(b <= a for a, b in zip(starts, starts[1:])):
        raise ValueError(
            f"Timeline entries must be sorted by strictly increasing start time, got {starts}."
        )



class TimelineError(InputError):
    """A timeline that cannot be used (malformed entry or line, negative or unsorted
    start times, unreadable file); the message names the entry and says what to write."""


def read_timeline(path: str) -> TimelineEntries:
    """A timeline file: a JSON list of ``[start_seconds, text]`` or
    ``{"start": seconds, "text": text}`` entries, sorted by start time.
    Raises ``TimelineError`` for a missing, unreadable or malformed file."""
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError as err:
        raise TimelineError(f"Timeline file not found: {path}") from err
    except (OSError, ValueError) as err:
        raise TimelineError(f"Cannot read the timeline {path} as JSON: {err}") from err
    if not isinstance(data, list) or not data:
        raise TimelineError(f"The timeline {path} must be a non-empty JSON list of [start, text].")
    return timeline_from_entries(data, f"in {path}", f"The timeline {path}")


def timeline_from_entries(entries: list[Any], where: str = "",
                          what: str = "The timeline") -> TimelineEntries:
    """Check parsed timeline entries (``[start_seconds, text]`` lists or ``{"start":
    seconds, "text": text}`` dicts) and return ``(start, text)`` tuples.

    ``where`` and ``what`` name the source in error messages (e.g. ``"in t.json"``).
    Raises ``TimelineError`` for a malformed entry, a negative start or an unsorted list.
    """
    suffix = f" {where}" if where else ""
    timeline: TimelineEntries = []
    for entry in entries:
        if isinstance(entry, dict) and "start" in entry:
            start, text = entry["start"], entry.get("text")
        elif isinstance(entry, list | tuple) and len(entry) == 2:
            start, text = entry
        else:
            raise TimelineError(
                f"Bad timeline entry {entry!r}{suffix}: use [start_seconds, text] or "
                '{"start": seconds, "text": text}.')
        if (isinstance(start, bool) or not isinstance(start, int | float)
                or not (text is None or isinstance(text, str))):
            raise TimelineError(f"Bad timeline entry {entry!r}{suffix}: start must be a number.")
        if not 0 <= start < float("inf"):
            raise TimelineError(
                f"Bad timeline entry {entry!r}{suffix}: start must be >= 0 seconds.")
        timeline.append((float(start), text))
    starts = [start for start, _ in timeline]
    if any(b <= a for a, b in zip(starts, starts[1:])):
        raise TimelineError(f"{what} is not sorted by time: starts {starts}. "
                            "List the entries in increasing start time.")
    return timeline


def parse_timeline_text(text: str) -> TimelineEntries:
    """A timeline written as text, one ``TIME: text`` line per entry, sorted by time.

    ``TIME`` is seconds (``30``, ``12.5``) or minutes and seconds (``1:30``). Blank
    lines and lines starting with ``#`` are skipped; an empty text is an error. Returns
    ``[]`` for a text with no entries. Raises ``TimelineError`` naming the bad line.
    """
    entries: list[Any] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        entry = _timeline_line(line)
        if entry is None:
            raise TimelineError(f"Timeline line {number} ({line!r}) is not 'TIME: text': "
                                f"{_TIMELINE_LINE_HELP}.")
        start, description = entry
        if start < 0:
            raise TimelineError(
                f"Timeline line {number} ({line!r}): start times must be >= 0.")
        if not description:
            raise TimelineError(
                f"Timeline line {number} ({line!r}) has no text after the time: add what "
                "should play from then on.")
        entries.append([start, description])
    return timeline_from_entries(entries)


def _timeline_line(line: str) -> tuple[float, str] | None:
    """``(start_seconds, text)`` of one ``TIME: text`` line, or None if it is not one.
    The time is everything up to the first ':' not followed by a digit, so "0:30 drums"
    is an error rather than text "30 drums" at 0 s."""
    sign = -1.0 if line.startswith("-") else 1.0
    body = line[1:] if sign < 0 else line
    head = 0
    while head < len(body) and (body[head].isdigit() or body[head] in ".:"):
        head += 1
    time, rest = body[:head], body[head:].lstrip()
    if time.endswith(":"):
        time = time[:-1]
    elif rest.startswith(":"):
        rest = rest[1:]
    else:
        return None
    match = _TIMELINE_TIME.match(time)
    if match is None:
        return None
    minutes, seconds = match.groups()
    if minutes is not None and float(seconds) >= 60:
        return None
    return sign * (60 * int(minutes or 0) + float(seconds)), rest.strip()
