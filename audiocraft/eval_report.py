"""The report of an evaluation run (:mod:`audiocraft.eval`): Markdown and HTML with tables
and pictures, drawn with Pillow (no plotting library needed).

- :func:`spectrogram_png`: log-mel spectrogram of a clip;
- :func:`bar_chart_png`: one bar per run for one value (a metric, or a sweep column);
- :func:`line_chart_png`: drift figures (one value per minute of a long piece);
- :func:`write_report`: ``report.md`` and ``report.html`` of one run from its results;
- :func:`write_sweep`: ``sweep.md`` / ``sweep.json`` comparing runs.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw

from .metrics.codec import log_mel_spectrogram

__all__ = ["spectrogram_png", "bar_chart_png", "line_chart_png", "write_report", "write_sweep",
           "headline"]

_COLORS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189)]


def _colormap(x: np.ndarray) -> np.ndarray:
    """Values in [0, 1] ``[H, W]`` -> RGB ``[H, W, 3]`` uint8 (dark blue -> yellow)."""
    stops = np.array([[10, 10, 40], [60, 20, 120], [200, 50, 80], [250, 200, 40],
                      [255, 255, 200]], dtype=np.float64)
    pos = np.clip(x, 0, 1) * (len(stops) - 1)
    lo = np.floor(pos).astype(int).clip(0, len(stops) - 2)
    frac = (pos - lo)[..., None]
    return (stops[lo] * (1 - frac) + stops[lo + 1] * frac).astype(np.uint8)


def spectrogram_png(wav: torch.Tensor, sample_rate: int, path: Path, width: int = 480) -> Path:
    """Log-mel spectrogram of ``wav [C, T]`` (channels averaged) as a PNG at ``path``."""
    mel = log_mel_spectrogram(wav.float().mean(0), sample_rate, n_mels=80).numpy()  # [M, F]
    top = mel.max()
    img = (mel - (top - 4.0)) / 4.0  # the top 80 dB
    rgb = _colormap(img[::-1])
    image = Image.fromarray(rgb).resize((width, 160), Image.Resampling.BILINEAR)
    image.save(path)
    return path


def _axes(draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], lo: float,
          hi: float) -> None:
    x0, y0, x1, y1 = box
    draw.line([(x0, y0), (x0, y1), (x1, y1)], fill=(0, 0, 0))
    for v in (lo, hi):
        y = y1 - (v - lo) / (hi - lo or 1.0) * (y1 - y0)
        draw.text((2, y - 6), f"{v:.3g}", fill=(0, 0, 0))


def bar_chart_png(title: str, labels: Sequence[str], values: Sequence[float], path: Path
                  ) -> Path:
    """One bar per label (non-finite values drawn as a gap) as a PNG at ``path``."""
    width, height = max(320, 90 * len(values) + 80), 240
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    finite = [v for v in values if math.isfinite(v)]
    lo = min([0.0, *finite])
    hi = max([0.0, *finite]) or 1.0
    box = (50, 36, width - 10, height - 40)
    draw.text((50, 4), title, fill=(0, 0, 0))
    _axes(draw, box, lo, hi)
    slot = (box[2] - box[0]) / max(1, len(values))
    zero = box[3] - (0 - lo) / (hi - lo or 1.0) * (box[3] - box[1])
    for i, (label, value) in enumerate(zip(labels, values)):
        x = box[0] + i * slot + slot * 0.15
        if math.isfinite(value):
            y = box[3] - (value - lo) / (hi - lo or 1.0) * (box[3] - box[1])
            draw.rectangle([x, min(y, zero), x + slot * 0.7, max(y, zero)],
                           fill=_COLORS[i % len(_COLORS)])
            draw.text((x, min(y, zero) - 12), f"{value:.3g}", fill=(0, 0, 0))
        draw.text((x, box[3] + 4), str(label)[:14], fill=(0, 0, 0))
    image.save(path)
    return path


def line_chart_png(title: str, series: dict[str, Sequence[float]], path: Path,
                   xlabel: str = "minute") -> Path:
    """Lines (one per series, index on x) as a PNG at ``path``."""
    width, height = 420, 240
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    values = [v for s in series.values() for v in s if math.isfinite(v)]
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    if hi == lo:
        lo, hi = lo - 1.0, hi + 1.0
    box = (50, 36, width - 10, height - 40)
    draw.text((50, 4), title, fill=(0, 0, 0))
    _axes(draw, box, lo, hi)
    n = max((len(s) for s in series.values()), default=1)
    for i, (name, s) in enumerate(series.items()):
        color = _COLORS[i % len(_COLORS)]
        points = [(box[0] + j / max(1, n - 1) * (box[2] - box[0]),
                   box[3] - (v - lo) / (hi - lo) * (box[3] - box[1]))
                  for j, v in enumerate(s) if math.isfinite(v)]
        if len(points) > 1:
            draw.line(points, fill=color, width=2)
        for x, y in points:
            draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=color)
        draw.text((box[0] + 4 + 90 * i, box[3] + 20), str(name)[:14], fill=color)
    draw.text((box[2] - 40, box[3] + 4), xlabel, fill=(0, 0, 0))
    image.save(path)
    return path


# ---- tables ---------------------------------------------------------------------------------


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _md_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_fmt(v).replace("|", "/") for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _html_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in row) + "</tr>"
                   for row in rows)
    return f"<table border='1' cellpadding='3'><tr>{head}</tr>{body}</table>"


def headline(results: dict[str, Any]) -> dict[str, float]:
    """Every ``metric.value`` of a run's results (one flat dict, for tables and charts)."""
    out: dict[str, float] = {}
    for name in results.get("metrics", []):
        entry = results.get(name, {})
        for key, value in entry.items():
            if isinstance(value, (int, float)):
                out[f"{name}.{key}"] = float(value)
    return out


