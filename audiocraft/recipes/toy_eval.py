"""Evaluate a text-to-music model on a held-out synthetic set with tempo and key estimators
(the evaluation behind ``scripts/eval_toy_model.py``, its command line; the scores are in
:mod:`audiocraft.metrics.synth_scores` and :mod:`audiocraft.metrics.triads`; the codec's
SI-SNR goes through the general pipeline's ``sisnr`` metric). The general evaluation of
any model on any manifest, with FAD and the other named metrics, reports and sweeps, is
``python -m audiocraft.eval`` (:mod:`audiocraft.eval`); this recipe keeps what is specific
to the synthetic music (baselines, triads, the estimators' ceiling).

    python scripts/eval_toy_model.py [--model toy] [--num 128] [--seed 1000] [--seconds 6]
        [--long-seconds 300] [--long-pieces 1] [--json outputs/toy_eval.json]
    python scripts/eval_toy_model.py --codec-only --model FOLDER   # a codec alone

Prints a table (and writes it as JSON with ``--json``):

- adherence of generations from the held-out captions: tempo (estimated bpm within 4% of
  the caption's; octave errors, x2 x1/2 x3 x1/3, counted apart; the median relative bpm
  error says how far the misses fall), mode (major/minor) and key (tonic and mode; keys
  with the right tonic and the other mode are also counted apart), each also for two
  baselines: unconditional generations scored against the same labels, and the
  captioned generations scored against the labels of other pieces (shuffled captions).
  The estimators on the real held-out audio and on its codec reconstruction give the
  ceiling the estimators themselves allow. Keys are read with the key profiles of the
  synthetic music (``--key-profiles synthetic``, ``audiocraft.metrics.music.SYNTH_MAJOR``
  and ``SYNTH_MINOR``, measured on training pieces by ``scripts/fit_key_profiles.py``),
  which read 98% of the held-out pieces' keys; the table also gives mode and key read
  with the other profiles (``krumhansl``, the probe-tone ratings: about 90%);
- codec reconstruction of the held-out audio: SI-SNR (dB) and log-mel L1 distance;
- triads through the codec: major and minor triads on all 12 roots, one per chord
  instrument of the synthetic set, each over its root in the bass at the set's mix levels;
  the share whose third still reads right (the salience of the major third above that
  of the minor third, or the reverse) in the originals and in their reconstructions, and
  the median level change through the codec of the chord's root and major third (on
  harmonics of the bass) and of its minor third (on none). A mode the codec cannot
  carry, no LM can generate;
- long-form stability: bpm and key of each minute of one ``--long-seconds`` piece (from
  the first held-out caption); ``--long-pieces N`` adds the next N - 1 captions' pieces
  and a summary (pieces whose key held, and held in the caption's key; minutes in the
  caption's key; median and largest bpm spread, pieces spread 3% or more), with the
  same figures for each piece rendered by the synthesizer at the same length: the
  estimators' ceiling on real audio.

With ``--codec-only``, ``--model`` names a compression model (a codec run's export folder,
``toy``...) and only the real-audio and reconstruction rows and scores are measured.

The held-out set is drawn with ``--seed`` (the toy model trains on seeds 0 and 1), so
none of its pieces were seen in training. Everything is seeded: the same arguments give
the same table.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from ..data.synth import generate_piece
from ..losses.spectral import MelSpectrogramL1Loss
from ..metrics.evaluation import EvalBatch, EvalContext, build_metrics
from ..metrics.music import KEY_PROFILES
from ..metrics.synth_scores import (
    Adherence,
    ClipEstimate,
    LongFormMinute,
    adherence,
    estimate,
    held_out_set,
    score_minutes,
)
from ..metrics.triads import partial_level_change, triad_quality, triad_set
from ..models import MusicGen, loaders
from ..models.precision import PRECISIONS
from .cli_args import COEF_HELP, add_sampling_args, write_json


@dataclass
class LongFormPiece:
    """One long piece: its caption's labels, each minute, bpm spread, whether the key held."""

    caption: str
    bpm: float
    key: str
    minutes: list[LongFormMinute]
    bpm_spread: float
    key_held: bool
    # The same piece rendered by the synthesizer at the same length, scored alike: how
    # often the estimators read one key in every minute of real audio.
    real_keys: list[str] = field(default_factory=list)
    real_key_held: bool = False


