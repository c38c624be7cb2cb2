"""The ``audiocraft`` command line.

``audiocraft generate "PROMPT" ["PROMPT" ...] --duration SEC --model NAME_OR_PATH --out FILE
[...]`` makes music of any length with the MusicGen API, shows a progress bar (generated
seconds and time left), and writes the audio with its generation settings as file
metadata and in a JSON sidecar (``FILE.wav.json`` next to ``FILE.wav``, holding the
``command`` that makes the same file again). An existing output is replaced only with
``--overwrite``, and then atomically (the old file stays until the new one is complete).
Ctrl-C stops cleanly and writes what was made so far. Errors a user can cause print one
clear line and exit with status 2. File naming and writing: ``cli_output``.
"""

from __future__ import annotations

import argparse
import os
import random
import shlex
import signal
import sys
import threading
import time
from collections.abc import Sequence
from types import FrameType
from typing import Any

import torch

from . import __version__
from .cli_output import (
    FORMATS,
    NORMALIZATION,
    STREAMABLE,
    output_paths,
    refuse_existing,
    write_streamed,
    write_whole,
)
from .data.sidecars import sidecar_path
from .models.errors import CheckpointError, InputError, MissingWeightsError
from .models.longform import MELODY_POLICIES
from .models.musicgen import MusicGen
from .models.params import MAX_SAMPLES, MAX_SEED, check_number
from .models.precision import PRECISIONS, suggested_threads
from .models.sampling import guidance_coef_arg
from .models.timeline import (  # noqa: F401  (re-exported: the CLI's timeline readers)
    TimelineEntries,
    TimelineError,
    parse_timeline_text,
    read_timeline,
    timeline_from_entries,
)
from .modules.conditioners.captions import parse_key

DEFAULT_MODEL = "toy"


# A problem with the command's input, reported without a traceback (a bad timeline raises
# its subclass TimelineError).
UsageError = InputError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="audiocraft", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"audiocraft {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    gen = commands.add_parser(
        "generate", help="generate music from a text prompt (any duration)",
        description="Generate music of any length. Pieces longer than the model's window "
                    "chain windows: each new one continues the last seconds of the previous.")
    gen.add_argument("prompts", nargs="*", metavar="PROMPT",
                     help="text description; several give one file each (omit with "
                     "--timeline, or for unconditional music)")
    gen.add_argument("--duration", type=float, default=15.0, help="seconds (default 15)")
    gen.add_argument("--model", default=DEFAULT_MODEL,
                     help="toy, debug, facebook/musicgen-* or a local path (default toy)")
    gen.add_argument("--out", required=True,
                     help=f"output file, one of {', '.join(FORMATS)} (e.g. song.wav); several "
                     "prompts or --batch N give song_0.wav, song_1.wav, ...")
    gen.add_argument("--melody", help="audio file whose melody conditions the piece")
    gen.add_argument("--melody-policy", choices=MELODY_POLICIES, default="loop",
                     help="when the melody is shorter than the piece (default loop)")
    gen.add_argument("--prompt-audio", help="audio file the piece continues")
    gen.add_argument("--timeline", help='JSON file: [[0, "calm intro"], [60, "drums come in"]]')
    gen.add_argument("--bpm", type=float,
                     help="tempo for models conditioned on it (a beat or number conditioner; "
                     "default: read from each description, e.g. 'at 128 bpm')")
    gen.add_argument("--key", help="key for models conditioned on it, e.g. 'A minor' "
                     "(default: read from each description)")
    gen.add_argument("--seed", type=int, help="random seed (default: drawn and recorded)")
    gen.add_argument("--top-k", type=int, default=250)
    gen.add_argument("--top-p", type=float, default=0.0)
    gen.add_argument("--temperature", type=float, default=1.0)
    gen.add_argument("--cfg-coef", type=guidance_coef_arg, default=None,
                     help="classifier-free guidance: one number (e.g. 3), or one per codebook "
                     "(e.g. 3,6,6,6); default: the model's own (3 for official models)")
    gen.add_argument("--stride", type=float,
                     help="seconds each window adds (default 18 s, or 60%% of a shorter window)")
    gen.add_argument("--window", type=float,
                     help="window in seconds, at most the model's max_duration (default it)")
    gen.add_argument("--format", choices=FORMATS, help="default: the --out suffix, else wav")
    gen.add_argument("--batch", type=int, default=1, help="pieces per prompt (default 1)")
    gen.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")
    gen.add_argument("--threads", type=int,
                     help="CPU threads for torch (default: 1 for small models such as toy, "
                     "torch's default for larger ones; see README, Performance)")
    gen.add_argument("--precision", choices=PRECISIONS,
                     default="float32", help="LM precision for sampling: float32 (exact, "
                     "default), bfloat16, float16, int8 (CPU); see README, Performance")
    gen.add_argument("--stream", action="store_true",
                     help="write audio as it is made (bounded memory; the finished file is "
                     "normalised as without --stream)")
    gen.add_argument("--overwrite", action="store_true",
                     help="replace existing output files (default: refuse)")
    gen.add_argument("--quiet", action="store_true", help="no progress bar")
    gen.set_defaults(run=run_generate)
    return parser


