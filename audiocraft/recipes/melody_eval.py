"""How closely a melody model follows the melody it is given: chroma cosine similarity
(``audiocraft.metrics.chroma_cosine``, the reference metric) of its generations to the
melody, against a no-melody baseline (the evaluation behind
``scripts/eval_toy_melody.py``, its command line).

    python scripts/eval_toy_melody.py [--model toy-melody] [--baseline-model toy]
        [--num 64] [--seed 1000] [--seconds 6] [--threads 2] [--json outputs/melody_eval.json]

Held-out synthetic pieces (seed ``--seed``, never seen in training) are rendered with
their melody stem (``synth.generate_piece_stems``). Each row is a set of clips scored
against the pieces' melody stems (frame-wise cosine of 12-bin chromagrams, averaged):

- ``melody given``: ``generate_with_chroma(captions, melody stems)``;
- ``melody given as the full mix``: the same with each piece's whole mix (drums, bass,
  chords and melody) as the melody, as a user without stems would give it;
- ``same model, no melody`` (baseline): ``generate(captions)``: the caption's key alone;
- ``BASELINE-MODEL, no melody`` (baseline): another model from the captions (``toy``);
- ``other pieces' melodies`` (baseline): the ``melody given`` clips scored against the
  melody of another piece (the next one): what the similarity is worth by chance;
- ``real audio``: the pieces' own mixes: the ceiling with drums, bass and chords around
  the melody.

The caption names the melody's key, so the baselines already share its pitch classes in
part; the gap to ``melody given`` is what the chroma conditioning adds. Each row gives the
standard error of its mean over the clips, and the comparison below the table pairs the
clips of ``melody given`` with those of ``same model, no melody`` (the same caption and
seed): the mean gain, its standard error and the share of clips that gain. Tempo within 4%
and key (the synthetic music's estimators) of each row are given too: the melody must
not cost the caption. Everything is seeded.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any

import torch

from ..data.synth import PieceSpec, generate_piece_stems
from ..metrics.chroma_cosine import ChromaCosineSimilarity
from ..metrics.synth_scores import adherence, estimate
from ..models import MusicGen
from .cli_args import add_sampling_args, write_json


@dataclass
class MelodyRow:
    """One row: chroma cosine to the melodies, and what the clips keep of the caption."""

    chroma_cosine: float
    tempo: float  # within 4% of the caption
    key: float
    n: int
    sem: float = float("nan")  # standard error of chroma_cosine over the clips


def held_out_stems(num: int, seed: int, seconds: float, sample_rate: int
                   ) -> tuple[torch.Tensor, torch.Tensor, list[PieceSpec]]:
    """Mixes ``[N, 1, T]``, melody stems ``[N, 1, T]`` and labels of the held-out pieces."""
    mixes, melodies, specs = [], [], []
    for i in range(num):
        stems, spec = generate_piece_stems(i, seed, seconds, sample_rate)
        mixes.append(torch.from_numpy(stems["mix"]).float()[None])
        melodies.append(torch.from_numpy(stems["melody"]).float()[None])
        specs.append(spec)
    return torch.stack(mixes), torch.stack(melodies), specs


def chroma_cosine(clips: torch.Tensor, melodies: torch.Tensor, sample_rate: int) -> float:
    """Mean frame-wise chroma cosine of ``clips [N, C, T]`` to ``melodies [N, C, T]``."""
    metric = ChromaCosineSimilarity()
    metric.update(clips, melodies, sample_rate)
    return float(metric.compute()["chroma_cosine"])


def per_clip(clips: torch.Tensor, melodies: torch.Tensor, sample_rate: int) -> list[float]:
    """The chroma cosine of each clip to its melody (their mean is ``chroma_cosine``'s
    for clips of one length)."""
    metric = ChromaCosineSimilarity()  # one extractor for every clip
    scores = []
    for clip, melody in zip(clips, melodies):
        metric.reset()
        metric.update(clip[None], melody[None], sample_rate)
        scores.append(float(metric.compute()["chroma_cosine"]))
    return scores


def mean_sem(values: list[float]) -> tuple[float, float]:
    """Mean and standard error of the mean (nan for fewer than two values)."""
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, float("nan")
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, math.sqrt(var / n)


def paired_gain(with_melody: list[float], without: list[float]) -> dict[str, float]:
    """Clip by clip, what the melody adds: mean gain, its standard error, share of clips
    that gain, and the gain in standard errors."""
    gains = [a - b for a, b in zip(with_melody, without, strict=True)]
    mean, sem = mean_sem(gains)
    return {"mean": mean, "sem": sem, "share_gaining": sum(g > 0 for g in gains) / len(gains),
            "z": mean / sem if sem > 0 else float("nan")}


def row(clips: torch.Tensor, melodies: torch.Tensor, specs: list[PieceSpec],
        sample_rate: int) -> tuple[MelodyRow, list[float]]:
    """Score one set of clips against the melodies and the captions' labels; with the
    per-clip chroma cosines."""
    scores = adherence([estimate(w, sample_rate) for w in clips], specs)
    clip_scores = per_clip(clips, melodies, sample_rate)
    mean, sem = mean_sem(clip_scores)
    return MelodyRow(mean, scores.tempo, scores.key, len(specs), sem), clip_scores


def evaluate(args: argparse.Namespace) -> dict[str, Any]:
    """Every row of the table, with the settings and timings."""
    t0 = time.time()
    model = MusicGen.get_pretrained(args.model, device="cpu")
    if model.melody_conditioner() is None:
        raise SystemExit(f"{args.model} has no melody conditioner: give a melody model "
                         "(toy-melody, facebook/musicgen-melody).")
    model.set_generation_params(duration=args.seconds, top_k=args.top_k,
                                temperature=args.temperature, cfg_coef=args.cfg_coef)
    sr = model.sample_rate
    mixes, melodies, specs = held_out_stems(args.num, args.seed, args.seconds, sr)
    captions = [s.description for s in specs]
    shift = 1
    other = torch.roll(melodies, shifts=-shift, dims=0)  # piece i scored on piece i+1's melody
    rows: dict[str, MelodyRow] = {}
    given = model.generate_with_chroma(captions, melodies, sr, seed=args.seed)
    rows["melody given"], given_scores = row(given, melodies, specs, sr)
    if not args.no_mix_row:
        from_mix = model.generate_with_chroma(captions, mixes, sr, seed=args.seed)
        rows["melody given as the full mix"], _ = row(from_mix, melodies, specs, sr)
    plain = model.generate(captions, seed=args.seed)
    rows["same model, no melody (baseline)"], plain_scores = row(plain, melodies, specs, sr)
    if args.baseline_model:
        base = MusicGen.get_pretrained(args.baseline_model, device="cpu")
        base.set_generation_params(duration=args.seconds, top_k=args.top_k,
                                   temperature=args.temperature, cfg_coef=args.cfg_coef)
        rows[f"{args.baseline_model}, no melody (baseline)"], _ = row(
            base.generate(captions, seed=args.seed), melodies, specs, sr)
    mean, sem = mean_sem(per_clip(given, other, sr))
    shuffled = MelodyRow(mean, float("nan"), float("nan"), len(specs), sem)
    rows["melody given, scored on other pieces' melodies (baseline)"] = shuffled
    rows["real audio (the pieces' mixes)"], _ = row(mixes, melodies, specs, sr)
    return {"settings": {**vars(args), "cfg_coef": model.generation_params["cfg_coef"]},
            "rows": rows, "gain_over_no_melody": paired_gain(given_scores, plain_scores),
            "seconds": round(time.time() - t0, 1)}


def format_table(result: dict[str, Any]) -> str:
    """The rows as a Markdown table."""
    lines = ["| clips | chroma cosine to the melody (± standard error) | tempo within 4% "
             "| key | clips |", "|---|---|---|---|---|"]
    for name, r in result["rows"].items():
        tempo = "" if r.tempo != r.tempo else f"{r.tempo:.0%}"
        key = "" if r.key != r.key else f"{r.key:.0%}"
        lines.append(f"| {name} | {r.chroma_cosine:.3f} ± {r.sem:.3f} | {tempo} | {key} "
                     f"| {r.n} |")
    gain = result["gain_over_no_melody"]
    lines.append(f"\nMelody given against no melody, clip by clip (same caption and seed): "
                 f"{gain['mean']:+.3f} ± {gain['sem']:.3f} ({gain['z']:.1f} standard errors), "
                 f"{gain['share_gaining']:.0%} of the clips gain.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="toy-melody", help="a melody model (name or path)")
    parser.add_argument("--baseline-model", default="toy",
                        help="a model scored from the captions alone ('' to skip)")
    parser.add_argument("--num", type=int, default=64, help="held-out pieces")
    parser.add_argument("--seed", type=int, default=1000, help="held-out set and sampling seed")
    parser.add_argument("--seconds", type=float, default=6.0, help="length of each clip")
    parser.add_argument("--no-mix-row", action="store_true",
                        help="skip the row with the full mix given as the melody")
    add_sampling_args(parser)
    args = parser.parse_args(argv)
    if args.num < 2:
        parser.error("--num must be at least 2 (the shuffled baseline pairs pieces).")
    torch.set_num_threads(args.threads)
    result = evaluate(args)
    print(format_table(result))
    write_json(args.json, {**result, "rows": {k: asdict(v) for k, v in result["rows"].items()}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
