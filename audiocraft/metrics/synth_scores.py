"""How well audio matches the labels of the synthetic music (:mod:`audiocraft.data.synth`):
tempo, mode and key of clips against their pieces' labels, bpm and key of each minute
of a long piece, and how often a set of key profiles reads the keys of labelled pieces.

The toy model's evaluation (``scripts/eval_toy_model.py``) and the key-profile fit
(``scripts/fit_key_profiles.py``) are built on these. On a written set::

    python -m audiocraft.metrics.synth_scores data/synth   # tempo and key of every piece
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..data.audio import audio_read
from ..data.manifest import load_audio_meta
from ..data.synth import PieceSpec, generate_piece
from .music import (
    compare_tempo,
    estimate_bpm,
    estimate_key,
    key_scores,
    normalize_tonic,
    salience_profile,
    same_key,
)

TEMPO_TOLERANCE = 0.04


@dataclass
class Adherence:
    """Share of clips whose estimated tempo/mode/key match the labels they are scored on."""

    tempo: float  # within 4%
    tempo_octave: float  # half/double/third/triple within 4%
    mode: float
    key: float
    n: int
    # Median of |estimated / labelled bpm - 1| (clips with no rhythm count as 100% off):
    # how far the misses are, where the 4% share only says how many hit.
    tempo_median_error: float = float("nan")
    # Right tonic, other mode (a minor piece read as its parallel major, or the reverse).
    key_parallel: float = float("nan")
    # Mode and key read with the other key profiles (`Report.settings["alt_key_profiles"]`).
    mode_alt: float = float("nan")
    key_alt: float = float("nan")


@dataclass
class ClipEstimate:
    """What the estimators measured on one clip (bpm 0 when it found no rhythm)."""

    bpm: float
    tonic: str
    mode: str
    # The key read with the other key profiles ("" when not measured).
    alt_tonic: str = ""
    alt_mode: str = ""


@dataclass
class LongFormMinute:
    """bpm and key of one minute of the long piece."""

    start_s: float
    bpm: float
    key: str


def estimate(wav: torch.Tensor, sample_rate: int, key_profiles: str = "synthetic",
             alt_profiles: str | None = None) -> ClipEstimate:
    """Tempo and key of one clip ``wav [C, T]`` (the key with ``key_profiles``, and with
    ``alt_profiles`` too if given); silence or no rhythm gives bpm 0."""
    try:
        bpm = estimate_bpm(wav, sample_rate)
    except ValueError:
        bpm = 0.0
    try:
        profile = salience_profile(wav, sample_rate)
    except ValueError:
        return ClipEstimate(bpm, "none", "none", *(("none", "none") if alt_profiles else ()))
    best = key_scores(profile, key_profiles)[0]
    out = ClipEstimate(bpm, best.tonic, best.mode)
    if alt_profiles:
        alt = key_scores(profile, alt_profiles)[0]
        out.alt_tonic, out.alt_mode = alt.tonic, alt.mode
    return out


def _reads_key(tonic: str, mode: str, spec: PieceSpec) -> tuple[bool, bool]:
    """(right mode, right tonic) of an estimated key against a piece's labels."""
    right_tonic = (tonic not in ("none", "")
                   and normalize_tonic(tonic) == normalize_tonic(spec.tonic))
    return mode == spec.mode, right_tonic


def adherence(estimates: list[ClipEstimate], labels: list[PieceSpec]) -> Adherence:
    """Score estimates against labels (same order)."""
    exact = octave = mode = key = parallel = mode_alt = key_alt = 0
    errors = []
    for est, spec in zip(estimates, labels):
        errors.append(abs(est.bpm / spec.bpm - 1) if est.bpm > 0 else 1.0)
        if est.bpm > 0:
            kind = compare_tempo(est.bpm, spec.bpm, TEMPO_TOLERANCE).kind
            exact += kind == "exact"
            octave += kind == "octave"
        right_mode, right_tonic = _reads_key(est.tonic, est.mode, spec)
        mode += right_mode
        key += right_tonic and right_mode
        parallel += right_tonic and not right_mode
        right_mode, right_tonic = _reads_key(est.alt_tonic, est.alt_mode, spec)
        mode_alt += right_mode
        key_alt += right_tonic and right_mode
    n = len(labels)
    alt = all(e.alt_mode for e in estimates)
    return Adherence(exact / n, octave / n, mode / n, key / n, n, float(np.median(errors)),
                     parallel / n, mode_alt / n if alt else float("nan"),
                     key_alt / n if alt else float("nan"))


def held_out_set(num: int, seed: int, seconds: float,
                 sample_rate: int) -> tuple[torch.Tensor, list[PieceSpec]]:
    """Pieces ``[N, 1, T]`` and their labels."""
    wavs, specs = [], []
    for i in range(num):
        audio, spec = generate_piece(i, seed, seconds, sample_rate)
        wavs.append(torch.from_numpy(audio).float()[None])  # [1, T]
        specs.append(spec)
    return torch.stack(wavs), specs


def score_minutes(wav: torch.Tensor, sr: int, key_profiles: str = "synthetic"
                  ) -> tuple[list[LongFormMinute], float, bool]:
    """bpm and key of each minute of `wav` ``[C, T]``, their bpm spread, whether one key
    held in every minute."""
    minute = 60 * sr
    out = []
    for start in range(0, wav.shape[-1], minute):
        part = wav[..., start: start + minute]
        if part.shape[-1] < 10 * sr:  # a few seconds left over: too short to judge
            break
        est = estimate(part, sr, key_profiles)
        out.append(LongFormMinute(start / sr, round(est.bpm, 2), f"{est.tonic} {est.mode}"))
    bpms = np.array([m.bpm for m in out])
    spread = float((bpms.max() - bpms.min()) / np.median(bpms)) if len(out) and bpms.min() > 0 \
        else float("nan")
    held = len({m.key for m in out}) == 1
    return out, spread, held


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


def check_labels(folder: str | Path) -> str:
    """Estimate tempo and key of every piece of a set written by :mod:`audiocraft.data.synth`
    (its ``data.jsonl`` and sidecars); summarise how many agree with their labels."""
    out = Path(folder)
    metas = load_audio_meta(out / "data.jsonl")
    kinds = {"exact": 0, "octave": 0, "wrong": 0}
    keys_ok = 0
    for m in metas:
        if m.info_path is None:
            raise ValueError(f"{m.path} has no label sidecar: {out} is not a synthetic set "
                             "(write one with python -m audiocraft.data.synth).")
        # load_audio_meta gives paths resolved against the manifest's folder already.
        labels = json.loads(Path(m.info_path).read_text())
        wav, sr = audio_read(m.path)
        match = compare_tempo(estimate_bpm(wav, sr), labels["bpm"], tolerance=0.02)
        kinds[match.kind] += 1
        keys_ok += same_key(estimate_key(wav, sr), (labels["tonic"], labels["mode"]))
    n = len(metas)
    return (f"tempo within 2%: {kinds['exact']}/{n} (octave errors {kinds['octave']}, "
            f"wrong {kinds['wrong']}); key correct: {keys_ok}/{n}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m audiocraft.metrics.synth_scores",
        description="Measure tempo and key of every piece of a synthetic set and compare "
                    "them with its labels.")
    parser.add_argument("folder", help="a set written by python -m audiocraft.data.synth")
    args = parser.parse_args(argv)
    print(check_labels(args.folder))
    return 0


if __name__ == "__main__":
    sys.exit(main())
