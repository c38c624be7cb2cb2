"""Measure the key profiles of the synthetic music, and how well each set of profiles reads
the keys of held-out pieces.

    python scripts/fit_key_profiles.py [--num 1536] [--seed 0] [--sample-rate 8000]
        [--check-num 256] [--check-seed 5000]

Renders ``--num`` pieces of ``--seconds`` (seed ``--seed``: the training pieces of the toy
model), measures the salience profile of each (``audiocraft.metrics.music``) and averages
them per mode, rotated to their tonic: the ``SYNTH_MAJOR`` / ``SYNTH_MINOR`` constants of
``audiocraft/metrics/music.py`` come from the defaults. Then scores the key estimator with
those profiles and with the Krumhansl-Kessler ones on ``--check-num`` held-out pieces
(seed ``--check-seed``): share of modes and keys read right, per mode. The measuring and
scoring are in :mod:`audiocraft.metrics.synth_scores`.
"""

from __future__ import annotations

import argparse
import sys

import torch

from audiocraft.metrics.music import KEY_PROFILES, fit_key_profiles
from audiocraft.metrics.synth_scores import key_accuracy, labelled_profiles


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--num", type=int, default=1536, help="pieces to measure")
    parser.add_argument("--seed", type=int, default=0, help="seed of those pieces")
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--sample-rate", type=int, default=8000)
    parser.add_argument("--check-num", type=int, default=256, help="held-out pieces")
    parser.add_argument("--check-seed", type=int, default=5000)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    if args.num < 2 or args.check_num < 1:
        parser.error("--num must be at least 2 and --check-num at least 1.")
    if args.threads:
        torch.set_num_threads(args.threads)

    major, minor = fit_key_profiles(*labelled_profiles(
        args.num, args.seed, args.seconds, args.sample_rate))
    for name, ref in (("SYNTH_MAJOR", major), ("SYNTH_MINOR", minor)):
        print(f"{name} = np.array([{', '.join(f'{v:.3f}' for v in ref)}])")
    held_out = labelled_profiles(args.check_num, args.check_seed, args.seconds,
                                 args.sample_rate)
    print(f"held-out pieces: {args.check_num} (seed {args.check_seed}), read right:")
    for name, refs in (("measured here", (major, minor)),
                       ("synthetic (shipped)", KEY_PROFILES["synthetic"]),
                       ("krumhansl", KEY_PROFILES["krumhansl"])):
        acc = key_accuracy(*held_out, refs)
        print(f"  {name:20s} " + ", ".join(f"{k} {v:.1%}" for k, v in acc.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