def _read_audio(path: str, what: str) -> tuple[torch.Tensor, int]:
    from .data.audio import audio_read
    try:
        wav, sample_rate = audio_read(path)
    except FileNotFoundError as err:
        raise UsageError(f"The {what} file was not found: {path}") from err
    except (RuntimeError, ValueError, OSError) as err:
        raise UsageError(f"Cannot read the {what} file {path}: {err}") from err
    if wav.shape[-1] == 0:
        raise UsageError(f"The {what} file {path} holds no audio.")
    return wav, sample_rate


class ProgressBar:
    """Generated seconds out of the total, with the time left (tqdm on stderr)."""

    def __init__(self, total_seconds: float, enabled: bool):
        from tqdm import tqdm
        self.bar = tqdm(total=round(total_seconds, 2), unit="s", disable=not enabled,
                        bar_format="{desc}{percentage:3.0f}%|{bar}| {n:.1f}/{total:.1f} s "
                                   "[{elapsed}<{remaining}]", desc="generating ", file=sys.stderr)

    def update(self, done_seconds: float) -> None:
        done = min(round(done_seconds, 2), self.bar.total)
        if done > self.bar.n:
            self.bar.update(done - self.bar.n)

    def close(self) -> None:
        self.bar.close()


def check_numbers(args: argparse.Namespace) -> None:
    """UsageError for a numeric option that is not finite, out of range or not whole
    (argparse reads ``nan`` and ``inf`` as floats)."""
    checks: list[tuple[str, dict[str, Any]]] = [
        ("duration", {"low": 0, "low_open": True}), ("batch", {"low": 1, "high": MAX_SAMPLES}),
        ("top_k", {"low": 0}), ("top_p", {"low": 0, "high": 1}), ("temperature", {"low": 0}),
        ("seed", {"low": 0, "high": MAX_SEED}), ("window", {"low": 0, "low_open": True}),
        ("stride", {"low": 0, "low_open": True}), ("threads", {"low": 1}),
        ("bpm", {"low": 0, "low_open": True, "high": 1000}),
    ]
    for name, limits in checks:
        value = getattr(args, name, None)
        if value is None:
            continue
        try:
            check_number(value, f"--{name.replace('_', '-')}", **limits)
        except ValueError as err:
            raise UsageError(str(err)) from None