@dataclass
class Report:
    """Every figure of the table."""

    adherence: dict[str, Adherence]
    codec_si_snr_db: float
    codec_mel_l1: float
    # Share of triads whose third reads right: "real audio", "codec reconstruction".
    triads: dict[str, float] = field(default_factory=dict)
    # Median level change (dB) through the codec of the triads' "root", "major third" and
    # "minor third".
    triad_partials: dict[str, float] = field(default_factory=dict)
    long_form: list[LongFormMinute] = field(default_factory=list)
    long_form_caption: str = ""
    long_form_bpm_spread: float = float("nan")  # (max - min) / median over minutes
    long_form_key_held: bool = False
    # With --long-pieces N > 1: every long piece, the first one included.
    long_form_pieces: list[LongFormPiece] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


@torch.no_grad()
def codec_scores(codec: Any, wavs: torch.Tensor) -> tuple[torch.Tensor, float, float]:
    """Reconstructions ``[N, 1, T]`` by the compression model `codec`, mean SI-SNR (dB)
    and mean log-mel L1 distance."""
    codes, scale = codec.encode(wavs)  # [N, K, T_f]
    recon = codec.decode(codes, scale)[..., : wavs.shape[-1]]  # [N, 1, T]
    if recon.shape[-1] < wavs.shape[-1]:
        recon = torch.nn.functional.pad(recon, (0, wavs.shape[-1] - recon.shape[-1]))
    # SI-SNR through the evaluation pipeline's metric (audiocraft.metrics.evaluation).
    sisnr, _ = build_metrics(["sisnr"], EvalContext(codec.sample_rate))
    sisnr["sisnr"].update(EvalBatch(recon, codec.sample_rate, wavs))
    snr = sisnr["sisnr"].compute()["sisnr"]
    mel = MelSpectrogramL1Loss(codec.sample_rate, n_fft=1024, hop_length=256,
                               win_length=1024, n_mels=64)
    return recon, snr, float(mel(recon, wavs))


@torch.no_grad()
def codec_triads(codec: Any) -> tuple[dict[str, float], dict[str, float]]:
    """:func:`triad_quality` of the triad set and of its reconstruction by `codec`, and
    the :func:`partial_level_change` of the reconstruction."""
    sr = codec.sample_rate
    wavs, labels = triad_set(sr)
    codes, scale = codec.encode(wavs)
    recon = codec.decode(codes, scale)[..., : wavs.shape[-1]]
    return ({"real audio": triad_quality(wavs, labels, sr),
             "codec reconstruction": triad_quality(recon, labels, sr)},
            partial_level_change(wavs, recon, labels, sr))


def long_form(model: Any, caption: str, seconds: float, seed: int,
              stride: float | None = None, key_profiles: str = "synthetic"
              ) -> tuple[list[LongFormMinute], float, bool]:
    """Generate one long piece, with the clips' sampling settings and windows adding
    `stride` seconds each (None: the model's default); bpm and key of each minute (the
    last part if shorter)."""
    params = model.generation_params
    model.set_generation_params(
        duration=seconds, cfg_coef=params["cfg_coef"], top_k=params["top_k"],
        top_p=params["top_p"], temperature=params["temp"], extend_stride=stride)
    return score_minutes(model.generate([caption], seed=seed)[0], model.sample_rate,
                         key_profiles)


def _say(started: float, text: str) -> None:
    """Progress on stderr as the evaluation goes (the table is printed at the end)."""
    print(f"[{time.time() - started:6.0f} s] {text}", file=sys.stderr, flush=True)


