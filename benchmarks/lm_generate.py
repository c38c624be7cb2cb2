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

Prints steps per second (and samples x steps per second), the ratios to our float32 and
to transformers, and the bandwidth fractions. Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import time

import torch

from audiocraft.models.lm import LMModel
from audiocraft.models.precision import PRECISIONS, apply_precision, decoder_weight_bytes
from audiocraft.modules.conditioners import (
    ConditionFuser,
    ConditioningAttributes,
    ConditioningProvider,
)
from audiocraft.modules.conditioners.lut import LUTConditioner
from audiocraft.modules.patterns import DelayedPatternProvider


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

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dim", type=int, default=1024)
    parser.add_argument("--layers", type=int, default=24)
    parser.add_argument("--heads", type=int, default=16)
    parser.add_argument("--card", type=int, default=2048)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch", type=int, default=1, help="samples (2 rows each)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per entry (best kept)")
    parser.add_argument("--precisions", nargs="+", default=list(PRECISIONS),
                        choices=PRECISIONS)
    parser.add_argument("--sampling", action="store_true",
                        help="top-k 250 sampling instead of greedy (same cost but the draws)")
    parser.add_argument("--no-transformers", action="store_true")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    bandwidth = streaming_bandwidth()
    rates, bytes_per_step = {}, {}
    for precision in args.precisions:
        torch.manual_seed(0)
        model = apply_precision(build_ours(args.dim, args.layers, args.heads, args.card),
                                precision)
        bytes_per_step[precision] = decoder_weight_bytes(model)
        time_ours(model, 8, args.batch)  # warm-up
        rates[f"ours {precision}"] = max(time_ours(model, args.steps, args.batch, args.sampling)
                                         for _ in range(args.repeats))
        del model
    if not args.no_transformers:
        torch.manual_seed(0)
        rates["transformers float32"] = max(
            time_transformers(args.dim, args.layers, args.heads, args.card, args.steps,
                              args.batch) for _ in range(args.repeats))
    print(f"model dim {args.dim}, {args.layers} layers, {args.heads} heads, card {args.card}; "
          f"{args.steps} steps, batch {args.batch} with guidance ({2 * args.batch} rows), "
          f"{'sampling' if args.sampling else 'greedy'}, {torch.get_num_threads()} threads; "
          f"best of {args.repeats}")
    print(f"streaming bandwidth (best of sum / mv over 1 GiB): {bandwidth / 1e9:.1f} GB/s")
    base = rates.get("ours float32")
    hf = rates.get("transformers float32")
    print(f"  {'':22s} {'steps/s':>8s} {'samples*steps/s':>16s} {'x ours f32':>10s} "
          f"{'x transformers':>14s} {'GB/step':>8s} {'bound steps/s':>13s} {'of bound':>8s}")
    for name, rate in rates.items():
        precision = name.split()[-1]
        cells = [f"{rate:8.2f}", f"{rate * args.batch:16.2f}",
                 f"{rate / base:10.2f}" if base else f"{'':>10s}",
                 f"{rate / hf:14.2f}" if hf else f"{'':>14s}"]
        if name.startswith("ours"):
            gb = bytes_per_step[precision] / 1e9
            bound = bandwidth / bytes_per_step[precision]
            cells += [f"{gb:8.3f}", f"{bound:13.1f}", f"{rate / bound:8.0%}"]
        print(f"  {name:22s} " + " ".join(cells))


if __name__ == "__main__":
    main()
