"""LM decoding speed, measured side by side in one run (random weights, float32, CPU).

Compares, for the same model size and the same number of steps with guidance (a doubled
batch of 2 rows: conditional + null):
  - ours: LMModel.generate (preallocated KV cache, cross-attention keys/values once);
  - ours without cache: the whole sequence recomputed at every step;
  - transformers: MusicgenForCausalLM stepping with its own KV cache (same sizes).

    python benchmarks/lm_generate.py                   # musicgen-small sizes, 30 steps
    python benchmarks/lm_generate.py --dim 256 --layers 4 --heads 4 --steps 50

Prints steps per second and the ratios to ours. Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import time

import torch

from audiocraft.models.lm import LMModel
from audiocraft.modules.conditioners import (
    ConditionFuser,
    ConditioningAttributes,
    ConditioningProvider,
)
from audiocraft.modules.conditioners.lut import LUTConditioner
from audiocraft.modules.patterns import DelayedPatternProvider


def build_ours(dim: int, layers: int, heads: int, card: int) -> LMModel:
    provider = ConditioningProvider({"description": LUTConditioner(256, 64, dim)})
    model = LMModel(DelayedPatternProvider(4, [0, 1, 2, 3]), provider,
                    ConditionFuser({"cross": ["description"]}), n_q=4, card=card, dim=dim,
                    num_heads=heads, num_layers=layers, norm_first=True, bias_ff=False,
                    bias_attn=False, bias_proj=False, cross_attention=True, cfg_coef=3.0)
    return model.eval()


def time_ours(model: LMModel, steps: int) -> float:
    attrs = [ConditioningAttributes(text={"description": "a calm piano piece"})]
    start = time.perf_counter()
    model.generate(None, attrs, max_gen_len=steps - 3, use_sampling=False)  # steps = T + 3
    return steps / (time.perf_counter() - start)


def time_ours_no_cache(model: LMModel, steps: int) -> float:
    attrs = [ConditioningAttributes(text={"description": "a calm piano piece"})] * 2
    tensors = model.condition_provider(model.condition_provider.tokenize(attrs))
    seq = torch.full((2, 4, 1), model.card, dtype=torch.long)  # [2, K, 1]
    start = time.perf_counter()
    with torch.no_grad():
        for _ in range(steps):
            logits = model(seq, [], tensors)[:, :, -1]  # [2, K, card]
            seq = torch.cat([seq, logits.argmax(-1, keepdim=True)], dim=-1)
    return steps / (time.perf_counter() - start)


def time_transformers(dim: int, layers: int, heads: int, card: int, steps: int) -> float:
    from transformers import MusicgenDecoderConfig, MusicgenForCausalLM

    config = MusicgenDecoderConfig(vocab_size=card, hidden_size=dim, num_hidden_layers=layers,
                                   num_attention_heads=heads, ffn_dim=4 * dim, num_codebooks=4,
                                   max_position_embeddings=steps + 8)
    model = MusicgenForCausalLM(config).eval()
    encoder_states = torch.randn(2, 8, dim)  # [2, Tc, D]
    ids = torch.full((2 * 4, 1), card, dtype=torch.long)  # [B * K, 1]
    past = None
    start = time.perf_counter()
    with torch.no_grad():
        for _ in range(steps):
            out = model(input_ids=ids, encoder_hidden_states=encoder_states,
                        past_key_values=past, use_cache=True)
            past = out.past_key_values
            ids = out.logits[:, -1].argmax(-1).reshape(2 * 4, 1)
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dim", type=int, default=1024)
    parser.add_argument("--layers", type=int, default=24)
    parser.add_argument("--heads", type=int, default=16)
    parser.add_argument("--card", type=int, default=2048)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = build_ours(args.dim, args.layers, args.heads, args.card)
    time_ours(model, 8)  # warm-up
    ours = time_ours(model, args.steps)
    no_cache = time_ours_no_cache(model, args.steps)
    del model
    hf = time_transformers(args.dim, args.layers, args.heads, args.card, args.steps)
    print(f"model dim {args.dim}, {args.layers} layers, {args.heads} heads, {args.steps} steps, "
          f"batch 1 with guidance (2 rows), {torch.get_num_threads()} threads")
    for name, rate in [("ours (KV cache)", ours), ("ours, no cache", no_cache),
                       ("transformers", hf)]:
        print(f"  {name:18s} {rate:7.2f} steps/s   ours / this = {ours / rate:5.2f}")


if __name__ == "__main__":
    main()
