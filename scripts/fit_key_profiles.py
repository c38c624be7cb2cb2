"""Measure the key profiles of the synthetic music, and how well each set of profiles reads
the keys of held-out pieces.

    python scripts/fit_key_profiles.py [--num 1536] [--seed 0] [--sample-rate 8000]
        [--check-num 256] [--check-seed 5000]

Renders ``--num`` pieces of ``--seconds`` (seed ``--seed``: the training pieces of the toy
model), measures the salience profile of each (``audiocraft.metrics.music``) and averages
them per mode, rotated to their tonic: the ``SYNTH_MAJOR`` / ``SYNTH_MINOR`` constants of
``audiocraft/metrics/music.py`` come from the defaults. Then scores the key estimator with
those profiles and with the Krumhansl-Kessler ones on ``--check-num`` held-out pieces
(seed ``--check-seed``): share of modes and keys read right, per mode.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import torch

from audiocraft.data.synth import generate_piece
from audiocraft.metrics.music import (
    KEY_PROFILES,
    fit_key_profiles,
    key_scores,
    normalize_tonic,
    salience_profile,
)


def labelled_profiles(num: int, seed: int, seconds: float, sample_rate: int
                      ) -> tuple[np.ndarray, list[str], list[str]]:
    """Salience profiles ``[num, 12]`` of rendered pieces, their tonics and modes."""
    profiles, tonics, modes = [], [], []
    for i in range(num):
        audio, spec = generate_piece(i, seed, seconds, sample_rate)
        profiles.append(salience_profile(torch.from_numpy(audio).float(), sample_rate))
        tonics.append(normalize_tonic(spec.tonic))
        modes.append(spec.mode)
    return np.stack(profiles), tonics, modes


def key_accuracy(profiles: np.ndarray, tonics: list[str], modes: list[str],
                 refs: str | tuple[np.ndarray, np.ndarray]) -> dict[str, float]:
    """Share of pieces whose mode / key (tonic and mode) the estimator reads right, and of
    the major and of the minor pieces whose mode it reads right."""
    mode_ok, key_ok = [], []
    for p, tonic, mode in zip(profiles, tonics, modes):
        best = key_scores(p, refs)[0]
        mode_ok.append(best.mode == mode)
        key_ok.append(best.mode == mode and best.tonic == tonic)
    mode_ok_arr, modes_arr = np.array(mode_ok), np.array(modes)
    return {
        "mode": float(mode_ok_arr.mean()),
        "key": float(np.mean(key_ok)),
        "major pieces: mode": float(mode_ok_arr[modes_arr == "major"].mean()),
        "minor pieces: mode": float(mode_ok_arr[modes_arr == "minor"].mean()),
    }


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
