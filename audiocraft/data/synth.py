"""Synthetic music: procedurally composed multi-instrument pieces with true labels.

Each piece has a genre (tempo range, drum pattern, instrument palette), a key (tonic and
mode), a tempo, a four-chord progression in the key (a chord per half bar), drums
locked to the beat, a bass on the chord roots, chords, and a melody built from chord
tones and scale steps that starts and ends on the tonic. The labels are facts of the
audio: a tempo estimator finds the bpm and a key estimator the key (see
``audiocraft.metrics.music`` and the tests; ``python -m audiocraft.metrics.synth_scores OUT``
measures how many pieces of a written set agree with their labels).

Command line (32 kHz mono by default)::

    python -m audiocraft.data.synth OUT --num N --duration S --seed SEED

writes ``OUT/piece_0000.wav`` ... with a ``.json`` sidecar each (bpm, key, tonic, mode,
instruments, genre, moods, description, ...) and the manifest ``OUT/data.jsonl``
(paths relative to OUT).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .audio import audio_write
from .manifest import AudioMeta, save_audio_meta
from .sidecars import sidecar_path
from .synth_captions import FREE_BPM, varied_caption
from .synth_voices import add_at, hihat, kick, snare, tone

logger = logging.getLogger(__name__)

PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10)}
ROMAN = ("I", "II", "III", "IV", "V", "VI", "VII")
# Four-chord progressions as scale degrees (0 = tonic). Each starts on the tonic and has
# the subdominant (IV) and the dominant (V): together they hold every note of the scale,
# so the key is clear by ear even in a few seconds (a progression lasts two bars). In
# minor the V chord is major (harmonic minor): its leading tone tells minor from major.
PROGRESSIONS = {
    "major": ((0, 3, 4, 0), (0, 3, 0, 4), (0, 5, 3, 4), (0, 3, 4, 3)),
    "minor": ((0, 3, 4, 0), (0, 3, 0, 4), (0, 5, 3, 4), (0, 3, 4, 3)),
}


@dataclass
class Genre:
    """What a genre fixes: tempo range, drum grid and instrument palette."""

    bpm: tuple[int, int]
    kick: tuple[float, ...]  # beat positions within a 4/4 bar
    snare: tuple[float, ...]
    hats: tuple[float, ...]
    bass: tuple[str, ...]  # timbres
    chords: tuple[str, ...]
    lead: tuple[str, ...]
    bass_rhythm: str = "quarters"  # "quarters", "eighths" or "offbeat"


GENRES = {
    "house": Genre((118, 128), (0, 1, 2, 3), (1, 3), (0.5, 1.5, 2.5, 3.5),
                   ("saw", "square"), ("pad", "organ"), ("pluck", "square"), "offbeat"),
    "pop": Genre((92, 124), (0, 2, 2.5), (1, 3), (0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5),
                 ("sine", "triangle"), ("epiano", "pluck"), ("triangle", "sine")),
    "hip hop": Genre((80, 96), (0, 1.75, 2.5), (1, 3), (0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5),
                     ("sine",), ("epiano", "pad"), ("epiano", "sine")),
    "synthwave": Genre((96, 118), (0, 2), (1, 3), (0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5),
                       ("saw",), ("pad", "saw"), ("square", "saw"), "eighths"),
    "chiptune": Genre((130, 160), (0, 2), (1, 3), (0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5),
                      ("triangle",), ("square",), ("square",), "eighths"),
    "lofi": Genre((72, 88), (0, 2.5), (1, 3), (0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5),
                  ("sine",), ("epiano", "organ"), ("sine", "triangle")),
}
INSTRUMENT_NAMES = {
    "bass": {"saw": "synth bass", "square": "square bass", "sine": "sub bass",
             "triangle": "round bass"},
    "chords": {"pad": "warm pad", "organ": "organ", "epiano": "electric piano",
               "pluck": "plucked guitar", "saw": "saw synth chords", "square": "square chords"},
    "lead": {"pluck": "plucked lead", "square": "square lead", "triangle": "soft triangle lead",
             "sine": "flute-like lead", "epiano": "electric piano melody", "saw": "saw lead"},
}
MOODS = {
    ("major", "fast"): ("upbeat", "happy", "energetic", "bright"),
    ("major", "slow"): ("calm", "warm", "relaxed", "hopeful"),
    ("minor", "fast"): ("dark", "driving", "tense", "intense"),
    ("minor", "slow"): ("melancholic", "sad", "dreamy", "moody"),
}


@dataclass
class PieceSpec:
    """The labels of one piece (written to its JSON sidecar)."""

    name: str
    title: str
    genre: str
    bpm: int
    tonic: str
    mode: str
    key: str
    progression: list[str]
    instruments: list[str]
    moods: list[str]
    description: str
    keywords: list[str] = field(default_factory=list)
    artist: str = "audiocraft synth"
    duration: float = 0.0
    sample_rate: int = 32000
    seed: list[int] = field(default_factory=list)
    timbres: dict[str, str] = field(default_factory=dict)

    def to_sidecar(self) -> dict[str, Any]:
        d = asdict(self)
        d["instrument"] = ", ".join(self.instruments)  # MusicInfo's field name
        return d


def _choose(rng: np.random.Generator, items: tuple[Any, ...] | list[Any]) -> Any:
    return items[int(rng.integers(len(items)))]


def _chord_notes(tonic_midi: int, mode: str, degree: int) -> list[int]:
    """Diatonic triad on ``degree`` as MIDI notes above ``tonic_midi`` (the minor-key V is
    major, with the raised leading tone)."""
    scale = SCALES[mode]
    notes = []
    for step in (0, 2, 4):
        d = degree + step
        notes.append(tonic_midi + scale[d % 7] + 12 * (d // 7))
    if mode == "minor" and degree == 4:
        notes[1] += 1
    return notes


def _roman(mode: str, degree: int) -> str:
    notes = _chord_notes(0, mode, degree)
    third, fifth = notes[1] - notes[0], notes[2] - notes[0]
    name = ROMAN[degree] if third == 4 else ROMAN[degree].lower()
    return name + ("°" if fifth == 6 else "")


def _caption(rng: np.random.Generator, spec: PieceSpec, parts: dict[str, str]) -> str:
    moods = spec.moods
    article = "An" if moods[0][0] in "aeiou" else "A"
    templates = (
        f"{article} {moods[0]} {spec.genre} track in {spec.key} at {spec.bpm} BPM, with "
        f"{parts['lead']}, {parts['chords']}, {parts['bass']} and drums.",
        f"{moods[0].capitalize()} and {moods[1]} {spec.genre} music in {spec.key}: "
        f"{parts['chords']} and {parts['bass']} under {parts['lead']}, {spec.bpm} beats "
        "per minute.",
        f"Instrumental {spec.genre} piece at {spec.bpm} bpm in {spec.key}; {parts['lead']} "
        f"carries a {moods[0]} melody over {parts['chords']}, {parts['bass']} and a steady beat.",
        f"{spec.bpm} BPM {spec.genre} groove in {spec.key} that feels {moods[0]} and "
        f"{moods[1]}, played on {parts['chords']}, {parts['bass']}, {parts['lead']} and drums.",
    )
    return str(_choose(rng, templates))


def make_spec(rng: np.random.Generator, index: int, duration: float, sample_rate: int,
              free_tempo: bool = False, genre_name: str | None = None,
              bpm: int | None = None) -> PieceSpec:
    """Draw the labels of piece ``index``. With ``free_tempo`` every genre takes any tempo
    of ``FREE_BPM`` (not its own range) and the caption one of many wordings
    (``synth_captions.varied_caption``): tempo is then learnt from the number, not from the
    genre; the default draws (and so the default data sets) are unchanged. ``genre_name``
    and ``bpm`` replace the drawn genre and tempo (the other labels are drawn as before),
    e.g. to render a piece that a caption asks for."""
    drawn = str(_choose(rng, list(GENRES)))
    if genre_name is not None and genre_name not in GENRES:
        raise ValueError(f"Unknown genre {genre_name!r}: the synthesizer plays "
                         f"{', '.join(GENRES)}.")
    genre_name = genre_name or drawn
    genre = GENRES[genre_name]
    low, high = FREE_BPM if free_tempo else genre.bpm
    drawn_bpm = int(rng.integers(low, high + 1))
    bpm = drawn_bpm if bpm is None else int(bpm)
    mode = str(_choose(rng, ("major", "minor")))
    tonic = PITCH_CLASSES[int(rng.integers(12))]
    progression = _choose(rng, PROGRESSIONS[mode])
    timbres = {
        "bass": str(_choose(rng, genre.bass)),
        "chords": str(_choose(rng, genre.chords)),
        "lead": str(_choose(rng, genre.lead)),
    }
    parts = {role: INSTRUMENT_NAMES[role][t] for role, t in timbres.items()}
    pace = "fast" if bpm >= 110 else "slow"
    moods = [str(m) for m in rng.permutation(MOODS[(mode, pace)])[:2]]
    spec = PieceSpec(
        name=f"piece_{index:04d}", title=f"Synthetic {genre_name} {index}", genre=genre_name,
        bpm=bpm, tonic=tonic, mode=mode, key=f"{tonic} {mode}",
        progression=[_roman(mode, d) for d in progression],
        instruments=["drums", parts["bass"], parts["chords"], parts["lead"]],
        moods=moods, description="", keywords=[genre_name, *moods, "instrumental"],
        duration=duration, sample_rate=sample_rate, timbres=timbres,
    )
    spec.description = (varied_caption(rng, spec, parts) if free_tempo
                        else _caption(rng, spec, parts))
    return spec


def render(spec: PieceSpec, rng: np.random.Generator) -> np.ndarray:
    """Audio of a piece, mono float64 ``[T]``, peak about 0.9."""
    return render_stems(spec, rng)["mix"]


def render_stems(spec: PieceSpec, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The mix of a piece (``render``), its ``melody`` stem (the lead alone, at its level
    in the mix: the melody a chroma conditioner learns to follow) and its parts
    (``drums``, ``bass``, ``chords``, ``lead``, summing to the mix), mono float64 ``[T]``
    each. The same draws as ``render``, so the mix is the same."""
    sr = spec.sample_rate
    genre = GENRES[spec.genre]
    beat = 60.0 / spec.bpm
    n = int(round(spec.duration * sr))
    tonic_pc = PITCH_CLASSES.index(spec.tonic)
    degrees = [ROMAN.index(r.rstrip("°").upper()) for r in spec.progression]
    scale = SCALES[spec.mode]
    drums, bass, chords, lead = (np.zeros(n + sr) for _ in range(4))

    def at(beats: float) -> int:
        return int(round(beats * beat * sr))

    hits = {"kick": kick(sr), "snare": snare(sr, rng), "hat": hihat(sr, rng)}
    n_bars = int(np.ceil(spec.duration / (4 * beat)))
    for bar in range(n_bars):
        for pos in genre.kick:
            add_at(drums, hits["kick"], at(4 * bar + pos), 0.9)
        for pos in genre.snare:
            add_at(drums, hits["snare"], at(4 * bar + pos), 0.6)
        for pos in genre.hats:
            add_at(drums, hits["hat"], at(4 * bar + pos), 0.5 if pos % 1 == 0 else 0.35)
    # Harmony changes every half bar, so even a few seconds hold the whole progression.
    n_slots = 2 * n_bars
    prev_lead = 72 + tonic_pc if tonic_pc < 7 else 60 + tonic_pc
    for slot in range(n_slots):
        start = 2 * slot
        degree = degrees[slot % 4]
        triad = _chord_notes(48 + tonic_pc, spec.mode, degree)  # [3] around C3-C4
        root = 36 + (tonic_pc + scale[degree]) % 12  # C2..B2
        # Bass on the root (and its octave on offbeats in the "eighths" feel).
        if genre.bass_rhythm == "offbeat":
            steps = [(p + 0.5, 0.4, root) for p in range(2)]
        elif genre.bass_rhythm == "eighths":
            steps = [(p / 2, 0.4, root + 12 * (p % 2)) for p in range(4)]
        else:
            steps = [(p, 0.9, root) for p in range(2)]
        for pos, length, note in steps:
            add_at(bass, tone(note, length * beat, sr, spec.timbres["bass"]), at(start + pos))
        for note in triad:
            add_at(chords, tone(note + 12, 1.9 * beat, sr, spec.timbres["chords"], 0.5, rng),
                   at(start))
        # Melody: chord tones on the beat, scale steps between, tonic to start and finish.
        rhythm = _choose(rng, ((1, 1), (1.5, 0.5), (0.5, 0.5, 1), (2,)))
        pos = 0.0
        for i, length in enumerate(rhythm):
            final = slot == n_slots - 1 and i == len(rhythm) - 1
            if final or (slot % 4 == 0 and i == 0):
                pcs = [tonic_pc]
            elif pos % 1 == 0:
                pcs = [note % 12 for note in triad]
            else:
                # Scale steps, with the chord's own notes (the leading tone under V).
                pcs = [(tonic_pc + s) % 12 for s in scale if (tonic_pc + s) % 12 not in
                       [(n + 1) % 12 for n in triad]] + [note % 12 for note in triad]
            candidates = [m for m in range(64, 86) if m % 12 in pcs]
            near = sorted(candidates, key=lambda m: abs(m - prev_lead))[:3]
            note = int(_choose(rng, near))
            add_at(lead, tone(note, 0.9 * length * beat, sr, spec.timbres["lead"], 0.6, rng),
                   at(start + pos))
            prev_lead = note
            pos += length
    parts = {"drums": 1.0 * drums[:n], "bass": 0.8 * bass[:n], "chords": 0.35 * chords[:n],
             "lead": 0.45 * lead[:n]}
    mix = parts["drums"] + parts["bass"] + parts["chords"] + parts["lead"]
    fade = min(n, int(0.02 * sr))
    ramp = np.linspace(1.0, 0.0, fade)
    for part in parts.values():
        part[n - fade:] *= ramp
    mix[n - fade:] *= ramp
    peak = np.abs(mix).max()
    gain = 0.9 / peak if peak > 0 else 1.0
    return {"mix": mix * gain, "melody": parts["lead"] * gain,
            **{name: part * gain for name, part in parts.items()}}


