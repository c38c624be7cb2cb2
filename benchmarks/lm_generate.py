"""LM decoding speed at each precision, side by side in one run (random weights, CPU).

For the same model size and the same number of steps with guidance (a doubled batch of
2 rows per sample: conditional + null), it measures:
  - ours, LMModel.generate (KV cache, cross-attention keys/values once), at each
    precision of models/precision.py (float32, bfloat16, float16, int8);
  - transformers: MusicgenForCausalLM built from a config with random weights, stepping
    with its own KV cache (float32);
  - the machine's streaming memory bandwidth (the sum of a 1 GiB float32 tensor), and
    for each of ours the bound it sets: bandwidth / weight bytes one step reads, and the
    fraction of that bound reached.

    python benchmarks/lm_generate.py                       # musicgen-small sizes, 2 threads
    python benchmarks/lm_generate.py --precisions float32 int8 --steps 60 --batch 4
    python benchmarks/lm_generate.py --dim 256 --layers 4 --heads 4 --no-transformers
    python benchmarks/lm_generate.py --precisions float32 int8 --threads 1 2 --batch 1 4
    python benchmarks/lm_generate.py --toy --precisions float32 --threads 1 2 --batch 1 4
    python benchmarks/lm_generate.py --toy --precisions float32 --threads 1 --module-path --compile

`--module-path` adds float32 through the layers' modules (no `decode_step.layer_step`),
`--compile` float32 with `layer_step` compiled by torch.compile (neither is used by the
library: see README, Performance). `--threads` and `--batch` take several values: every
combination runs in the same process, one after the other. Prints, per precision,
thread count and batch: steps per second, samples per second (samples of STEPS steps)
and seconds of audio per second (all samples), the ratios to our float32 and to
transformers at the same threads and batch, and the fraction of the bandwidth bound.
Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import time

import torch

from audiocraft.models.lm import LMModel
from audiocraft.models.musicgen import MusicGen
from audiocraft.models.precision import PRECISIONS, apply_precision, decoder_weight_bytes
from audiocraft.modules import transformer as transformer_module
from audiocraft.modules.conditioners import (
    ConditionFuser,
    ConditioningAttributes,
    ConditioningProvider,
)
from audiocraft.modules.conditioners.lut import LUTConditioner
from audiocraft.modules.decode_step import layer_step
from audiocraft.modules.patterns import DelayedPatternProvider

FRAME_RATE = 50  # steps per second of audio of musicgen-small
TOY_FRAME_RATE = 25


def build_ours(dim: int, layers: int, heads: int, card: int) -> LMModel:
    """A MusicGen-shaped LM (pre-norm, no biases, cross-attention to a text condition,
    delay pattern over 4 codebooks, guidance 3) with random weights, in eval mode."""
    provider = ConditioningProvider({"description": LUTConditioner(256, 64, dim)})
    model = LMModel(DelayedPatternProvider(4, [0, 1, 2, 3]), provider,
                    ConditionFuser({"cross": ["description"]}), n_q=4, card=card, dim=dim,
                    num_heads=heads, num_layers=layers, norm_first=True, bias_ff=False,
                    bias_attn=False, bias_proj=False, cross_attention=True, cfg_coef=3.0)
    return model.eval()


def time_ours(model: LMModel, steps: int, batch: int = 1, sampling: bool = False) -> float:
    """Pattern steps per second of one generate call (steps = frames + 3)."""
    attrs = [ConditioningAttributes(text={"description": "a calm piano piece"})] * batch
    start = time.perf_counter()
    model.generate(None, attrs, max_gen_len=steps - 3, use_sampling=sampling, top_k=250)
    return steps / (time.perf_counter() - start)


def time_transformers(dim: int, layers: int, heads: int, card: int, steps: int,
                      batch: int = 1) -> float:
    from transformers import MusicgenDecoderConfig, MusicgenForCausalLM

    config = MusicgenDecoderConfig(vocab_size=card, hidden_size=dim, num_hidden_layers=layers,
                                   num_attention_heads=heads, ffn_dim=4 * dim, num_codebooks=4,
                                   max_position_embeddings=steps + 8)
    model = MusicgenForCausalLM(config).eval()
    rows = 2 * batch  # conditional + null
    encoder_states = torch.randn(rows, 8, dim)  # [2B, Tc, D]
    ids = torch.full((rows * 4, 1), card, dtype=torch.long)  # [2B * K, 1]
    past = None
    start = time.perf_counter()
    with torch.no_grad():
        for _ in range(steps):
            out = model(input_ids=ids, encoder_hidden_states=encoder_states,
                        past_key_values=past, use_cache=True)
            past = out.past_key_values
            ids = out.logits[:, -1].argmax(-1).reshape(rows * 4, 1)
    return steps / (time.perf_counter() - start)


def streaming_bandwidth(gib: float = 1.0, repeats: int = 5) -> float:
    """Bytes per second the machine streams from memory with the current torch threads:
    the best of summing a large float32 tensor (far larger than the caches) and a
    float32 matrix-vector product over it (torch's mv streams a little faster here)."""
    x = torch.ones(int(gib * 2**30) // 4)
    side = int(x.numel() ** 0.5)
    matrix, vector = x[:side * side].view(side, side), torch.ones(side)
    best = float("inf")
    for run in (lambda: x.sum(), lambda: torch.mv(matrix, vector)):
        run()
        for _ in range(repeats):
            start = time.perf_counter()
            run()
            best = min(best, time.perf_counter() - start)
    return x.numel() * 4 / best

def build_toy() -> LMModel:
    """The shipped toy model's LM (its real weights: dim 192, 6 layers, rotary positions)."""
    return MusicGen.get_pretrained("toy", device="cpu").lm.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dim", type=int, default=1024)
    parser.add_argument("--layers", type=int, default=24)
    parser.add_argument("--heads", type=int, default=16)
    parser.add_argument("--card", type=int, default=2048)
    parser.add_argument("--toy", action="store_true",
                        help="the shipped toy model's LM instead of a random one of --dim etc.")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch", type=int, nargs="+", default=[1],
                        help="samples (2 rows each); several give a sweep")
    parser.add_argument("--repeats", type=int, default=3, help="runs per entry (best kept)")
    parser.add_argument("--precisions", nargs="+", default=list(PRECISIONS),
                        choices=PRECISIONS)
    parser.add_argument("--sampling", action="store_true",
                        help="top-k 250 sampling instead of greedy (same cost but the draws)")
    parser.add_argument("--no-transformers", action="store_true")
    parser.add_argument("--module-path", action="store_true",
                        help="also float32 through the layers' modules (no fast decode step)")
    parser.add_argument("--compile", action="store_true",
                        help="also float32 with the decode layer step under torch.compile "
                             "(inductor, dynamic shapes; compiling takes minutes)")
    parser.add_argument("--threads", type=int, nargs="+", default=[2],
                        help="torch threads (default 2); several give a sweep")
    args = parser.parse_args()
    if args.toy:
        args.no_transformers = True  # transformers has no rotary MusicGen decoder
    bandwidth: dict[int, float] = {}
    for threads in args.threads:
        torch.set_num_threads(threads)
        bandwidth[threads] = streaming_bandwidth()
    rates: dict[tuple[str, int, int], float] = {}  # (name, threads, batch) -> steps/s
    bytes_per_step = {}
    variants = [(precision, "") for precision in args.precisions]
    if args.module_path:
        variants.append(("float32", "module path"))
    if args.compile:
        variants.append(("float32", "compiled"))
    compile_seconds = 0.0
    for precision, variant in variants:
        torch.manual_seed(0)
        base = build_toy() if args.toy else build_ours(args.dim, args.layers, args.heads,
                                                       args.card)
        model = apply_precision(base, precision)
        bytes_per_step[precision] = decoder_weight_bytes(model)
        model.transformer.fast_decode = variant != "module path"
        transformer_module.layer_step = (
            torch.compile(layer_step, dynamic=True) if variant == "compiled" else layer_step)
        name = f"ours {precision}" + (f" ({variant})" if variant else "")
        for threads in args.threads:
            torch.set_num_threads(threads)
            for batch in args.batch:
                start = time.perf_counter()
                time_ours(model, 8, batch)  # warm-up (and compilation)
                compile_seconds += time.perf_counter() - start if variant == "compiled" else 0
                rates[name, threads, batch] = max(
                    time_ours(model, args.steps, batch, args.sampling)
                    for _ in range(args.repeats))
        transformer_module.layer_step = layer_step
        del model
    if not args.no_transformers:
        for threads in args.threads:
            torch.set_num_threads(threads)
            for batch in args.batch:
                torch.manual_seed(0)
                rates["transformers float32", threads, batch] = max(
                    time_transformers(args.dim, args.layers, args.heads, args.card,
                                      args.steps, batch) for _ in range(args.repeats))
    size = "the toy model's LM" if args.toy else (
        f"model dim {args.dim}, {args.layers} layers, {args.heads} heads, card {args.card}")
    print(f"{size}; {args.steps} steps, guidance (2 rows per sample), "
          f"{'sampling' if args.sampling else 'greedy'}; best of {args.repeats}")
    for threads, value in bandwidth.items():
        print(f"streaming bandwidth, {threads} threads (best of sum / mv over 1 GiB): "
              f"{value / 1e9:.1f} GB/s")
    print(f"  {'':28s} {'thr':>3s} {'batch':>5s} {'steps/s':>8s} {'samples/s':>9s} "
          f"{'audio s/s':>9s} {'x ours f32':>10s} {'x transformers':>14s} {'GB/step':>8s} "
          f"{'bound steps/s':>13s} {'of bound':>8s}")
    frame_rate = TOY_FRAME_RATE if args.toy else FRAME_RATE
    for (name, threads, batch), rate in rates.items():
        precision = name.split()[1]
        base_rate = rates.get(("ours float32", threads, batch))
        hf = rates.get(("transformers float32", threads, batch))
        cells = [f"{threads:3d}", f"{batch:5d}", f"{rate:8.2f}",
                 f"{rate * batch / args.steps:9.3f}", f"{rate * batch / frame_rate:9.3f}",
                 f"{rate / base_rate:10.2f}" if base_rate else f"{'':>10s}",
                 f"{rate / hf:14.2f}" if hf else f"{'':>14s}"]
        if name.startswith("ours"):
            gb = bytes_per_step[precision] / 1e9
            bound = bandwidth[threads] / bytes_per_step[precision]
            cells += [f"{gb:8.3f}", f"{bound:13.1f}", f"{rate / bound:8.0%}"]
        print(f"  {name:28s} " + " ".join(cells))
    if args.compile:
        print(f"torch.compile: warm-up calls with compilation took {compile_seconds:.0f} s")
    print(f"samples/s: samples of {args.steps} steps made per second; audio s/s: seconds "
          f"of audio (at {frame_rate} steps/s) made per second, all samples together")


if __name__ == "__main__":
    main()