def write_report(out: Path, results: dict[str, Any], wavs: dict[str, torch.Tensor],
                 sample_rate: int, num_spectrograms: int = 3) -> tuple[Path, Path]:
    """``out/report.md`` and ``out/report.html`` (pictures in ``out/figures``) of one run's
    ``results`` (as written to results.json); ``wavs`` maps sample ids to audio ``[C, T]``.
    Returns the two paths."""
    figures = out / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    status = ("complete" if results["complete"] else
              "INCOMPLETE: some metrics are unavailable or failed (see below)")
    settings = sorted(results["settings"].items())
    metric_rows, unavailable_rows = [], []
    for name in results["metrics"]:
        entry = results[name]
        if "unavailable" in entry or "error" in entry:
            unavailable_rows.append([name, entry.get("unavailable") or entry.get("error")])
            continue
        for key, value in entry.items():
            metric_rows.append([name, key, value])
    charts = []
    for name in results["metrics"]:
        entry = results[name]
        keys = [k for k, v in entry.items() if isinstance(v, (int, float))
                and not k.endswith(("count", "unlabelled", "unmeasured"))]
        if keys:
            charts.append(bar_chart_png(name, keys, [float(entry[k]) for k in keys],
                                        figures / f"metric_{name}.png"))
    sample_rows = [[s["id"], s.get("description") or "", s.get("bpm"), s.get("bpm_measured"),
                    s.get("key"), s.get("key_measured")] for s in results["samples"]]
    spectros = [spectrogram_png(wavs[s["id"]], sample_rate, figures / f"spec_{s['id']}.png")
                for s in results["samples"][:num_spectrograms] if s["id"] in wavs]
    tables: list[tuple[str, list[str], list[list[Any]], list[Path]]] = [
        ("Settings", ["setting", "value"], [list(r) for r in settings], []),
        ("Metrics", ["metric", "field", "value"], metric_rows, charts),
        ("Unavailable or failed metrics", ["metric", "reason"], unavailable_rows, []),
        ("Samples", ["id", "description", "bpm", "bpm measured", "key", "key measured"],
         sample_rows, spectros),
    ]
    if results.get("skipped"):
        tables.append(("Skipped data items", ["file", "reason"],
                       [[k, v] for k, v in results["skipped"].items()], []))
    if results.get("warnings"):
        tables.append(("Warnings", ["warning"], [[w] for w in results["warnings"]], []))
    drift = results.get("drift")
    if drift:
        rows, pics = [], []
        for sid, d in drift.items():
            for i, (bpm, key, dist) in enumerate(zip(d["bpm"], d["key"], d["distance"])):
                rows.append([sid, i, bpm, key, dist])
            pics.append(line_chart_png(f"{sid}: bpm per window", {"bpm": d["bpm"]},
                                       figures / f"drift_bpm_{sid}.png"))
            pics.append(line_chart_png(f"{sid}: key of window 0 kept (1) or not (0)",
                                       {"same key": [float(k == d["key"][0]) for k in d["key"]]},
                                       figures / f"drift_key_{sid}.png"))
            pics.append(line_chart_png(f"{sid}: codec distance to window 0",
                                       {"distance": d["distance"]},
                                       figures / f"drift_dist_{sid}.png"))
        tables.append((f"Drift ({drift_window(results)} s windows)",
                       ["sample", "window", "bpm", "key", "distance to first"], rows, pics))
    md = [f"# Evaluation report\n\nStatus: **{status}**\n"]
    body = [f"<h1>Evaluation report</h1><p>Status: <b>{html.escape(status)}</b></p>"]
    for title, header, rows, pics in tables:
        if not rows and title.startswith("Unavailable"):
            continue
        md.append(f"## {title}\n\n{_md_table(header, rows)}\n")
        md += [f"![{p.stem}](figures/{p.name})\n" for p in pics]
        body.append(f"<h2>{html.escape(title)}</h2>{_html_table(header, rows)}")
        body += [f"<img src='figures/{p.name}' alt='{p.stem}'>" for p in pics]
    md_path, html_path = out / "report.md", out / "report.html"
    md_path.write_text("\n".join(md))
    html_path.write_text("<html><body>" + "\n".join(body) + "</body></html>\n")
    return md_path, html_path


