"""LM training throughput (tokens per second) of the base recipe on this machine's CPU.

    python benchmarks/train.py [--batch 2] [--seconds 2] [--steps 3] [--recipe musicgen/base]

One training step = conditions + teacher-forced predictions + masked cross-entropy per
codebook + backward + AdamW step, as in `MusicGenSolver`, on random codes (the frozen
codec's encode is left out: it is the same for every LM). A token is one code of one
codebook. Measured side by side in one run: our LM in float32, the same LM under
bfloat16 autocast (mixed precision), and transformers' `MusicgenForCausalLM` of the same
size in float32, timed in turns (medians); the ratios are printed.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from audiocraft.models import builders
from audiocraft.modules.conditioners import ConditioningAttributes
from audiocraft.solvers.musicgen import masked_cross_entropy
from audiocraft.train import CONFIG_DIR


def _time_interleaved(variants: dict[str, Callable[[], None]], steps: int,
                      warmup: int) -> dict[str, float]:
    """Median seconds per step of each variant, timed in turns (one step of each, then
    again), so that a change in machine load affects every variant alike."""
    for step in variants.values():
        for _ in range(warmup):
            step()
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(steps):
        for name, step in variants.items():
            start = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - start)
    return {name: sorted(t)[len(t) // 2] for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="musicgen/base")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    # T5 weights are not available offline: the lookup-table text conditioner stands in
    # (its cost is negligible next to the transformer either way).
    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("config", overrides=[f"solver={args.recipe}",
                                           "conditioner=text2music_lut"])
    OmegaConf.set_struct(cfg, False)
    torch.manual_seed(0)
    lm = builders.get_lm_model(cfg).train()
    K, card, dim = lm.n_q, lm.card, cfg.transformer_lm.dim
    T = int(args.seconds * 50)  # 50 frames per second (the 32 kHz codec)
    B = args.batch
    codes = torch.randint(0, card, (B, K, T))  # [B, K, T]
    attributes = [ConditioningAttributes(text={"description": "upbeat rock with drums"})
                  for _ in range(B)]
    opt = torch.optim.AdamW(lm.parameters(), lr=1e-4, betas=(0.9, 0.95), weight_decay=0.1)

    def ours(autocast: bool) -> Callable[[], None]:
        def step() -> None:
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
                out = lm.compute_predictions(codes, [], lm.prepare_conditions(attributes))
                loss = masked_cross_entropy(out.logits, codes, out.mask).ce
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(lm.parameters(), 1.0)
            opt.step()
        return step

    n_params = sum(p.numel() for p in lm.parameters())
    tokens = B * K * T
    print(f"recipe {args.recipe}: dim {dim}, {cfg.transformer_lm.num_layers} layers, "
          f"{n_params / 1e6:.1f}M parameters; batch {B} x {K} codebooks x {T} frames "
          f"= {tokens} tokens per step; {torch.get_num_threads()} threads")
    variants = {"ours float32": ours(False), "ours bf16 autocast": ours(True)}

    try:
        from transformers import MusicgenDecoderConfig, MusicgenForCausalLM
    except ImportError:  # pragma: no cover
        MusicgenForCausalLM = None
    if MusicgenForCausalLM is not None:
        hf_cfg = MusicgenDecoderConfig(
            vocab_size=card, num_codebooks=K, hidden_size=dim,
            num_hidden_layers=cfg.transformer_lm.num_layers,
            num_attention_heads=cfg.transformer_lm.num_heads,
            ffn_dim=cfg.transformer_lm.hidden_scale * dim, max_position_embeddings=4 * T + 8,
            activation_function="gelu", dropout=0.0, attention_dropout=0.0,
            activation_dropout=0.0, pad_token_id=card, bos_token_id=card)
        hf = MusicgenForCausalLM(hf_cfg).train()
        hf_opt = torch.optim.AdamW(hf.parameters(), lr=1e-4, betas=(0.9, 0.95),
                                   weight_decay=0.1)
        input_ids = torch.cat([torch.full((B, K, 1), card), codes[..., :-1]], -1)  # [B, K, T]
        encoder_hidden = torch.randn(B, 8, dim)  # text states, as cross-attention input

        def hf_step() -> None:
            out = hf(input_ids=input_ids.reshape(B * K, T),
                     encoder_hidden_states=encoder_hidden,
                     labels=codes.transpose(1, 2))  # labels [B, T, K]
            hf_opt.zero_grad()
            out.loss.backward()
            torch.nn.utils.clip_grad_norm_(hf.parameters(), 1.0)
            hf_opt.step()

        variants["transformers MusicgenForCausalLM float32"] = hf_step

    results = _time_interleaved(variants, args.steps, args.warmup)
    base = results["ours float32"]
    for name, seconds in results.items():
        print(f"{name:42s} {seconds:7.3f} s/step  {tokens / seconds:9.1f} tokens/s  "
              f"ratio to ours float32: {base / seconds:5.2f}x")


if __name__ == "__main__":
    main()
