"""The ``audiocraft`` command line.

``audiocraft generate "PROMPT" --duration SEC --model NAME_OR_PATH --out FILE [...]``
makes music of any length with the MusicGen API, shows a progress bar (generated
seconds and time left), and writes the audio with its generation settings as file
metadata and in a JSON sidecar (``FILE.wav.json`` next to ``FILE.wav``). An existing
output is replaced only with ``--overwrite``, and then atomically (the old file stays
until the new one is complete). Ctrl-C stops cleanly and writes what was made so far.
Errors a user can cause print one clear line and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

import torch

from . import __version__
from .models.errors import CheckpointError, InputError, MissingWeightsError
from .models.longform import MELODY_POLICIES, GenerationStream
from .models.musicgen import MusicGen
from .models.precision import PRECISIONS, suggested_threads
from .models.sampling import guidance_coef_arg
from .models.timeline import (  # noqa: F401  (re-exported: the CLI's timeline readers)
    TimelineEntries,
    TimelineError,
    parse_timeline_text,
    read_timeline,
    timeline_from_entries,
)

FORMATS = ("wav", "flac", "mp3", "ogg")
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
    gen.add_argument("prompt", nargs="?", default=None,
                     help="text description (omit with --timeline, or for unconditional)")
    gen.add_argument("--duration", type=float, default=15.0, help="seconds (default 15)")
    gen.add_argument("--model", default=DEFAULT_MODEL,
                     help="toy, debug, facebook/musicgen-* or a local path (default toy)")
    gen.add_argument("--out", required=True, help="output file (e.g. song.wav)")
    gen.add_argument("--melody", help="audio file whose melody conditions the piece")
    gen.add_argument("--melody-policy", choices=MELODY_POLICIES, default="loop",
                     help="when the melody is shorter than the piece (default loop)")
    gen.add_argument("--prompt-audio", help="audio file the piece continues")
    gen.add_argument("--timeline", help='JSON file: [[0, "calm intro"], [60, "drums come in"]]')
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
    gen.add_argument("--batch", type=int, default=1, help="pieces to generate at once")
    gen.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")
    gen.add_argument("--threads", type=int,
                     help="CPU threads for torch (default: 1 for small models such as toy, "
                     "torch's default for larger ones; see README, Performance)")
    gen.add_argument("--precision", choices=PRECISIONS,
                     default="float32", help="LM precision for sampling: float32 (exact, "
                     "default), bfloat16, float16, int8 (CPU); see README, Performance")
    gen.add_argument("--stream", action="store_true",
                     help="write audio as it is made (bounded memory; no loudness normalisation)")
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


def _output_paths(out: str, format: str | None, batch: int) -> tuple[list[Path], str]:
    path = Path(out)
    suffix = path.suffix.lower().lstrip(".")
    if format is None:
        format = suffix if suffix in FORMATS else "wav"
    stem = path.with_suffix("") if suffix in FORMATS else path
    if batch == 1:
        return [stem], format
    return [stem.with_name(f"{stem.name}_{i}") for i in range(batch)], format


def _refuse_existing(stems: list[Path], format: str) -> None:
    """UsageError naming the first output (audio or settings sidecar) that exists."""
    from .data.audio import sidecar_path
    for stem in stems:
        audio = stem.with_name(f"{stem.name}.{format}")
        for path in (audio, sidecar_path(audio)):
            if path.exists():
                raise UsageError(
                    f"{path} already exists: pass --overwrite to replace it, or choose "
                    "another --out."
                )


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


def run_generate(args: argparse.Namespace) -> int:
    if args.duration <= 0:
        raise UsageError(f"--duration must be > 0 seconds, got {args.duration}.")
    if args.batch < 1:
        raise UsageError(f"--batch must be >= 1, got {args.batch}.")
    timeline = read_timeline(args.timeline) if args.timeline else None
    if timeline is not None and args.prompt is not None:
        raise UsageError("Give either a PROMPT or --timeline, not both.")
    melody = _read_audio(args.melody, "melody") if args.melody else None
    prompt_audio = _read_audio(args.prompt_audio, "prompt audio") if args.prompt_audio else None
    paths, format = _output_paths(args.out, args.format, args.batch)
    if not args.overwrite:
        _refuse_existing(paths, format)
    seed = args.seed if args.seed is not None else random.randrange(2**31)
    if args.threads is not None:
        if args.threads < 1:
            raise UsageError(f"--threads must be >= 1, got {args.threads}.")
        torch.set_num_threads(args.threads)

    model = MusicGen.get_pretrained(args.model, device=args.device, precision=args.precision)
    if args.threads is None:
        torch.set_num_threads(suggested_threads(model.lm, args.batch))
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
    if prompt_audio is not None and prompt_audio[0].shape[-1] / prompt_audio[1] >= args.duration:
        raise UsageError(
            f"The prompt audio ({prompt_audio[0].shape[-1] / prompt_audio[1]:.1f} s) is not "
            f"shorter than --duration ({args.duration} s): ask for a longer piece.")

    settings: dict[str, Any] = {
        "title": args.prompt or (timeline[0][1] if timeline else None) or "audiocraft",
        "software": f"audiocraft {__version__}",
        "model": args.model, "precision": args.precision,
        "prompt": args.prompt, "timeline": timeline,
        "duration": args.duration, "seed": seed, "top_k": args.top_k, "top_p": args.top_p,
        "temperature": args.temperature, "cfg_coef": model.generation_params["cfg_coef"],
        "extend_stride": model.extend_stride, "window": model.max_duration,
        "melody": args.melody, "melody_policy": args.melody_policy,
        "prompt_audio": args.prompt_audio, "sample_rate": model.sample_rate,
    }
    stop = threading.Event()
    bar = ProgressBar(args.duration, enabled=not args.quiet)
    fr = model.frame_rate
    model.set_custom_progress_callback(lambda made, total: bar.update(made / fr))
    stream = model.generate_stream(
        None if timeline is not None else [args.prompt] * args.batch,
        num_samples=args.batch,
        timelines=None if timeline is None else [timeline] * args.batch,
        melody_wavs=None if melody is None else [melody[0]] * args.batch,
        melody_sample_rate=None if melody is None else melody[1],
        prompt=None if prompt_audio is None else prompt_audio[0][None].expand(args.batch, -1, -1),
        prompt_sample_rate=None if prompt_audio is None else prompt_audio[1],
        seed=seed, stop=stop)
    started = time.time()
    previous = signal.signal(signal.SIGINT, _stop_on_interrupt(stop))
    try:
        written = _write(stream, paths, format, settings, args.stream, model.sample_rate,
                         model.audio_channels)
    finally:
        signal.signal(signal.SIGINT, previous)
        bar.close()
    elapsed = time.time() - started
    from .data.audio import sidecar_path
    for path in written:
        print(f"wrote {path} ({sidecar_path(path).name} holds the settings)")
    made = float(settings.get("generated_seconds", args.duration))
    print(_speed_line(len(written), made, elapsed, torch.get_num_threads()))
    if stream.interrupted:
        print(f"stopped early: {settings.get('generated_seconds', 0.0):.1f} s of "
              f"{args.duration} s made in {elapsed:.0f} s", file=sys.stderr)
        return 130
    return 0


def _speed_line(samples: int, seconds: float, elapsed: float, threads: int) -> str:
    """One line on how fast `samples` pieces of `seconds` each were made in `elapsed` s."""
    elapsed = max(elapsed, 1e-9)
    return (f"{samples} sample{'s' if samples != 1 else ''} of {seconds:.1f} s in "
            f"{elapsed:.1f} s on {threads} thread{'s' if threads != 1 else ''}: "
            f"{samples / elapsed:.3f} samples/s, {samples * seconds / elapsed:.2f} s of "
            f"audio per second (real-time factor {elapsed / max(samples * seconds, 1e-9):.3f})")


def _stop_on_interrupt(stop: threading.Event) -> Any:
    def handler(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():  # a second Ctrl-C: give up at once
            raise KeyboardInterrupt
        print("\nstopping after the current step; Ctrl-C again to abort", file=sys.stderr)
        stop.set()
    return handler


def _write(stream: GenerationStream, stems: list[Path], format: str, settings: dict[str, Any],
           streaming: bool, sample_rate: int, channels: int) -> list[Path]:
    from .data.audio import audio_write, write_sidecar
    from .utils.stream_writer import StreamingAudioWriter
    if streaming:
        paths = [stem.with_name(f"{stem.name}.{format}") for stem in stems]
        tags = {"title": str(settings["title"]), "software": str(settings["software"]),
                "comment": json.dumps(settings, default=str, sort_keys=True)}
        writers = [StreamingAudioWriter(p, sample_rate, channels, format, tags) for p in paths]
        try:
            for chunk in stream:
                for writer, wav in zip(writers, chunk.wav):
                    writer.write(wav)
        finally:
            for writer in writers:
                writer.close()
        settings["generated_seconds"] = writers[0].samples / sample_rate
        settings["interrupted"] = stream.interrupted
        for path in paths:
            write_sidecar(path, {**settings, "sample": paths.index(path)})
        return paths
    chunks = [chunk.wav for chunk in stream]
    wav = (torch.cat(chunks, dim=-1) if chunks
           else torch.zeros(len(stems), channels, 0))  # [B, C, T]
    settings["generated_seconds"] = wav.shape[-1] / sample_rate
    settings["interrupted"] = stream.interrupted
    if wav.shape[-1] == 0:
        return []
    return [audio_write(stem, wav[i], sample_rate, format=format,
                        metadata={**settings, "sample": i})
            for i, stem in enumerate(stems)]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``audiocraft`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except (UsageError, MissingWeightsError, CheckpointError, ValueError) as err:
        print(f"audiocraft {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
