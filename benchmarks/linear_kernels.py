"""One decoding step's matrix products alone, through each CPU kernel torch offers.

The 148 linear layers of a musicgen-small step (per layer: packed q/k/v, attention
output, cross-attention query and output, the two feed-forward layers; then the 4
heads), on inputs of 2 rows (batch 1 with guidance), random weights, timed as:

  - float32 and bfloat16 `F.linear` (bfloat16 activations and weights);
  - int8 dynamic quantisation (`quantize_dynamic`, fbgemm: what `precision="int8"` uses);
  - int8 weight-only `torch.ops.aten._weight_int8pack_mm` (per-channel scales), with
    float32 and with bfloat16 activations.

    .venv/bin/python benchmarks/linear_kernels.py --threads 1

Prints ms and steps/s of the products alone, and the GB/s of weights each streams;
every kernel is timed in turns in the same run (best of 5). Not a test.
"""

from __future__ import annotations

import argparse
import time
import typing as tp
import warnings
from functools import partial

import torch
from torch import nn
from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

STEP = [(3072, 1024), (1024, 1024), (1024, 1024), (1024, 1024), (4096, 1024),
        (1024, 4096)] * 24 + [(2048, 1024)] * 4  # (out, in) features of one step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x = {n: torch.randn(2, n) for n in (1024, 4096)}  # [rows, in]
    xb = {n: v.to(torch.bfloat16) for n, v in x.items()}
    f32, bf16, dynamic, int8 = [], [], [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for out_f, in_f in STEP:
            linear = nn.Linear(in_f, out_f, bias=False)
            weight = linear.weight.detach()
            f32.append(weight.clone())
            bf16.append(weight.to(torch.bfloat16))
            dynamic.append(quantize_dynamic(nn.Sequential(linear),
                                            {nn.Linear: per_channel_dynamic_qconfig})[0])
            scale = weight.abs().amax(1) / 127  # [out]
            int8.append((torch.round(weight / scale[:, None]).to(torch.int8), scale))
    F = nn.functional
    mm = torch.ops.aten._weight_int8pack_mm
    calls: dict[str, list[tp.Callable[[], torch.Tensor]]] = {
        "float32 F.linear": [partial(F.linear, x[w.shape[1]], w) for w in f32],
        "bfloat16 F.linear": [partial(F.linear, xb[w.shape[1]], w) for w in bf16],
        "int8 dynamic (fbgemm)": [partial(m, x[w.shape[1]]) for m, w in zip(dynamic, f32)],
        "int8 weight-only, float32 acts": [partial(mm, x[w.shape[1]], w, s) for w, s in int8],
        "int8 weight-only, bfloat16 acts": [partial(mm, xb[w.shape[1]], w, s.to(torch.bfloat16))
                                            for w, s in int8],
    }
    sizes = {"float32 F.linear": 4, "bfloat16 F.linear": 2}  # bytes per weight (int8: 1)
    best = dict.fromkeys(calls, float("inf"))
    for name in calls:
        for call in calls[name]:  # warm-up
            call()
    for _ in range(args.repeats):
        for name, step in calls.items():
            start = time.perf_counter()
            for call in step:
                call()
            best[name] = min(best[name], time.perf_counter() - start)
    params = sum(a * b for a, b in STEP)
    print(f"one musicgen-small step's {len(STEP)} products ({params / 1e6:.0f} M weights), "
          f"2 rows, {args.threads} thread(s), best of {args.repeats}")
    for name, t in best.items():
        size = sizes.get(name, 1)
        print(f"  {name:34s} {t * 1e3:8.2f} ms {1 / t:7.1f} steps/s "
              f"{params * size / t / 1e9:6.1f} GB/s  x float32 {best['float32 F.linear'] / t:5.2f}")


if __name__ == "__main__":
    main()
