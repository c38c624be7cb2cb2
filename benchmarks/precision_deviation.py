"""How far each lossy precision moves the LM from float32 (random weights, CPU).

For a MusicGen-shaped LM (musicgen-small sizes by default, random weights, seed 0) and a
batch of 1 with guidance (coef 3), the float32 LM decodes ``--steps`` frames greedily;
the same pattern sequence is then fed step by step (KV cache, as in sampling) to the LM
converted to each precision, and ``models.precision.measure_deviation`` reports:
  - logit error: RMS of the guided-logit difference over the RMS of float32's logits,
    and the largest absolute difference;
  - greedy-token agreement: the share of predicted codes (frames x codebooks) whose
    argmax is float32's greedy token.

    python benchmarks/precision_deviation.py                  # 500 steps, about 4 minutes
    python benchmarks/precision_deviation.py --dim 256 --layers 4 --steps 100

Not a test: nothing is asserted (tests/models/test_precision.py bounds tiny models).
"""

from __future__ import annotations

import argparse
import copy
import time

import torch
from lm_generate import build_ours

from audiocraft.models.precision import PRECISIONS, apply_precision, measure_deviation
from audiocraft.modules.conditioners import ConditioningAttributes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dim", type=int, default=1024)
    parser.add_argument("--layers", type=int, default=24)
    parser.add_argument("--heads", type=int, default=16)
    parser.add_argument("--card", type=int, default=2048)
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    reference = build_ours(args.dim, args.layers, args.heads, args.card)
    conditions = [ConditioningAttributes(text={"description": "a calm piano piece"})]
    print(f"model dim {args.dim}, {args.layers} layers, {args.heads} heads, card "
          f"{args.card}, random weights; {args.steps} frames of float32 greedy decoding, "
          f"batch 1 with guidance 3")
    print(f"  {'precision':10s} {'logit error (rel. RMS)':>22s} {'max |diff|':>10s} "
          f"{'greedy agreement':>16s}")
    reference_logits = None
    for precision in PRECISIONS[1:]:
        start = time.perf_counter()
        lm = apply_precision(copy.deepcopy(reference), precision)
        deviation, reference_logits = measure_deviation(reference, lm, conditions, args.steps,
                                                        reference_logits)
        print(f"  {precision:10s} {deviation.logit_error:22.4f} "
              f"{deviation.max_logit_error:10.3f} {deviation.agreement:16.1%}"
              f"   ({time.perf_counter() - start:.0f} s)", flush=True)
        del lm


if __name__ == "__main__":
    main()
