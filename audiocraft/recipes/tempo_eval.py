"""Tempo adherence of a text-to-music model on captions written unlike its training
captions (the evaluation behind ``scripts/eval_tempo_adherence.py``, its command line).

    python scripts/eval_tempo_adherence.py [--model toy] [--num 128] [--seed 1000]
        [--seconds 6] [--threads 2] [--json outputs/tempo_eval.json]

Two sets of captions, one clip each, scored by the same tempo estimator as
``scripts/eval_toy_model.py`` (``audiocraft.metrics.music.estimate_bpm``): a hit is an
estimated bpm within 4% of the asked tempo; octave errors (x2, x1/2, x3, x1/3 within 4%)
are counted apart and as misses.

- ``unusual captions``: ``unusual_captions(num, seed)``: a genre (the synthetic set's six,
  or one the synthesizer does not play: rock, jazz, techno, ballad...) at a tempo drawn
  from 72-160 bpm outside that genre's usual range (house at 80, lofi at 150; for
  unknown genres anywhere in it), with pace words that may contradict the number ("a
  slow rock ballad at 128 bpm"), in wordings of their own (``EVAL_TEMPLATES``: "128
  BPM", "128 bpm", "128bpm", "tempo 128", "128 beats per minute", lowercase captions);
- ``own captions``: the captions of the first ``--num`` held-out synthetic pieces (seed
  ``--seed``, as ``scripts/eval_toy_model.py``), in the training data's wording;
- and as a reference, no model: the synthesizer playing each unusual caption's genre (a
  drawn one for genres it does not play) at its tempo (``reference_audio``), scored alike:
  the estimator's ceiling on those tempos.

The table gives, for each, the share within 4%, the octave errors, the median relative
error, and by caption group (genre inside its usual range or not; known genre or not).
Models that read the tempo from the caption's words into a conditioner (``bpm``) also get
the share of captions whose tempo the parser read right. Everything is seeded.

With ``--caption TEXT`` (repeatable) it probes those captions instead: ``--clips`` clips
of each (one batch, seed ``--seed``), with the tempo each clip plays, the share within 4%
and the octave errors:

    python scripts/eval_tempo_adherence.py --caption "a slow rock ballad at 128 bpm" \
        --clips 8 --seconds 8 --seed 7
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from ..data.synth import GENRES, PITCH_CLASSES, make_spec, render
from ..metrics.music import compare_tempo, estimate_bpm
from ..metrics.synth_scores import TEMPO_TOLERANCE
from ..models import MusicGen
from ..modules.conditioners import parse_tempo
from .cli_args import add_sampling_args, write_json

TEMPO_RANGE = (72, 160)
# The unusual captions played by the synthesizer itself: the estimator's ceiling.
REFERENCE = "unusual captions, synthesizer at their tempos (reference)"
# Genres the synthesizer does not play: no usual range, their words unseen in training.
OTHER_GENRES = ("rock ballad", "jazz", "techno", "funk", "reggae", "drum and bass",
                "ambient", "trap", "disco", "folk song")
PACE = ("slow", "fast", "chill", "energetic", "laid back", "driving", "gentle", "heavy")
EVAL_TEMPLATES = (
    "a {pace} {genre} at {bpm} bpm",
    "{genre} song, {bpm} BPM, {key}",
    "{bpm}bpm {pace} {genre}",
    "{pace} {genre} groove with a tempo of {bpm}",
    "{genre} instrumental ({bpm} beats per minute) in {key}",
    "tempo {bpm}. {pace} {genre}.",
    "I want a {pace} {genre} tune around {bpm} bpm",
    "{key} {genre}, {pace}, {bpm} bpm",
)


@dataclass
class Caption:
    """One evaluation caption and what it asks."""

    text: str
    bpm: int
    genre: str
    known_genre: bool  # one of the synthetic set's genres
    usual_tempo: bool  # inside that genre's training range


@dataclass
class TempoScores:
    """Tempo adherence of one set of clips."""

    within_4pct: float
    octave_errors: float
    median_error: float
    n: int
    parsed_right: float = float("nan")  # captions whose bpm the caption parser reads
    groups: dict[str, dict[str, float]] = field(default_factory=dict)


def unusual_captions(num: int, seed: int) -> list[Caption]:
    """``num`` captions unlike the training captions (see the module docstring)."""
    rng = np.random.default_rng([seed, 7])
    out = []
    names = list(GENRES)
    for i in range(num):
        known = i % 3 != 2  # two thirds the set's genres, off their range
        if known:
            genre = names[int(rng.integers(len(names)))]
            low, high = GENRES[genre].bpm
            choices = [b for b in range(TEMPO_RANGE[0], TEMPO_RANGE[1] + 1)
                       if b < low * 0.96 or b > high * 1.04]
        else:
            genre = OTHER_GENRES[int(rng.integers(len(OTHER_GENRES)))]
            choices = list(range(TEMPO_RANGE[0], TEMPO_RANGE[1] + 1))
        bpm = int(choices[int(rng.integers(len(choices)))])
        key = (f"{PITCH_CLASSES[int(rng.integers(12))]} "
               f"{('major', 'minor')[int(rng.integers(2))]}")
        template = EVAL_TEMPLATES[int(rng.integers(len(EVAL_TEMPLATES)))]
        text = template.format(pace=PACE[int(rng.integers(len(PACE)))], genre=genre,
                               bpm=bpm, key=key)
        text = re.sub(r"\b([Aa]) ([aeiou])", r"\1n \2", text)  # "an energetic"
        if rng.random() < 0.5:
            text = text.lower()
        out.append(Caption(text, bpm, genre, known, False))
    return out


def own_captions(num: int, seed: int, seconds: float, sample_rate: int) -> list[Caption]:
    """The captions of the first ``num`` held-out synthetic pieces (``eval_toy_model``'s)."""
    out = []
    for i in range(num):
        # The labels generate_piece(i, seed, ...) draws first, without rendering the piece.
        spec = make_spec(np.random.default_rng([seed, i]), i, seconds, sample_rate)
        out.append(Caption(spec.description, spec.bpm, spec.genre, True, True))
    return out


def reference_audio(captions: list[Caption], seed: int, seconds: float,
                    sample_rate: int) -> list[torch.Tensor]:
    """What the captions ask, played by the synthesizer: a piece at each caption's tempo, in
    its genre (a genre the synthesizer does not play: a drawn one), ``[1, T]`` each. Their
    scores are the tempo estimator's ceiling on these tempos (a slow piece whose hi-hats
    play eighths can read as twice its tempo, also in real audio)."""
    out = []
    for i, caption in enumerate(captions):
        rng = np.random.default_rng([seed, 11, i])
        spec = make_spec(rng, i, seconds, sample_rate, free_tempo=True,
                         genre_name=caption.genre if caption.known_genre else None,
                         bpm=caption.bpm)
        out.append(torch.from_numpy(render(spec, rng).astype(np.float32))[None])
    return out


def _kinds(pairs: list[tuple[float, float]]) -> list[str]:
    """``compare_tempo``'s verdict on each (estimated, asked) pair: "exact", "octave" or
    "wrong" (a clip with no tempo found, estimated 0, is wrong)."""
    return [compare_tempo(b, a, TEMPO_TOLERANCE).kind if b > 0 else "wrong" for b, a in pairs]


def score(bpms: list[float], captions: list[Caption]) -> TempoScores:
    """Adherence of estimated ``bpms`` to the captions' tempos, overall and by group."""

    def share(items: list[tuple[float, Caption]]) -> dict[str, float]:
        kinds = _kinds([(b, c.bpm) for b, c in items])
        errors = [abs(b / c.bpm - 1) if b > 0 else 1.0 for b, c in items]
        n = max(len(items), 1)
        return {"within_4pct": kinds.count("exact") / n,
                "octave_errors": kinds.count("octave") / n,
                "median_error": float(np.median(errors)) if errors else float("nan"),
                "n": float(len(items))}

    pairs = list(zip(bpms, captions))
    total = share(pairs)
    groups = {
        "known genre, outside its usual tempo": [p for p in pairs
                                                 if p[1].known_genre and not p[1].usual_tempo],
        "known genre, its usual tempo": [p for p in pairs
                                         if p[1].known_genre and p[1].usual_tempo],
        "genre not in the training data": [p for p in pairs if not p[1].known_genre],
    }
    parsed = [parse_tempo(c.text) == c.bpm for c in captions]
    return TempoScores(total["within_4pct"], total["octave_errors"], total["median_error"],
                       len(captions), float(np.mean(parsed)) if parsed else float("nan"),
                       {name: share(items) for name, items in groups.items() if items})


def _estimate(wav: torch.Tensor, sample_rate: int) -> float:
    try:
        return estimate_bpm(wav, sample_rate)
    except ValueError:  # silence or no rhythm
        return 0.0


def _model(args: argparse.Namespace) -> MusicGen:
    model = MusicGen.get_pretrained(args.model, device="cpu")
    model.set_generation_params(duration=args.seconds, top_k=args.top_k,
                                temperature=args.temperature, cfg_coef=args.cfg_coef)
    return model


def probe(args: argparse.Namespace, captions: list[tuple[str, float]]) -> dict[str, Any]:
    """``args.clips`` clips of each (caption, asked bpm): ``{"settings", "probes":
    [{"caption", "asked", "bpms", "within_4pct", "octave_errors"}, ...]}``."""
    model = _model(args)
    out: dict[str, Any] = {"settings": {**vars(args),
                                        "cfg_coef": model.generation_params["cfg_coef"]},
                           "probes": []}
    for text, asked in captions:
        wavs = model.generate([text] * args.clips, seed=args.seed)  # [clips, C, T]
        bpms = [_estimate(w, model.sample_rate) for w in wavs]
        kinds = _kinds([(b, asked) for b in bpms])
        out["probes"].append({"caption": text, "asked": asked,
                              "bpms": [round(b, 1) for b in bpms],
                              "within_4pct": kinds.count("exact") / len(kinds),
                              "octave_errors": kinds.count("octave") / len(kinds)})
    return out


def _table(title: str, header: list[str], rows: list[list[Any]]) -> list[str]:
    """A title line, then a Markdown table of ``rows`` (cells already formatted)."""
    return [title, "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(str(cell) for cell in row) + " |" for row in rows)]


def format_probes(result: dict[str, Any]) -> str:
    """The probes as a Markdown table."""
    settings = result["settings"]
    return "\n".join(_table(
        f"Model: {settings['model']}; seed {settings['seed']}, {settings['seconds']:g} s clips",
        ["caption", "asked bpm", "clips", "within 4%", "octave errors", "bpm of each clip"],
        [[p["caption"], f"{p['asked']:g}", len(p["bpms"]), f"{p['within_4pct']:.0%}",
          f"{p['octave_errors']:.0%}", ", ".join(f"{b:.1f}" for b in p["bpms"])]
         for p in result["probes"]]))


def evaluate(args: argparse.Namespace) -> dict[str, Any]:
    """Generate a clip per caption of both sets and score them: ``{"settings", "sets":
    {name: TempoScores}, "captions": {name: [[text, asked, estimated], ...]}, "seconds"}``."""
    model = _model(args)
    sets = {"unusual captions": unusual_captions(args.num, args.seed),
            "own captions": own_captions(args.num, args.seed, args.seconds, model.sample_rate)}
    out: dict[str, Any] = {"settings": {**vars(args),
                                        "cfg_coef": model.generation_params["cfg_coef"],
                                        "reads_from_captions": model.caption_attributes_read()},
                           "sets": {}, "captions": {}, "seconds": {}}
    for name, captions in sets.items():
        t0 = time.time()
        wavs = model.generate([c.text for c in captions], seed=args.seed)  # [N, C, T]
        bpms = [_estimate(w, model.sample_rate) for w in wavs]
        out["sets"][name] = score(bpms, captions)
        out["captions"][name] = [[c.text, c.bpm, round(b, 1)] for c, b in zip(captions, bpms)]
        out["seconds"][name] = round(time.time() - t0, 1)
    captions = sets["unusual captions"]
    wavs = reference_audio(captions, args.seed, args.seconds, model.sample_rate)
    bpms = [_estimate(w, model.sample_rate) for w in wavs]
    out["sets"][REFERENCE] = score(bpms, captions)
    out["captions"][REFERENCE] = [[c.text, c.bpm, round(b, 1)] for c, b in zip(captions, bpms)]
    return out


def format_table(result: dict[str, Any]) -> str:
    """The scores as a Markdown table."""
    rows = []
    for name, s in result["sets"].items():
        rows.append([name, "all", s.n, f"{s.within_4pct:.0%}", f"{s.octave_errors:.0%}",
                     f"{s.median_error:.1%}"])
        rows += [[name, group, int(g["n"]), f"{g['within_4pct']:.0%}",
                  f"{g['octave_errors']:.0%}", f"{g['median_error']:.1%}"]
                 for group, g in s.groups.items()]
    lines = _table(f"Model: {result['settings']['model']}; tempo read from the captions into a "
                   f"conditioner: {', '.join(result['settings']['reads_from_captions']) or 'no'}",
                   ["captions", "group", "clips", "tempo within 4%", "octave errors",
                    "median error"], rows)
    parsed = {name: s.parsed_right for name, s in result["sets"].items()}
    lines.append("\nCaptions whose tempo the caption parser reads right: " + ", ".join(
        f"{name} {share:.0%}" for name, share in parsed.items()))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="toy", help="MusicGen.get_pretrained name or path")
    parser.add_argument("--num", type=int, default=128, help="captions of each set")
    parser.add_argument("--seed", type=int, default=1000, help="captions and sampling seed")
    parser.add_argument("--seconds", type=float, default=6.0, help="length of each clip")
    parser.add_argument("--caption", action="append", default=[],
                        help="probe this caption instead of the two sets (repeatable); "
                        "it must name its tempo, e.g. 'a slow rock ballad at 128 bpm'")
    parser.add_argument("--clips", type=int, default=8, help="clips of each --caption")
    add_sampling_args(parser)
    args = parser.parse_args(argv)
    if args.num < 1 or args.clips < 1:
        parser.error("--num and --clips must be at least 1.")
    if args.seconds < 3:
        parser.error("--seconds must be at least 3: the tempo estimator needs a few beats.")
    probes: list[tuple[str, float]] = []
    for text in args.caption:
        bpm = parse_tempo(text)
        if bpm is None:
            parser.error(f"--caption {text!r} names no tempo the caption parser reads: "
                         "write it as 'at 128 bpm', '128bpm' or 'tempo 128'.")
        probes.append((text, bpm))
    torch.set_num_threads(args.threads)
    if probes:
        probed = probe(args, probes)
        print(format_probes(probed))
        write_json(args.json, probed)
        return 0
    result = evaluate(args)
    print(format_table(result))
    write_json(args.json, {**result, "sets": {k: asdict(v) for k, v in result["sets"].items()}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