def evaluate(args: argparse.Namespace) -> Report:
    timings: dict[str, float] = {}
    t0 = started = time.time()
    _say(started, f"loading {args.model}")
    if args.codec_only:
        model, codec = None, loaders.load_compression_model(args.model, device="cpu")
    else:
        model = MusicGen.get_pretrained(args.model, device="cpu", precision=args.precision)
        codec = model.compression_model
    sr = codec.sample_rate
    _say(started, f"rendering {args.num} held-out pieces of {args.seconds:g} s")
    wavs, specs = held_out_set(args.num, args.seed, args.seconds, sr)
    captions = [s.description for s in specs]
    recon, snr, mel = codec_scores(codec, wavs)
    _say(started, f"codec: SI-SNR {snr:.2f} dB, mel L1 {mel:.3f}; probing triads")
    triads, partials = codec_triads(codec)
    timings["codec"] = time.time() - t0

    def estimates(batch: torch.Tensor) -> list[ClipEstimate]:
        return [estimate(w, sr, args.key_profiles, alt) for w in batch]

    alt = next(name for name in KEY_PROFILES if name != args.key_profiles)
    est = {"real audio": estimates(wavs), "codec reconstruction": estimates(recon)}
    if model is not None:
        t0 = time.time()
        model.set_generation_params(duration=args.seconds, cfg_coef=args.cfg_coef,
                                    top_k=args.top_k, temperature=args.temperature)
        _say(started, f"generating {len(captions)} clips from captions, then as many "
             "unconditional ones")
        generated = model.generate(captions, seed=args.seed)  # [N, 1, T]
        unconditional = model.generate_unconditional(len(captions), seed=args.seed + 1)
        timings["generate"] = time.time() - t0
        est["generated from captions"] = estimates(generated)
        est["unconditional (baseline)"] = estimates(unconditional)

    t0 = time.time()
    _say(started, "estimating tempo and key of every clip")
    table = {name: adherence(e, specs) for name, e in est.items()}
    if model is not None:
        shift = max(1, len(specs) // 2)
        shuffled = specs[shift:] + specs[:shift]  # every clip scored on other pieces' labels
        table["shuffled captions (baseline)"] = adherence(est["generated from captions"],
                                                          shuffled)
    timings["estimate"] = time.time() - t0

    report = Report(table, snr, mel, triads, partials, settings=vars(args).copy())
    report.settings["alt_key_profiles"] = alt
    if model is not None:  # the guidance used, the model's own when not given
        report.settings["cfg_coef"] = model.generation_params["cfg_coef"]
    if model is not None and args.long_seconds > 0:
        t0 = time.time()
        _say(started, f"long piece 1 of {args.long_pieces}: {args.long_seconds:g} s")
        report.long_form_caption = captions[0]
        report.long_form, report.long_form_bpm_spread, report.long_form_key_held = long_form(
            model, captions[0], args.long_seconds, args.seed, args.stride, args.key_profiles)
        report.settings["stride"] = model.extend_stride
        timings["long_form"] = time.time() - t0
        report.settings["long_form_labels"] = {"bpm": specs[0].bpm, "key": specs[0].key}
        if args.long_pieces > 1:
            report.long_form_pieces = [LongFormPiece(
                captions[0], specs[0].bpm, specs[0].key, report.long_form,
                report.long_form_bpm_spread, report.long_form_key_held)]
            for number, spec in enumerate(specs[1: args.long_pieces], start=2):
                _say(started, f"long piece {number} of {args.long_pieces}: "
                     f"{args.long_seconds:g} s")
                minutes, spread, held = long_form(model, spec.description, args.long_seconds,
                                                  args.seed, args.stride, args.key_profiles)
                report.long_form_pieces.append(LongFormPiece(
                    spec.description, spec.bpm, spec.key, minutes, spread, held))
            for index, piece in enumerate(report.long_form_pieces):
                audio, _ = generate_piece(index, args.seed, args.long_seconds,
                                          model.sample_rate)
                real, _, piece.real_key_held = score_minutes(
                    torch.from_numpy(audio).float()[None], model.sample_rate,
                    args.key_profiles)
                piece.real_keys = [m.key for m in real]
            timings["long_form"] = time.time() - t0
    report.seconds = {k: round(v, 1) for k, v in timings.items()}
    _say(started, "done")
    return report


def format_table(report: Report) -> str:
    """The report as Markdown tables."""
    alt = report.settings.get("alt_key_profiles", "other")
    lines = [
        f"Key profiles: {report.settings.get('key_profiles', 'synthetic')} (mode, key); "
        f"{alt} in the last two columns.", "",
        "| audio scored | tempo within 4% | tempo octave errors | median tempo error | mode "
        f"| key | right tonic, other mode | clips | mode ({alt}) | key ({alt}) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, a in report.adherence.items():
        lines.append(f"| {name} | {a.tempo:.0%} | {a.tempo_octave:.0%} | "
                     f"{a.tempo_median_error:.1%} | {a.mode:.0%} | {a.key:.0%} | "
                     f"{a.key_parallel:.0%} | {a.n} | {a.mode_alt:.0%} | {a.key_alt:.0%} |")
    lines += ["", "| codec | value |", "|---|---|",
              f"| SI-SNR of the held-out reconstructions | {report.codec_si_snr_db:.2f} dB |",
              f"| log-mel L1 distance, same | {report.codec_mel_l1:.3f} |"]
    for name, share in report.triads.items():
        lines.append(f"| triads keeping their quality (major/minor), {name} | {share:.0%} |")
    for name, db in report.triad_partials.items():
        lines.append(f"| triads through the codec: level change of the {name} (median) "
                     f"| {db:+.1f} dB |")
    if report.long_form:
        labels = report.settings.get("long_form_labels", {})
        lines += ["", f"Long form: \"{report.long_form_caption}\" "
                  f"(labels: {labels.get('bpm')} bpm, {labels.get('key')})", "",
                  "| minute | bpm | key |", "|---|---|---|"]
        for m in report.long_form:
            lines.append(f"| {int(m.start_s // 60) + 1} | {m.bpm:.1f} | {m.key} |")
        lines.append(f"\nbpm spread (max - min) / median: {report.long_form_bpm_spread:.1%}; "
                     f"key held over all minutes: {'yes' if report.long_form_key_held else 'no'}")
    if report.long_form_pieces:
        pieces = report.long_form_pieces
        lines += ["", "| caption's bpm, key | bpm of each minute | keys | bpm spread | key held "
                  "| real audio: keys | held |", "|---|---|---|---|---|---|---|"]
        for p in pieces:
            lines.append(f"| {p.bpm:g}, {p.key} | {', '.join(f'{m.bpm:.1f}' for m in p.minutes)} "
                         f"| {', '.join(m.key for m in p.minutes)} | {p.bpm_spread:.1%} | "
                         f"{'yes' if p.key_held else 'no'} | {', '.join(p.real_keys)} | "
                         f"{'yes' if p.real_key_held else 'no'} |")
        spreads = [p.bpm_spread for p in pieces]
        held = sum(p.key_held for p in pieces)
        held_right = sum(all(m.key == p.key for m in p.minutes) for p in pieces)
        in_key = sum(m.key == p.key for p in pieces for m in p.minutes)
        real_right = sum(all(k == p.key for k in p.real_keys) for p in pieces)
        real_in_key = sum(k == p.key for p in pieces for k in p.real_keys)
        lines.append(f"\n{len(pieces)} long pieces: key held in {held} ({held_right} in the "
                     f"caption's key), the caption's key in {in_key} of "
                     f"{sum(len(p.minutes) for p in pieces)} minutes; bpm spread median "
                     f"{float(np.median(spreads)):.1%}, largest {max(spreads):.1%}, "
                     f"{sum(s >= 0.03 for s in spreads)} at 3% or more. Real audio, the same "
                     f"pieces: key held in {sum(p.real_key_held for p in pieces)} ({real_right} "
                     f"in the caption's key), the caption's key in {real_in_key} of "
                     f"{sum(len(p.real_keys) for p in pieces)} minutes")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="toy", help="MusicGen.get_pretrained name or path")
    parser.add_argument("--codec-only", action="store_true",
                        help="--model is a compression model (name or folder): score its "
                        "reconstructions only")
    parser.add_argument("--num", type=int, default=128,
                        help="held-out pieces (128: one clip moves a share by 0.8%%)")
    parser.add_argument("--seed", type=int, default=1000, help="held-out set and sampling seed")
    parser.add_argument("--seconds", type=float, default=6.0, help="length of each clip")
    parser.add_argument("--long-seconds", type=float, default=300.0,
                        help="length of the long-form piece (0 to skip)")
    parser.add_argument("--long-pieces", type=int, default=1,
                        help="long pieces, from the first N held-out captions")
    add_sampling_args(parser, COEF_HELP + " (the toy model's: 3)")
    parser.add_argument("--stride", type=float, default=None,
                        help="seconds each long-form window adds (default: the model's, 60%% "
                        "of its window); a shorter stride prompts each window with more")
    parser.add_argument("--key-profiles", default="synthetic", choices=sorted(KEY_PROFILES),
                        help="key profiles of the key estimator: 'synthetic', measured on the "
                        "synthetic music (scripts/fit_key_profiles.py; reads 98%% of its keys), "
                        "or 'krumhansl', the probe-tone ratings (about 90%%); the table also "
                        "gives mode and key with the other")
    parser.add_argument("--precision", default="float32", choices=PRECISIONS,
                        help="LM precision for sampling (float32 exact)")
    args = parser.parse_args(argv)
    if args.num < 2:
        parser.error("--num must be at least 2 (the shuffled baseline pairs pieces).")
    if not 1 <= args.long_pieces <= args.num:
        parser.error("--long-pieces must be between 1 and --num (one piece per caption).")
    if args.stride is not None and args.stride <= 0:
        parser.error("--stride must be > 0 seconds (and shorter than the model's window).")
    torch.set_num_threads(args.threads)
    report = evaluate(args)
    print(format_table(report))
    write_json(args.json, asdict(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