# Where each part sits between left (-1) and right (+1) in stereo renders: drums and bass
# near the middle, chords and lead on opposite sides, by amounts drawn per piece.
PAN_RANGES = {"drums": (-0.15, 0.15), "bass": (-0.1, 0.1), "chords": (0.3, 0.8),
              "lead": (0.3, 0.8)}


def stereo_mix(stems: dict[str, np.ndarray], seed: tuple[int, ...] | list[int]) -> np.ndarray:
    """The parts of ``render_stems`` panned into ``[2, T]`` (constant-power pan law; the
    chords and the lead on opposite sides, which side drawn per piece), peak at most 0.9.
    Its own random stream (``seed`` + [2]), so the mono render does not change."""
    rng = np.random.default_rng([*seed, 2])
    side = 1.0 if rng.random() < 0.5 else -1.0
    out = np.zeros((2, len(stems["mix"])))
    for name, (low, high) in PAN_RANGES.items():
        pan = rng.uniform(low, high)
        if name == "chords":
            pan *= side
        elif name == "lead":
            pan *= -side
        angle = (pan + 1.0) * np.pi / 4  # 0: left, pi/4: middle, pi/2: right
        out[0] += np.sqrt(2.0) * np.cos(angle) * stems[name]
        out[1] += np.sqrt(2.0) * np.sin(angle) * stems[name]
    peak = np.abs(out).max()
    return out * (0.9 / peak) if peak > 0.9 else out