def drift_window(results: dict[str, Any]) -> float:
    return float(results["settings"].get("drift_window", 60.0))


def write_sweep(out: Path, runs: list[tuple[str, dict[str, Any]]]) -> tuple[Path, Path]:
    """``out/sweep.md`` (one row per run, one column per metric value, plus a bar chart
    per column) and ``out/sweep.json``. ``runs``: ``(run name, its results)``."""
    out.mkdir(parents=True, exist_ok=True)
    flat = [(name, headline(r), r) for name, r in runs]
    # Counts of clips are the same in every run: left to each run's results.json.
    columns = sorted({k for _, h, _ in flat for k in h
                      if not k.endswith(("count", "unlabelled", "unmeasured"))})
    varying = sorted({k for _, r in runs for k in r["settings"]
                      if len({json.dumps(x["settings"].get(k)) for _, x in runs}) > 1})
    rows = [[name, *[r["settings"].get(k) for k in varying], r["complete"],
             *[h.get(c, float("nan")) for c in columns]] for name, h, r in flat]
    figures = out / "figures"
    figures.mkdir(exist_ok=True)
    pics = [bar_chart_png(c, [n for n, _, _ in flat], [h.get(c, float("nan")) for _, h, _ in flat],
                          figures / f"sweep_{c.replace('.', '_')}.png")
            for c in columns]
    header = ["run", *varying, "complete", *columns]
    md = ["# Sweep\n", _md_table(header, rows), ""]
    md += [f"![{p.stem}](figures/{p.name})\n" for p in pics]
    md_path, json_path = out / "sweep.md", out / "sweep.json"
    md_path.write_text("\n".join(md) + "\n")
    json_path.write_text(json.dumps({"columns": header, "rows": rows,
                                     "complete": all(r["complete"] for _, r in runs)},
                                    indent=2, default=str) + "\n")
    return md_path, json_path
