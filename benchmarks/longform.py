"""Long-form generation: cost per generated second and peak memory vs the number of windows.

One model (random weights, seed 0): the 32 kHz music codec (64 filters, ratios 8,5,4,4,
2 LSTM layers, 4 x 2048 codebooks, 50 Hz) and a small MusicGen LM over it (dim 256,
4 layers, 8 heads, delay pattern, lookup-table text conditioner, guidance coef 3), with a
window of WINDOW s and a stride of STRIDE s. For 1, 2, 5 and 10 windows it measures, each
in a fresh process (so peak memory is that run's own): wall seconds per generated second
(and CPU seconds, steadier on a shared machine) and the peak resident memory
(ru_maxrss), total and above the footprint after loading and a warm-up. Everything runs
side by side in one invocation and prints the ratios to the 1-window run.

Goals: per-second cost flat (at most 1.1 x WINDOW/STRIDE x the 1-window cost: every
later window adds STRIDE s of audio for at most a window's work) and peak memory within
10% from the shortest piece to the longest (finished windows are decoded by the
streaming decoder and leave the model).

    .venv/bin/python benchmarks/longform.py            # about 4 minutes on 2 CPU cores
    .venv/bin/python benchmarks/longform.py --windows 1 2 --threads 1

With ``--piece SECONDS`` it instead makes one piece of that length (same model, same
seed) with and without overlap (``LongformGenerator.overlap``: the codec decodes
finished windows in the caller while the LM makes the next window in a worker thread),
each in a fresh process, and prints the end-to-end real-time factor (wall seconds per
second of audio), the samples made per second (``--batch``) and the peak memory:

    .venv/bin/python benchmarks/longform.py --piece 60 --threads 2
    .venv/bin/python benchmarks/longform.py --piece 60 --threads 2 --batch 4 --precision int8
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

WINDOW = 5.0  # seconds
STRIDE = 3.0  # seconds
ROOT = Path(__file__).resolve().parent.parent


def build_model(window: float):
    """The benchmark model (deterministic: seed 0)."""
    import torch
    from omegaconf import DictConfig, OmegaConf

    from audiocraft.models import builders
    from audiocraft.models.musicgen import MusicGen

    encodec_dir = ROOT / "config" / "model" / "encodec"
    parts = [OmegaConf.load(encodec_dir / f"{name}.yaml")
             for name in ("default", "encodec_large_nq4_s640")]
    codec_cfg = OmegaConf.merge(*parts, {"sample_rate": 32000, "channels": 1, "device": "cpu"})
    assert isinstance(codec_cfg, DictConfig)
    codec_cfg.pop("defaults", None)
    lm_cfg = OmegaConf.create(builders.DEBUG_LM_CFG)
    lm_cfg.transformer_lm.update(dim=256, num_heads=8, num_layers=4, hidden_scale=4, card=2048)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        codec: Any = builders.get_compression_model(codec_cfg).eval()
        with torch.no_grad():  # diverse codebooks, as a trained codec would have
            codec.quantizer.init_codebooks_(codec.encoder(torch.randn(2, 1, 32000)))
        lm = builders.get_lm_model(lm_cfg).eval()
    return MusicGen("benchmark", codec, lm, max_duration=window)


def peak_rss_mb() -> float:
    # ru_maxrss is in kilobytes on Linux (bytes on macOS).
    scale = 1 / 1024 if sys.platform != "darwin" else 1 / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def overlap_child(duration: float, overlap: bool, threads: int, lm_threads: int | None,
                  batch: int, precision: str) -> None:
    import torch

    from audiocraft.models.longform import LongformGenerator
    from audiocraft.models.precision import apply_precision

    torch.set_num_threads(threads)
    model = build_model(WINDOW)
    apply_precision(model.lm, precision)
    LongformGenerator.overlap = overlap
    LongformGenerator.lm_threads = lm_threads
    model.set_generation_params(duration=0.5)
    model.generate(["warm up"] * batch, seed=0)
    baseline = peak_rss_mb()
    model.set_generation_params(duration=duration, extend_stride=STRIDE)
    start = time.perf_counter()
    wav = model.generate(["an upbeat synth tune with drums"] * batch, seed=0)
    elapsed = time.perf_counter() - start
    assert wav.shape[-1] == int(duration * model.sample_rate)
    print(json.dumps({"overlap": overlap, "seconds": elapsed, "peak_mb": peak_rss_mb(),
                      "baseline_mb": baseline, "checksum": float(wav.double().abs().sum())}))


def compare_overlap(args: argparse.Namespace) -> None:
    print(f"one {args.piece:g} s piece, batch {args.batch}, LM {args.precision}, window "
          f"{WINDOW} s, stride {STRIDE} s, torch threads {args.threads} (LM worker "
          f"{args.lm_threads or args.threads}); fresh process per run, best of "
          f"{args.repeats}")
    rows = {}
    for _ in range(args.repeats):
        for overlap in (False, True):
            command = [sys.executable, __file__, "--overlap-child", str(int(overlap)),
                       "--piece", str(args.piece), "--threads", str(args.threads),
                       "--batch", str(args.batch), "--precision", args.precision]
            if args.lm_threads:
                command += ["--lm-threads", str(args.lm_threads)]
            out = subprocess.run(command, check=True, capture_output=True, text=True)
            run = json.loads(out.stdout.strip().splitlines()[-1])
            best = rows.get(overlap)
            if best is None or run["seconds"] < best["seconds"]:
                rows[overlap] = run
    for overlap, run in sorted(rows.items()):
        rtf = run["seconds"] / args.piece
        print(f"  overlap {'on ' if overlap else 'off'}: {run['seconds']:6.1f} s, real-time "
              f"factor {rtf:.3f}, {args.batch * args.piece / run['seconds']:.2f} audio s "
              f"per s ({args.batch} samples), peak {run['peak_mb']:.0f} MB "
              f"({run['peak_mb'] - run['baseline_mb']:+.0f} MB over warm-up)")
    same = rows[False]["checksum"] == rows[True]["checksum"]
    print(f"  overlap / no overlap time: {rows[True]['seconds'] / rows[False]['seconds']:.2f}; "
          f"same audio: {same}")


def child(windows: int, threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
    model = build_model(WINDOW)
    duration = WINDOW + (windows - 1) * STRIDE
    model.set_generation_params(duration=0.5)
    model.generate(["warm up"], seed=0)
    baseline = peak_rss_mb()
    model.set_generation_params(duration=duration, extend_stride=STRIDE)
    start, start_cpu = time.perf_counter(), time.process_time()
    wav = model.generate(["an upbeat synth tune with drums"], seed=0)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    assert wav.shape[-1] == int(duration * model.sample_rate)
    print(json.dumps({"windows": windows, "duration": duration, "seconds": elapsed,
                      "cpu_seconds": cpu, "peak_mb": peak_rss_mb(), "baseline_mb": baseline}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--windows", type=int, nargs="+", default=[1, 2, 5, 10])
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run")
    parser.add_argument("--repeats", type=int, default=2, help="rounds over all durations")
    parser.add_argument("--piece", type=float, default=None,
                        help="compare overlap on/off on one piece of this many seconds")
    parser.add_argument("--batch", type=int, default=1, help="samples (--piece only)")
    parser.add_argument("--precision", default="float32", help="LM precision (--piece only)")
    parser.add_argument("--lm-threads", type=int, default=None,
                        help="torch threads of the LM worker when overlapping")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--overlap-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, args.threads)
        return
    if args.overlap_child is not None:
        overlap_child(args.piece, bool(args.overlap_child), args.threads, args.lm_threads,
                      args.batch, args.precision)
        return
    if args.piece is not None:
        compare_overlap(args)
        return
    print(f"window {WINDOW} s, stride {STRIDE} s, torch threads {args.threads}; one fresh "
          f"process per run, {args.repeats} rounds over all durations (fastest times and "
          f"median peak per duration: the CPU is shared, so CPU time is the steadier figure)")
    runs: dict[int, list[dict]] = {windows: [] for windows in args.windows}
    for _ in range(args.repeats):
        for windows in args.windows:
            out = subprocess.run(
                [sys.executable, __file__, "--child", str(windows), "--threads",
                 str(args.threads)], check=True, capture_output=True, text=True)
            runs[windows].append(json.loads(out.stdout.strip().splitlines()[-1]))
    rows = []
    for windows in args.windows:
        peaks = sorted(runs[windows], key=lambda run: run["peak_mb"])
        middle = peaks[len(peaks) // 2]
        row = {"windows": windows, "duration": runs[windows][0]["duration"],
               "seconds": min(run["seconds"] for run in runs[windows]),
               "cpu_seconds": min(run["cpu_seconds"] for run in runs[windows]),
               "peak_mb": middle["peak_mb"], "baseline_mb": middle["baseline_mb"]}
        rows.append(row)
        print(f"  {windows:2d} windows ({row['duration']:5.1f} s): "
              f"{row['seconds'] / row['duration']:.3f} wall s and "
              f"{row['cpu_seconds'] / row['duration']:.3f} CPU s per generated s, "
              f"peak {row['peak_mb']:.0f} MB ({row['peak_mb'] - row['baseline_mb']:+.0f} MB "
              f"over the {row['baseline_mb']:.0f} MB after warm-up)", flush=True)
    first = rows[0]
    unit = first["seconds"] / first["duration"]
    cpu_unit = first["cpu_seconds"] / first["duration"]
    bound = WINDOW / STRIDE
    print(f"\nratios to the {first['windows']}-window run (cost goal: <= 1.1 x "
          f"window/stride = {1.1 * bound:.2f}; memory goal: <= 1.10)")
    for row in rows:
        cost = row["seconds"] / row["duration"] / unit
        cpu_cost = row["cpu_seconds"] / row["duration"] / cpu_unit
        memory = row["peak_mb"] / first["peak_mb"]
        print(f"  {row['windows']:2d} windows: cost per second x{cost:.2f} wall, "
              f"x{cpu_cost:.2f} CPU ({cpu_cost / bound:.2f} of window/stride), "
              f"peak memory x{memory:.3f}")


if __name__ == "__main__":
    main()
