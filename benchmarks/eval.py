"""Evaluation speed: the offline metrics (codec FAD on the toy model's codec, tempo, key,
chroma cosine, SI-SNR, mel distance) on 100 clips of 10 s, as `python -m audiocraft.eval`
feeds them (batches of 4), without the generation.

    python benchmarks/eval.py [--clips 100] [--seconds 10] [--threads 2] [--generate 2]

The clips are synthetic pieces (the "generated" set and the reference set are drawn with
two seeds) at the toy model's sample rate. Prints the wall time of each metric and the
total; with ``--generate N`` also the toy model's generation time for N clips of
``--seconds`` (its per-clip time times ``--clips`` estimates a full run's generation).
"""

from __future__ import annotations

import argparse
import time

import torch

from audiocraft.data.synth import generate_piece
from audiocraft.metrics.evaluation import OFFLINE_METRICS, EvalBatch, EvalContext, build_metrics
from audiocraft.models import MusicGen


def clips(num: int, seconds: float, seed: int, sample_rate: int) -> list[tuple[torch.Tensor, dict]]:
    """``num`` synthetic pieces ``([1, T], labels)``."""
    out = []
    for i in range(num):
        audio, spec = generate_piece(i, seed, seconds, sample_rate)
        out.append((torch.from_numpy(audio).float()[None], spec.to_sidecar()))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clips", type=int, default=100)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--generate", type=int, default=0, help="also time N generations")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    model = MusicGen.get_pretrained("toy", device="cpu")
    sr = model.sample_rate
    t0 = time.perf_counter()
    gen, ref = clips(args.clips, args.seconds, 2000, sr), clips(args.clips, args.seconds, 3000, sr)
    print(f"rendered {2 * args.clips} clips of {args.seconds} s at {sr} Hz "
          f"({time.perf_counter() - t0:.1f} s, not counted)")
    metrics, _ = build_metrics(list(OFFLINE_METRICS), EvalContext(sr, model.compression_model))
    times = dict.fromkeys(metrics, 0.0)
    for b in range(0, args.clips, args.batch):
        g, r = gen[b:b + args.batch], ref[b:b + args.batch]
        batch = EvalBatch(torch.stack([w for w, _ in g]), sr, torch.stack([w for w, _ in r]),
                          [s["description"] for _, s in r], [s["bpm"] for _, s in r],
                          [s["key"] for _, s in r])
        for name, metric in metrics.items():
            t = time.perf_counter()
            metric.update(batch)
            times[name] += time.perf_counter() - t
    for name, metric in metrics.items():
        t = time.perf_counter()
        metric.compute()
        times[name] += time.perf_counter() - t
    print(f"offline metrics on {args.clips} clips of {args.seconds} s, {args.threads} threads:")
    for name, seconds in times.items():
        print(f"  {name:14s} {seconds:7.1f} s")
    print(f"  {'total':14s} {sum(times.values()):7.1f} s")
    if args.generate:
        model.set_generation_params(duration=args.seconds)
        t = time.perf_counter()
        model.generate([s["description"] for _, s in ref[:args.generate]], seed=0)
        took = time.perf_counter() - t
        print(f"toy model generation: {args.generate} clips of {args.seconds} s in {took:.1f} s "
              f"({took / args.generate:.1f} s per clip; x{args.clips} = "
              f"{took / args.generate * args.clips / 60:.1f} min for the whole set)")


if __name__ == "__main__":
    main()