def generate_piece(index: int, seed: int, duration: float, sample_rate: int = 32000,
                   free_tempo: bool = False) -> tuple[np.ndarray, PieceSpec]:
    """Piece ``index`` of the set drawn with ``seed``: ``(audio [T], labels)``
    (``free_tempo``: see ``make_spec``)."""
    audio, spec = generate_piece_stems(index, seed, duration, sample_rate, free_tempo)
    return audio["mix"], spec


def generate_piece_stems(index: int, seed: int, duration: float, sample_rate: int = 32000,
                         free_tempo: bool = False) -> tuple[dict[str, np.ndarray], PieceSpec]:
    """Piece ``index`` of the set drawn with ``seed``: ``({"mix", "melody", parts...}
    [T] each, labels)`` (see ``render_stems``), the mix that of ``generate_piece``."""
    if duration <= 0:
        raise ValueError(f"duration must be > 0 seconds, got {duration}.")
    rng = np.random.default_rng([seed, index])
    spec = make_spec(rng, index, duration, sample_rate, free_tempo)
    spec.seed = [seed, index]
    return render_stems(spec, rng), spec


def write_dataset(
    out: str | Path, num: int, duration: float, seed: int = 0, sample_rate: int = 32000,
    channels: int = 1, format: str = "wav", melody_stem: bool = False,
    free_tempo: bool = False,
) -> list[AudioMeta]:
    """Render ``num`` pieces into ``out`` with sidecars and ``out/data.jsonl``.

    ``melody_stem``: also write each piece's melody alone (``NAME.melody.FORMAT``, not in
    the manifest), named by the sidecar's ``melody_path`` (relative to the sidecar), which
    ``MusicDataset`` then gives melody conditioners instead of the mix.
    ``free_tempo``: tempo free of the genre, varied captions (see ``make_spec``)."""
    if num <= 0:
        raise ValueError(f"--num must be >= 1, got {num}.")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    metas = []
    for i in range(num):
        stems, spec = generate_piece_stems(i, seed, duration, sample_rate, free_tempo)
        sidecar = spec.to_sidecar()
        if melody_stem:
            melody = torch.from_numpy(stems["melody"]).float()[None].expand(channels, -1)
            stem_path = audio_write(out / f"{spec.name}.melody", melody, sample_rate,
                                    format=format, strategy="none")
            sidecar["melody_path"] = stem_path.name
        if channels == 2:  # the parts panned (see stereo_mix)
            wav = torch.from_numpy(stereo_mix(stems, spec.seed)).float()  # [2, T]
        else:
            wav = torch.from_numpy(stems["mix"]).float()[None].expand(channels, -1)  # [C, T]
        path = audio_write(out / spec.name, wav, sample_rate, format=format, strategy="none",
                           metadata=sidecar)
        metas.append(AudioMeta(path.name, wav.shape[-1] / sample_rate, sample_rate,
                               float(wav.abs().max()), None, sidecar_path(path).name))
    save_audio_meta(out / "data.jsonl", metas)
    return metas


