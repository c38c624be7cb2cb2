"""The Gradio app's history of the generations made since the page was opened.

The history is a list of entries (plain dicts, kept per browser tab in a ``gr.State`` by
``app.py``): the form values that made the piece (with the seed actually used, so that
reusing them makes the same piece again), what came out, and when. ``history_rows`` is
the table the page shows; ``reuse`` turns an entry back into the form's values.
"""

import time
from pathlib import Path
from typing import Any

from app_inputs import AppError, GenerationSettings

# The form's fields "reuse these settings" fills, in the order of the outputs of the
# reuse event in app.py. Uploaded files (melody, audio prompt) are not reused.
REUSED_FIELDS = ("model", "text", "timeline", "duration", "top_k", "top_p", "temperature",
                 "cfg_coef", "seed", "window", "stride", "melody_policy", "precision",
                 "unconditional", "audio_format", "video")
HISTORY_HEADERS = ["#", "time", "description", "model", "duration", "made", "seed",
                   "top-k", "top-p", "temp.", "CFG", "window", "stride", "file"]
MAX_HISTORY = 100  # entries kept per page; the oldest go first


def timeline_text(settings: GenerationSettings) -> str:
    """The timeline of ``settings`` as the form's ``TIME: text`` lines ("" for none)."""
    return "\n".join(f"{start:g}: {text or ''}" for start, text in settings.timeline or [])


def history_entry(number: int, settings: GenerationSettings, form: dict[str, Any],
                  step_metadata: dict[str, Any], path: Path | None,
                  video: Path | None) -> dict[str, Any]:
    """One history entry: ``form`` holds the form's values as sent (precision, format,
    ...); the checked ``settings`` replace the ones they normalise (the seed drawn for
    -1, the timeline as parsed). ``step_metadata`` is what was written into the file."""
    values = {**form, "model": settings.model, "text": settings.text or "",
              "timeline": timeline_text(settings), "duration": settings.duration,
              "top_k": settings.top_k, "top_p": settings.top_p,
              "temperature": settings.temperature, "seed": settings.seed,
              "window": settings.window or 0, "stride": settings.stride or 0,
              "melody_policy": settings.melody_policy}
    return {"number": number, "time": time.strftime("%H:%M:%S"), "form": values,
            "made": float(step_metadata.get("generated_seconds", 0.0)),
            "interrupted": bool(step_metadata.get("interrupted", False)),
            "cfg_used": step_metadata.get("cfg_coef"),
            "file": str(path) if path else None, "video": str(video) if video else None}


def add_entry(history: list[dict[str, Any]] | None,
              entry: dict[str, Any]) -> list[dict[str, Any]]:
    """``history`` with ``entry`` appended (a new list: gradio state is replaced, not
    mutated), keeping the last ``MAX_HISTORY``."""
    return [*(history or []), entry][-MAX_HISTORY:]


def _describe(form: dict[str, Any]) -> str:
    if form.get("timeline"):
        return "timeline: " + " | ".join(str(form["timeline"]).splitlines())
    return str(form.get("text") or "(unconditional)")


def history_rows(history: list[dict[str, Any]] | None) -> list[list[Any]]:
    """The history table, newest first, one row per entry (columns ``HISTORY_HEADERS``)."""
    rows = []
    for entry in reversed(history or []):
        form = entry["form"]
        made = f"{entry['made']:.1f} s" + (" (stopped)" if entry["interrupted"] else "")
        rows.append([entry["number"], entry["time"], _describe(form), form["model"],
                     f"{float(form['duration']):g} s", made, form["seed"], form["top_k"],
                     form["top_p"], form["temperature"], str(entry["cfg_used"]),
                     form["window"] or "model's", form["stride"] or "default",
                     Path(entry["file"]).name if entry["file"] else ""])
    return rows


def history_choices(history: list[dict[str, Any]] | None) -> list[str]:
    """The labels of the "reuse" selector, newest first: ``#3 calm piano (seed 7)``."""
    return [f"#{entry['number']} {_describe(entry['form'])[:40]} (seed {entry['form']['seed']})"
            for entry in reversed(history or [])]


def entry_files(history: list[dict[str, Any]] | None, choice: str | None) -> list[str]:
    """The files (audio, then video) of the entry ``choice`` names that still exist; []
    for no choice."""
    entry = _find(history, choice)
    if entry is None:
        return []
    return [path for path in (entry["file"], entry["video"]) if path and Path(path).is_file()]


def _find(history: list[dict[str, Any]] | None, choice: str | None) -> dict[str, Any] | None:
    number = str(choice or "").split(" ", 1)[0].lstrip("#")
    return next((e for e in history or [] if str(e["number"]) == number), None)


def reuse(history: list[dict[str, Any]] | None, choice: str | None) -> list[Any]:
    """The form values (``REUSED_FIELDS`` order) of the entry ``choice`` names."""
    entry = _find(history, choice)
    if entry is not None:
        return [entry["form"].get(name) for name in REUSED_FIELDS]
    raise AppError("Choose a generation from the history first (the list under the "
                   "table), then press 'Reuse these settings'.")
