"""Evaluate text-to-music models on a data set with the named metrics, and compare settings.

    python -m audiocraft.eval --model toy --data DATA/data.jsonl --metrics fad_codec,tempo,key \\
        --out outputs/eval [--num 16] [--duration 10] [--cfg-coef 3] [--top-k 250] \\
        [--top-p 0] [--temperature 1] [--stride 18] [--seed 0] [--batch 4] \\
        [--weights FOLDER] [--sweep cfg_coef=1,3 --sweep top_k=50,250] [--model other]

For each model and each combination of the ``--sweep`` values (one "run"), the first
``--num`` items of the manifest give the conditions (their sidecar's description, bpm and
key) and the reference audio; one piece per item is generated with the run's settings and
the metrics compare them. A run writes ``OUT/RUN/`` (OUT itself when there is one run):
the samples (``ID.wav`` + ``ID.json`` sidecar, ids deterministic), ``results.json`` (one
key per metric: its values, or ``{"unavailable": reason}`` / ``{"error": reason}``; plus
``complete``, ``settings``, per-sample rows, skipped items, warnings) and ``report.md`` /
``report.html``. Several runs also write ``OUT/sweep.md`` and ``OUT/sweep.json``, one row
per run. Pieces longer than ``--drift-window`` (60 s) get drift rows and figures: each
window's bpm, key and codec-embedding distance to the first window.

Decisions on bad input: an unknown metric name, a missing model or manifest, or a data set
with no readable item exits with status 2 and a message. Unreadable (corrupt) audio files
are skipped and listed in results.json and the report. A reference shorter than
``--duration`` is kept and compared on its own length (paired metrics cut both to the
shorter), with a warning. A metric whose weights are absent, or that fails, is reported
as such and the run is marked incomplete (``complete: false``, and the report says so);
the exit status is then 1.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import soundfile as sf
import torch

from .data.audio import audio_read
from .data.audio_utils import convert_audio
from .data.manifest import load_audio_meta
from .metrics import METRICS
from .metrics.evaluation import EvalBatch, EvalContext, build_metrics, compute_metrics

__all__ = ["EvalItem", "load_items", "evaluate_model", "main", "SWEEP_KEYS"]

# Sweepable generation settings -> their type.
SWEEP_KEYS = {"cfg_coef": float, "top_k": int, "top_p": float, "temperature": float,
              "duration": float, "stride": float, "seed": int}


def _log(msg: str) -> None:
    print(msg, flush=True)


@dataclass
class EvalItem:
    """One data item: its id, reference audio ``[C, T]`` at ``sample_rate``, and labels."""

    name: str
    wav: torch.Tensor
    sample_rate: int
    description: str | None
    bpm: float | None
    key: str | None


def load_items(manifest: str | Path, num: int | None, duration: float
               ) -> tuple[list[EvalItem], dict[str, str], list[str]]:
    """The first ``num`` readable items of ``manifest`` (``duration`` seconds of audio each).

    Returns ``(items, skipped, warnings)``: ``skipped`` maps unreadable files to the reason;
    ``warnings`` names items shorter than ``duration``.
    """
    metas = load_audio_meta(manifest)
    items: list[EvalItem] = []
    skipped: dict[str, str] = {}
    warnings: list[str] = []
    for meta in metas:
        if num is not None and len(items) >= num:
            break
        try:
            wav, sr = audio_read(meta.path, 0.0, duration)
            if wav.numel() == 0:
                raise RuntimeError("no audio samples")
            side: dict[str, Any] = {}
            if meta.info_path and Path(meta.info_path).exists():
                side = json.loads(Path(meta.info_path).read_text())
        except (OSError, RuntimeError, ValueError) as err:
            skipped[meta.path] = str(err)
            _log(f"[eval] skipping {meta.path}: {err}")
            continue
        seconds = wav.shape[-1] / sr
        if seconds < duration - 1e-3:
            warnings.append(f"{meta.path} has {seconds:.2f} s, shorter than --duration "
                            f"{duration} s: compared on its own length")
        bpm = side.get("bpm")
        items.append(EvalItem(Path(meta.path).stem, wav, sr,
                              side.get("description") or side.get("title"),
                              None if bpm in (None, "") else float(bpm),
                              side.get("key") or None))
    return items, skipped, warnings


def sample_id(index: int, model: str, settings: dict[str, Any], item: EvalItem) -> str:
    """Deterministic id of the sample generated for ``item``: its index and a hash of the
    model, the settings and the conditions."""
    blob = json.dumps([model, settings, item.name, item.description], sort_keys=True)
    return f"{index:04d}_{hashlib.sha1(blob.encode()).hexdigest()[:8]}"


def _drift(wav: torch.Tensor, sample_rate: int, window: float, codec: Any) -> dict[str, list]:
    """Per ``window`` seconds of ``wav [C, T]``: bpm, key, and the distance of the window's
    mean codec latent to the first window's."""
    from .metrics.backbones.codec import CodecBackbone
    from .metrics.music import estimate_bpm, estimate_key

    n = int(window * sample_rate)
    backbone = CodecBackbone(codec, pool="mean")
    out: dict[str, list] = {"bpm": [], "key": [], "distance": []}
    first = None
    for start in range(0, wav.shape[-1] - n + 1, n):
        chunk = wav[:, start:start + n]
        try:
            out["bpm"].append(float(estimate_bpm(chunk, sample_rate)))
        except ValueError:
            out["bpm"].append(float("nan"))
        try:
            out["key"].append(" ".join(estimate_key(chunk, sample_rate)))
        except ValueError:
            out["key"].append("?")
        emb = backbone.embed(chunk[None], sample_rate)[0]
        first = emb if first is None else first
        out["distance"].append(float((emb - first).norm()))
    return out