def ensure_synthetic_data(cfg: Any) -> None:
    """Render the synthetic set of a training config on first use (``dset=synthetic``):
    its ``synthetic`` section names the root, piece duration, rate and per-split
    ``num``/``seed``; ``channels`` the channel count. Does nothing without that section,
    or for a split whose ``data.jsonl`` manifest exists already."""
    synth = cfg.get("synthetic")
    if not synth:
        return
    for split in ("train", "valid"):
        out = Path(synth.root) / split
        manifest = out / "data.jsonl"
        if int(os.environ.get("LOCAL_RANK", "0")) > 0:
            # Under torchrun every process starts at once: the first one of the machine
            # renders (the manifest is written last), the others wait for it.
            deadline = time.monotonic() + 3600
            while not manifest.exists() and time.monotonic() < deadline:
                time.sleep(2)
            continue
        if not manifest.exists():
            logger.info("Rendering %d synthetic pieces into %s", synth[split].num, out)
            write_dataset(out, num=synth[split].num, duration=synth.duration,
                          seed=synth[split].seed, sample_rate=synth.sample_rate,
                          channels=cfg.channels,
                          melody_stem=bool(synth.get("melody_stem", False)),
                          free_tempo=bool(synth.get("free_tempo", False)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m audiocraft.data.synth",
        description="Render synthetic multi-instrument music with true labels and a manifest.",
    )
    parser.add_argument("out", help="output folder")
    parser.add_argument("--num", type=int, default=8, help="number of pieces")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per piece")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sample-rate", type=int, default=32000)
    parser.add_argument("--channels", type=int, default=1,
                        help="1 (mono) or 2 (stereo: the parts panned)")
    parser.add_argument("--format", default="wav", choices=("wav", "flac", "mp3", "ogg"))
    parser.add_argument("--melody-stem", action="store_true",
                        help="also write each piece's melody alone (NAME.melody.wav)")
    parser.add_argument("--free-tempo", action="store_true",
                        help="any tempo for every genre, captions in varied wordings")
    args = parser.parse_args(argv)
    metas = write_dataset(args.out, args.num, args.duration, args.seed, args.sample_rate,
                          args.channels, args.format, args.melody_stem, args.free_tempo)
    for m in metas[:3]:
        sidecar = json.loads((Path(args.out) / str(m.info_path)).read_text())
        print(f"{m.path}: {sidecar['description']}")
    print(f"{len(metas)} pieces and data.jsonl written to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