def run_generate(args: argparse.Namespace) -> int:
    check_numbers(args)
    timeline = read_timeline(args.timeline) if args.timeline else None
    if timeline is not None and args.prompts:
        raise UsageError("Give either PROMPTs or --timeline, not both.")
    prompts: list[str | None] = list(args.prompts) or [None]
    count = len(prompts) * args.batch  # samples, generated as one batch
    melody = _read_audio(args.melody, "melody") if args.melody else None
    prompt_audio = _read_audio(args.prompt_audio, "prompt audio") if args.prompt_audio else None
    paths, format = output_paths(args.out, args.format, count)
    if args.stream and format not in STREAMABLE:
        raise UsageError(f"--stream cannot write {format} files: use one of "
                         f"{', '.join(STREAMABLE)}, or leave out --stream.")
    if not args.overwrite:
        refuse_existing(paths)
    seed = args.seed if args.seed is not None else random.randrange(2**31)
    if args.threads is not None:
        if args.threads < 1:
            raise UsageError(f"--threads must be >= 1, got {args.threads}.")
        torch.set_num_threads(args.threads)

    model = MusicGen.get_pretrained(args.model, device=args.device, precision=args.precision)
    if args.threads is None:
        torch.set_num_threads(suggested_threads(model.lm, count))
    if args.window is not None:
        if not 0 < args.window <= model.max_duration:
            raise UsageError(
                f"--window must be in (0, {model.max_duration}] s for this model, "
                f"got {args.window}.")
        model = MusicGen(model.name, model.compression_model, model.lm, max_duration=args.window)
    try:
        model.set_generation_params(
            top_k=args.top_k, top_p=args.top_p, temperature=args.temperature,
            cfg_coef=args.cfg_coef, duration=args.duration, extend_stride=args.stride,
            melody_policy=args.melody_policy)
    except ValueError as err:
        raise UsageError(str(err)) from err
    set_condition_values(model, args)
    if prompt_audio is not None and prompt_audio[0].shape[-1] / prompt_audio[1] >= args.duration:
        raise UsageError(
            f"The prompt audio ({prompt_audio[0].shape[-1] / prompt_audio[1]:.1f} s) is not "
            f"shorter than --duration ({args.duration} s): ask for a longer piece.")

    if not args.stream:
        _check_memory(args.duration, count, model.sample_rate, model.audio_channels)
    settings: dict[str, Any] = {
        "software": f"audiocraft {__version__}",
        "model": args.model, "precision": args.precision,
        "prompts": list(args.prompts), "timeline": timeline,
        "duration": args.duration, "seed": seed, "batch": args.batch, "batch_size": count,
        "top_k": args.top_k, "top_p": args.top_p,
        "temperature": args.temperature, "cfg_coef": model.generation_params["cfg_coef"],
        "extend_stride": model.extend_stride, "window": model.max_duration,
        "melody": args.melody, "melody_policy": args.melody_policy,
        "bpm": args.bpm, "key": args.key,
        "prompt_audio": args.prompt_audio, "sample_rate": model.sample_rate,
        "normalization": NORMALIZATION,
    }
    settings["command"] = reproduce_command(settings, args)
    samples = [p for p in prompts for _ in range(args.batch)]  # the first prompt's first
    metadata = [{**settings, "title": text or (timeline[0][1] if timeline else None)
                 or "audiocraft", "prompt": text, "sample": i, "file": paths[i].name}
                for i, text in enumerate(samples)]
    stop, making = threading.Event(), threading.Event()
    bar = ProgressBar(args.duration, enabled=not args.quiet)
    fr = model.frame_rate

    def progress(made: int, total: int) -> None:
        making.set()
        bar.update(made / fr)

    model.set_custom_progress_callback(progress)
    previous = signal.signal(signal.SIGINT, _stop_on_interrupt(stop, making))
    started = time.time()
    try:
        stream = model.generate_stream(
            None if timeline is not None else samples,
            num_samples=count,
            timelines=None if timeline is None else [timeline] * count,
            melody_wavs=None if melody is None else [melody[0]] * count,
            melody_sample_rate=None if melody is None else melody[1],
            prompt=None if prompt_audio is None else prompt_audio[0][None].expand(count, -1, -1),
            prompt_sample_rate=None if prompt_audio is None else prompt_audio[1],
            seed=seed, stop=stop)
        write = write_streamed if args.stream else write_whole
        written, seconds = write(stream, paths, format, metadata, model.sample_rate,
                                 model.audio_channels)
    except KeyboardInterrupt:
        bar.close()
        print("\naborted: the output was not finished" if making.is_set() else
              "\nstopped before any audio was made: nothing written", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGINT, previous)
        bar.close()
    elapsed = time.time() - started
    for path in written:
        print(f"wrote {path} ({sidecar_path(path).name} holds the settings)")
    made = float(settings.get("generated_seconds", args.duration))
    print(_speed_line(len(written), made, elapsed, torch.get_num_threads()))
    if stream.interrupted:
        kept = f"kept {seconds:.1f} s of {args.duration:g} s" if written else "nothing was made"
        print(f"stopped early: {kept} (after {elapsed:.0f} s)", file=sys.stderr)
        return 130
    return 0