def _measure(wav: torch.Tensor, sample_rate: int) -> tuple[float | None, str | None]:
    from .metrics.music import estimate_bpm, estimate_key
    try:
        bpm: float | None = round(float(estimate_bpm(wav, sample_rate)), 1)
    except ValueError:
        bpm = None
    try:
        key: str | None = " ".join(estimate_key(wav, sample_rate))
    except ValueError:
        key = None
    return bpm, key


def evaluate_model(model: Any, model_name: str, items: list[EvalItem], metric_names: list[str],
                   settings: dict[str, Any], out: Path, weights: str | None = None,
                   metric_options: dict[str, dict[str, Any]] | None = None,
                   drift_window: float = 60.0, skipped: dict[str, str] | None = None,
                   warnings: list[str] | None = None,
                   device: str = "cpu") -> dict[str, Any]:
    """Generate one piece per item with ``model`` (a ``MusicGen``) and ``settings``
    (``duration``, ``cfg_coef``, ``top_k``, ``top_p``, ``temperature``, ``stride``,
    ``seed``, ``batch``), write the samples to ``out`` and return the results dict (also
    written to ``out/results.json``, with the report). ``skipped`` (file -> reason) and
    ``warnings`` of the data loading are listed in both; metric backbones run on
    ``device``."""
    from .eval_report import write_report

    out.mkdir(parents=True, exist_ok=True)
    sr = model.sample_rate
    context = EvalContext(sr, model.compression_model, weights, device, metric_options or {})
    metrics, unavailable = build_metrics(metric_names, context)
    for name, reason in unavailable.items():
        _log(f"[eval] metric {name} unavailable: {reason}")
    model.set_generation_params(duration=settings["duration"], cfg_coef=settings["cfg_coef"],
                                top_k=settings["top_k"], top_p=settings["top_p"],
                                temperature=settings["temperature"],
                                extend_stride=settings["stride"])
    samples: list[dict[str, Any]] = []
    wavs: dict[str, torch.Tensor] = {}
    batch_size = max(1, int(settings["batch"]))
    started = time.time()
    for b in range(0, len(items), batch_size):
        chunk = items[b:b + batch_size]
        seed = int(settings["seed"]) + b
        gen = model.generate([it.description for it in chunk], seed=seed).cpu()  # [B, C, T]
        refs = [convert_audio(it.wav, it.sample_rate, sr, gen.shape[1]) for it in chunk]
        length = max(r.shape[-1] for r in refs)
        ref = torch.stack([torch.nn.functional.pad(r, (0, length - r.shape[-1])) for r in refs])
        batch = EvalBatch(gen, sr, ref, [it.description for it in chunk],
                          [it.bpm for it in chunk], [it.key for it in chunk])
        for metric in metrics.values():
            metric.update(batch)
        for i, (it, wav) in enumerate(zip(chunk, gen)):
            sid = sample_id(b + i, model_name, settings, it)
            bpm, key = _measure(wav, sr)
            row = {"id": sid, "source": it.name, "description": it.description,
                   "bpm": it.bpm, "key": it.key, "bpm_measured": bpm, "key_measured": key,
                   "seed": seed, "model": model_name, "settings": settings}
            sf.write(out / f"{sid}.wav", wav.numpy().T, sr, subtype="PCM_16")
            (out / f"{sid}.json").write_text(json.dumps(row, indent=2, default=str) + "\n")
            samples.append(row)
            wavs[sid] = wav
        done = min(b + batch_size, len(items))
        _log(f"[eval] {model_name}: {done}/{len(items)} samples generated and scored "
             f"({time.time() - started:.1f} s)")
    results: dict[str, Any] = {"metrics": list(metric_names), "model": model_name,
                               "settings": dict(settings, drift_window=drift_window)}
    values, complete = compute_metrics(metric_names, metrics, unavailable)
    results.update(values)
    for name in metric_names:
        _log(f"[eval] {name}: {results[name]}")
    if settings["duration"] > drift_window:
        results["drift"] = {sid: _drift(w, sr, drift_window, model.compression_model)
                            for sid, w in list(wavs.items())[:3]}
    results["complete"] = complete
    results["samples"] = samples
    results["skipped"], results["warnings"] = skipped or {}, warnings or []
    (out / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    md, _ = write_report(out, results, wavs, sr)
    _log(f"[eval] wrote {out / 'results.json'} and {md}"
         + ("" if complete else " (INCOMPLETE)"))
    return results


def _parse_sweep(specs: list[str]) -> list[tuple[str, list[Any]]]:
    sweeps = []
    for spec in specs:
        key, _, values = spec.partition("=")
        key = key.strip().replace("-", "_")
        if key not in SWEEP_KEYS or not values:
            raise ValueError(f"--sweep {spec!r}: write KEY=V1,V2 with KEY one of "
                             f"{sorted(SWEEP_KEYS)}.")
        try:
            sweeps.append((key, [SWEEP_KEYS[key](v) for v in values.split(",")]))
        except ValueError:
            raise ValueError(f"--sweep {spec!r}: values of {key} must be "
                             f"{SWEEP_KEYS[key].__name__}s.") from None
    return sweeps


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m audiocraft.eval",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--model", action="append", required=True,
                   help="pretrained name or folder; repeat to compare models")
    p.add_argument("--data", required=True, help="manifest (data.jsonl) or its folder")
    p.add_argument("--metrics", required=True, help="comma-separated metric names")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--num", type=int, default=None, help="items to evaluate (default all)")
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--cfg-coef", type=float, default=None)
    p.add_argument("--top-k", type=int, default=250)
    p.add_argument("--top-p", type=float, default=0.0)
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--stride", type=float, default=None, help="long-form extend stride (s)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--weights", default=None, help="metric weights folder "
                   "(default $AUDIOCRAFT_METRICS_DIR)")
    p.add_argument("--key-profiles", default="krumhansl",
                   help="key estimator profiles: krumhansl or synthetic")
    p.add_argument("--fad-inf", action="store_true",
                   help="also report FAD-infinity (the small-sample correction) for FAD metrics")
    p.add_argument("--drift-window", type=float, default=60.0,
                   help="seconds per drift window; longer pieces get drift figures")
    p.add_argument("--sweep", action="append", default=[],
                   help=f"KEY=V1,V2 with KEY in {sorted(SWEEP_KEYS)}; repeat for a grid")
    p.add_argument("--device", default="cpu")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns 0 (complete), 1 (incomplete) or 2 (bad input)."""
    args = build_parser().parse_args(argv)
    names = [n.strip() for n in args.metrics.split(",") if n.strip()]
    unknown = [n for n in names if n not in METRICS]
    if unknown or not names:
        print(f"error: unknown metric(s) {unknown or names}; known metrics: {METRICS.names()}",
              file=sys.stderr)
        return 2
    try:
        sweeps = _parse_sweep(args.sweep)
        if args.num is not None and args.num < 1:
            raise ValueError(f"--num must be >= 1, got {args.num}.")
        longest = max([args.duration, *[v for k, vs in sweeps if k == "duration" for v in vs]])
        items, skipped, warnings = load_items(args.data, args.num, longest)
    except (OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for w in warnings:
        _log(f"[eval] warning: {w}")
    if not items:
        print(f"error: no readable item in {args.data} ({len(skipped)} skipped).",
              file=sys.stderr)
        return 2
    _log(f"[eval] {len(items)} items from {args.data}"
         + (f", {len(skipped)} skipped" if skipped else ""))
    from .models import MusicGen
    base = {"duration": args.duration, "cfg_coef": args.cfg_coef, "top_k": args.top_k,
            "top_p": args.top_p, "temperature": args.temperature, "stride": args.stride,
            "seed": args.seed, "batch": args.batch}
    combos = [dict(zip([k for k, _ in sweeps], vals))
              for vals in itertools.product(*[vs for _, vs in sweeps])]
    runs: list[tuple[str, dict[str, Any]]] = []
    out = Path(args.out)
    options: dict[str, dict[str, Any]] = {"key": {"profiles": args.key_profiles}}
    if args.fad_inf:
        options.update({n: {"inf_correction": True} for n in names if n.startswith("fad_")})
    for model_name in args.model:
        try:
            model = MusicGen.get_pretrained(model_name, device=args.device)
        except (OSError, ValueError, RuntimeError, KeyError) as err:
            print(f"error: cannot load the model {model_name!r}: {err}", file=sys.stderr)
            return 2
        for combo in combos:
            settings = dict(base, **combo)
            label = "_".join([Path(model_name).name] + [f"{k}{v}" for k, v in combo.items()])
            run_out = out if len(args.model) * len(combos) == 1 else out / label
            _log(f"[eval] run {label}: {settings}")
            try:
                results = evaluate_model(model, model_name, items, names, settings, run_out,
                                         args.weights, options, args.drift_window,
                                         skipped, warnings, args.device)
            except ValueError as err:
                print(f"error: run {label}: {err}", file=sys.stderr)
                return 2
            runs.append((label, results))
    if len(runs) > 1:
        from .eval_report import write_sweep
        md, _ = write_sweep(out, runs)
        _log(f"[eval] wrote the comparison {md}")
    return 0 if all(r["complete"] for _, r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
