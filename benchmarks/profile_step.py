"""Where the time of one decoding step goes (torch.profiler over a generate call).

Builds the benchmark LM of `lm_generate.py` (musicgen-small sizes by default, random
weights, batch 1 with guidance), prefills and warms it up, then profiles STEPS decoding
steps as `LMModel.generate` makes them (guided logits + top-k sampling, through the KV
cache) and sorts every operator into a few groups by its own (self) CPU time:

  - matrix products: the linear layers (float, bfloat16/float16 or int8 dynamic: the
    activation quantisation and the int8 product), and the output heads;
  - attention: scaled_dot_product_attention over the cache and cross-attention;
  - cache writes: copies into the KV cache (aten::copy_ / slice assignment);
  - sampling: softmax, top-k, multinomial, argmax, where;
  - other small ops: norms, GELU, adds, views, cat/stack, embeddings;
  - outside operators: wall time minus every operator's self time (Python, dispatch,
    module calls, the profiler's own cost).

    .venv/bin/python benchmarks/profile_step.py                      # float32, 2 threads
    .venv/bin/python benchmarks/profile_step.py --precision int8 --top 15
    .venv/bin/python benchmarks/profile_step.py --dim 256 --layers 4 --heads 8 --threads 1

First it times a step against the same step's matrix products alone (every linear layer
called on its own with inputs of the step's shape, interleaved with the steps so both
see the same load): the difference is what is left around the matrix products. Then it
prints ms per step per group and the TOP operators under the profiler, which adds a few
us per operator (much more with 2 threads), so "outside operators" is an upper bound.
Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import time
import typing as tp
from collections import defaultdict

import torch
from lm_generate import build_ours
from torch.profiler import ProfilerActivity, profile

from audiocraft.models.lm import LMModel
from audiocraft.models.precision import PRECISIONS, apply_precision
from audiocraft.models.sampling import sample_next_token
from audiocraft.modules.conditioners import ConditioningAttributes
from audiocraft.modules.kv_cache import KVCache

GROUPS: list[tuple[str, tuple[str, ...]]] = [
    ("matrix products", ("aten::mm", "aten::addmm", "aten::bmm", "aten::matmul",
                         "aten::linear", "quantized::linear_dynamic", "aten::_weight_int8",
                         "aten::quantize_per_tensor_dynamic", "aten::mv",
                         "aten::_linear", "quantized::")),
    ("attention", ("aten::scaled_dot_product_attention", "aten::_scaled_dot_product",
                   "aten::_fused_sdp", "aten::_flash_attention")),
    ("cache writes", ("aten::copy_", "aten::slice_scatter", "aten::index_put")),
    ("sampling", ("aten::softmax", "aten::_softmax", "aten::topk", "aten::multinomial",
                  "aten::argmax", "aten::where", "aten::sort", "aten::cumsum",
                  "aten::masked_fill", "aten::div", "aten::lt", "aten::scatter")),
]


def group_of(name: str) -> str:
    for group, prefixes in GROUPS:
        if name.startswith(prefixes):
            return group
    return "other small ops"


@torch.no_grad()
def decode_steps(model: LMModel, batch: int, steps: int,
                 ) -> tuple[list[tp.Any], tp.Callable[[], None]]:
    """Prefill one step for ``batch`` samples with guidance, and return a function that
    runs one more decoding step (guided logits of the last token, top-k sampling) as
    `LMModel.generate` does, without the pattern bookkeeping."""
    attrs = [ConditioningAttributes(text={"description": "a calm piano piece"})] * batch
    passes = model._guidance_passes(attrs, batch, False, None)
    for p in passes:
        p.cache = KVCache(extra_steps=steps + 8)
    token = torch.full((batch, model.n_q, 1), model.special_token_id, dtype=torch.long)
    state = {"token": token}

    def step() -> None:
        logits = model._guided_logits(state["token"], passes, model.cfg_coef, None)
        state["token"] = sample_next_token(logits, True, 1.0, 250, 0.0)

    step()  # the prefill: cross-attention keys/values and the caches
    return passes, step


def linear_calls(model: LMModel, rows: int) -> list[tp.Callable[[], torch.Tensor]]:
    """One step's matrix products alone, in the step's order: every linear layer of the
    decoder (the query part only of cross-attention's input projection) on an input of
    `rows` rows, at the model's precision."""
    dtype = next(model.linears.parameters(), torch.empty(0)).dtype
    dtype = dtype if dtype.is_floating_point else torch.float32
    calls: list[tp.Callable[[], torch.Tensor]] = []

    def add(module: tp.Callable[[torch.Tensor], torch.Tensor], features: int) -> None:
        x = torch.randn(rows, 1, features).to(dtype)
        calls.append(lambda: module(x))

    for layer in model.transformer.layers:
        for attn in (layer.self_attn, layer.cross_attention):
            if attn is None:
                continue
            name = "q" if attn.cross_attention else "qkv"
            if attn.in_proj_modules:
                add(attn.in_proj_modules[name], attn.dim)
            else:
                rows_w = attn.dim if attn.cross_attention else attn.in_proj_weight.shape[0]
                weight = attn.in_proj_weight[:rows_w]
                add(lambda x, w=weight: torch.nn.functional.linear(x, w), attn.dim)
            add(attn.out_proj, attn.dim)
        add(layer.linear1, layer.linear1.in_features if hasattr(layer.linear1, "in_features")
            else attn.dim)
        add(layer.linear2, 4 * attn.dim)
    for head in model.linears:
        add(head, attn.dim)
    return calls


def best_time(run: tp.Callable[[], tp.Any], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dim", type=int, default=1024)
    parser.add_argument("--layers", type=int, default=24)
    parser.add_argument("--heads", type=int, default=16)
    parser.add_argument("--card", type=int, default=2048)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch", type=int, default=1, help="samples (2 rows each)")
    parser.add_argument("--precision", default="float32", choices=PRECISIONS)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--top", type=int, default=12, help="operators listed")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = apply_precision(build_ours(args.dim, args.layers, args.heads, args.card),
                            args.precision)
    _, step = decode_steps(model, args.batch, 3 * args.steps)
    for _ in range(3):  # warm-up
        step()
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    plain = (time.perf_counter() - start) / args.steps
    with torch.no_grad():
        products = linear_calls(model, 2 * args.batch)

        def linears() -> None:
            for call in products:
                call()

        def steps() -> None:
            for _ in range(5):
                step()

        linears()
        # Interleaved, best of 5 each: the two figures see the same machine load.
        matmul, whole = float("inf"), float("inf")
        for _ in range(5):
            matmul = min(matmul, best_time(linears, 1))
            whole = min(whole, best_time(steps, 1) / 5)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        start = time.perf_counter()
        for _ in range(args.steps):
            step()
        wall = (time.perf_counter() - start) / args.steps
    events = prof.key_averages()
    groups: dict[str, float] = defaultdict(float)
    calls: dict[str, int] = defaultdict(int)
    for event in events:
        groups[group_of(event.key)] += event.self_cpu_time_total / 1e3 / args.steps  # ms
        calls[group_of(event.key)] += event.count
    inside = sum(groups.values())
    print(f"dim {args.dim}, {args.layers} layers, {args.heads} heads, card {args.card}, "
          f"{args.precision}, batch {args.batch} with guidance, {args.threads} threads, "
          f"{args.steps} steps (top-k 250 sampling)")
    print(f"step without the profiler: {plain * 1e3:.2f} ms ({1 / plain:.1f} steps/s); "
          f"with it: {wall * 1e3:.2f} ms")
    print(f"one step (best of 5 x 5 steps): {whole * 1e3:.2f} ms; its {len(products)} matrix "
          f"products alone: {matmul * 1e3:.2f} ms ({matmul / whole:.0%}); everything else: "
          f"{(whole - matmul) * 1e3:.2f} ms ({1 - matmul / whole:.0%})")
    print("profiled (the profiler slows every operator down; shares are indicative):")
    print(f"  {'group':22s} {'ms/step':>8s} {'share':>6s} {'ops/step':>8s}")
    for group in [g for g, _ in GROUPS] + ["other small ops"]:
        print(f"  {group:22s} {groups[group]:8.2f} {groups[group] / (wall * 1e3):6.0%} "
              f"{calls[group] / args.steps:8.0f}")
    outside = wall * 1e3 - inside
    print(f"  {'outside operators':22s} {outside:8.2f} {outside / (wall * 1e3):6.0%}")
    print(f"top {args.top} operators by self CPU time (ms per step, calls per step):")
    for event in sorted(events, key=lambda e: -e.self_cpu_time_total)[:args.top]:
        print(f"  {event.key:45s} {event.self_cpu_time_total / 1e3 / args.steps:8.3f} "
              f"{event.count / args.steps:8.1f}")


if __name__ == "__main__":
    main()