def set_condition_values(model: MusicGen, args: argparse.Namespace) -> None:
    """Apply --bpm / --key, refused (before anything is generated) when the model has no
    conditioner on them: its tempo and key then come from the description's words."""
    given = {name: getattr(args, name) for name in ("bpm", "key")
             if getattr(args, name, None) is not None}
    if not given:
        return
    read = model.caption_attributes_read()
    ignored = sorted(set(given) - set(read))
    if ignored:
        flags = " and ".join(f"--{name}" for name in ignored)
        raise UsageError(
            f"The model '{args.model}' has no conditioner on {' or '.join(ignored)}, so "
            f"{flags} would change nothing: write it in the description instead (\"... at "
            f"128 bpm in A minor\"), or use a model conditioned on it (a `beat` or `number` "
            "conditioner on the tempo; see README, Conditioning).")
    if "key" in given:
        key = parse_key(str(given["key"]))
        if key is None:
            raise UsageError(f"--key {given['key']!r} is not a key: give a tonic and a mode, "
                             "e.g. 'A minor', 'F# major', 'Bbm'.")
        given["key"] = key
    model.set_condition_values(**given)


def reproduce_command(settings: dict[str, Any], args: argparse.Namespace) -> str:
    """The ``audiocraft generate`` command that makes the same files again: every
    setting that changes the audio, with the seed and the model's defaults resolved."""
    command = ["audiocraft", "generate", *settings["prompts"],
               "--model", str(settings["model"]), "--duration", f"{settings['duration']:g}",
               "--seed", str(settings["seed"]), "--batch", str(settings["batch"]),
               "--top-k", str(settings["top_k"]), "--top-p", f"{settings['top_p']:g}",
               "--temperature", f"{settings['temperature']:g}",
               "--window", f"{settings['window']:g}", "--stride", f"{settings['extend_stride']:g}",
               "--precision", str(settings["precision"]),
               "--melody-policy", str(settings["melody_policy"])]
    if settings["cfg_coef"] is not None:
        command += ["--cfg-coef", _number_list(settings["cfg_coef"])]
    if settings.get("bpm") is not None:
        command += ["--bpm", f"{settings['bpm']:g}"]
    if settings.get("key") is not None:
        command += ["--key", str(settings["key"])]
    for flag, value in (("--timeline", args.timeline), ("--melody", args.melody),
                        ("--prompt-audio", args.prompt_audio)):
        if value is not None:
            command += [flag, value]
    return shlex.join(command + ["--out", args.out])


def _number_list(value: float | Sequence[float]) -> str:
    if isinstance(value, (int, float)):
        return f"{value:g}"
    return ",".join(f"{v:g}" for v in value)


def _check_memory(duration: float, count: int, sample_rate: int, channels: int) -> None:
    """Refuse a piece whose audio, held until the end, would not fit in memory."""
    needed = 2 * 4 * duration * sample_rate * channels * count  # float32 chunks + their join
    try:
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # not on every platform
        return
    if needed > total / 2:
        raise UsageError(
            f"{duration:g} s x {count} piece(s) would hold about {needed / 1e9:.1f} GB of audio "
            f"in memory until the end (this machine has {total / 1e9:.1f} GB): add --stream "
            "to write it as it is made in bounded memory, or ask for a shorter --duration.")


def _speed_line(samples: int, seconds: float, elapsed: float, threads: int) -> str:
    """One line on how fast `samples` pieces of `seconds` each were made in `elapsed` s."""
    elapsed = max(elapsed, 1e-9)
    return (f"{samples} sample{'s' if samples != 1 else ''} of {seconds:.1f} s in "
            f"{elapsed:.1f} s on {threads} thread{'s' if threads != 1 else ''}: "
            f"{samples / elapsed:.3f} samples/s, {samples * seconds / elapsed:.2f} s of "
            f"audio per second (real-time factor {elapsed / max(samples * seconds, 1e-9):.3f})")


def _stop_on_interrupt(stop: threading.Event, making: threading.Event | None = None) -> Any:
    """SIGINT handler: the first Ctrl-C sets ``stop`` (generation ends after the current
    step and what was made is written); before anything is being made (``making`` not
    set: loading, planning) or on a second Ctrl-C, it interrupts at once."""
    def handler(signum: int, frame: FrameType | None) -> None:
        if stop.is_set() or (making is not None and not making.is_set()):
            raise KeyboardInterrupt
        print("\nstopping after the current step (what was made is kept); Ctrl-C again "
              "to abort", file=sys.stderr)
        stop.set()
    return handler


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``audiocraft`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    # FileNotFoundError: also the frozen encoders a conditioner loads on first use (T5,
    # CLAP, the style encoder), whose messages say where to put the files.
    except (UsageError, MissingWeightsError, CheckpointError, ValueError,
            FileNotFoundError) as err:
        print(f"audiocraft {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # while loading the model, before generation started
        print("\ninterrupted before any audio was made: nothing written", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
