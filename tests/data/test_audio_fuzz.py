"""Hundreds of generated bad audio files through the reader, the manifest and the data
set: no crash, no hang, one specific exception type (AudioFileError) with the file's
name, and nothing decoded past the duration limit.

The files are small (a fraction of a second at 8 kHz) and generated from fixed seeds:
truncated, empty, misnamed, header bytes flipped, random bytes, NaN/inf samples,
unfinished FLACs (the length a killed writer leaves) and a decompression bomb (a long
silent FLAC, a few KB on disk).
"""

from __future__ import annotations

import json
import math
import random
import struct
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from audiocraft.data.audio import (
    AUDIO_EXTS,
    DEFAULT_MAX_DURATION,
    AudioFileError,
    AudioTooLongError,
    NonFiniteAudioError,
    audio_info,
    audio_read,
    audio_write,
)
from audiocraft.data.audio_dataset import AudioDataset
from audiocraft.data.manifest import AudioMeta, build_manifest, load_audio_meta, save_audio_meta

SR = 8000
FORMATS = ("wav", "flac", "ogg", "mp3", "m4a")
BOMB_SECONDS = 600.0  # 4.8 M samples of silence: a few KB as FLAC
CAP = 5.0  # the limit the fuzz reads run under (seconds)


def _tone(seconds: float = 0.5) -> torch.Tensor:
    t = torch.arange(int(seconds * SR)) / SR
    return 0.5 * torch.sin(2 * math.pi * 330 * t)[None]  # [1, T]


def _float_wav(path: Path, data: np.ndarray) -> Path:
    sf.write(str(path), data.astype(np.float32), SR, subtype="FLOAT", format="WAV")
    return path


def _unknown_length_flac(src: Path, dst: Path) -> Path:
    """``src`` with its STREAMINFO total-samples field zeroed (what libFLAC writes first
    and fixes on close: a killed writer leaves it unknown)."""
    raw = bytearray(src.read_bytes())
    assert raw[:4] == b"fLaC"
    # STREAMINFO: 4-byte block header, then 10 bytes, then 20 bits rate | 3 bits
    # channels | 5 bits depth | 36 bits total samples.
    offset = 4 + 4 + 10
    packed = int.from_bytes(raw[offset:offset + 8], "big")
    packed &= ~((1 << 36) - 1)
    raw[offset:offset + 8] = packed.to_bytes(8, "big")
    dst.write_bytes(bytes(raw))
    return dst


def make_fuzz_files(root: Path) -> dict[str, list[Path]]:
    """The bad files, by kind. Deterministic (fixed seeds)."""
    rng = random.Random(1234)
    good_dir, root = root / "sources", root / "fuzz"
    good_dir.mkdir(parents=True)
    root.mkdir()
    sources = {fmt: audio_write(good_dir / f"src_{fmt}", _tone(), SR, format=fmt,
                                strategy="none") for fmt in FORMATS}
    kinds: dict[str, list[Path]] = {k: [] for k in (
        "truncated", "empty", "misnamed", "flipped", "random", "nonfinite", "unfinished")}
    for fmt, src in sources.items():
        raw = src.read_bytes()
        for i, cut in enumerate(sorted(rng.sample(range(1, len(raw)), 20))):
            path = root / f"trunc_{fmt}_{i}.{fmt}"
            path.write_bytes(raw[:cut])
            kinds["truncated"].append(path)
        for i in range(10):
            data = bytearray(raw)
            for _ in range(rng.randint(1, 8)):
                pos = rng.randrange(min(len(data), 96))
                data[pos] = rng.randrange(256)
            path = root / f"flip_{fmt}_{i}.{fmt}"
            path.write_bytes(bytes(data))
            kinds["flipped"].append(path)
        for ext in AUDIO_EXTS:
            if ext != "." + fmt:
                path = root / f"misnamed_{fmt}_as{ext}"
                path.write_bytes(raw)
                kinds["misnamed"].append(path)
    for ext in AUDIO_EXTS:
        path = root / f"empty{ext}"
        path.write_bytes(b"")
        kinds["empty"].append(path)
        for i in range(6):
            path = root / f"random_{i}{ext}"
            path.write_bytes(rng.randbytes(rng.choice([1, 7, 44, 300, 4096, 20000])))
            kinds["random"].append(path)
        # Random bytes behind a plausible magic number.
        magic = {".wav": b"RIFF\xff\xff\xff\xffWAVEfmt ", ".flac": b"fLaC\x00\x00\x00\x22",
                 ".ogg": b"OggS\x00\x02", ".mp3": b"ID3\x04\x00\x00"}.get(
                     ext, b"\x00\x00\x00\x20ftypM4A ")
        path = root / f"magic{ext}"
        path.write_bytes(magic + rng.randbytes(2000))
        kinds["random"].append(path)
    base = _tone(1.0).numpy()[0]
    for i, bad in enumerate([np.nan, np.inf, -np.inf]):
        for j, where in enumerate([0, 1, 4000, 7999]):
            data = base.copy()
            data[where] = bad
            kinds["nonfinite"].append(_float_wav(root / f"nonfinite_{i}_{j}.wav", data))
        data = np.full(SR, bad)
        kinds["nonfinite"].append(_float_wav(root / f"all_nonfinite_{i}.wav", data))
    kinds["unfinished"].append(_unknown_length_flac(sources["flac"], root / "unfinished.flac"))
    # A WAV whose data chunk claims 4 GB in a few KB (libsndfile reads what is there).
    raw = bytearray(sources["wav"].read_bytes())
    data_at = raw.find(b"data")
    raw[data_at + 4:data_at + 8] = struct.pack("<I", 0xFFFFFFF0)
    (root / "lying_header.wav").write_bytes(bytes(raw))
    kinds["flipped"].append(root / "lying_header.wav")
    return kinds


@pytest.fixture(scope="module")
def fuzz(tmp_path_factory) -> dict[str, list[Path]]:
    return make_fuzz_files(tmp_path_factory.mktemp("fuzz"))


@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("bomb") / "silence.flac"
    with sf.SoundFile(str(path), "w", SR, 1, "PCM_16", format="FLAC") as f:
        block = np.zeros(SR * 60, dtype=np.float32)
        for _ in range(int(BOMB_SECONDS // 60)):
            f.write(block)
    return path


def _check(path: Path, **kwargs) -> str:
    """Read one file; "ok" or "refused", anything else fails the test."""
    try:
        info = audio_info(path)
        assert math.isfinite(info.duration) and info.duration >= 0, (path, info)
        wav, sr = audio_read(path, max_duration=CAP, **kwargs)
    except AudioFileError as err:
        assert path.name in str(err), err  # the message names the file
        return "refused"
    assert wav.dtype == torch.float32 and wav.dim() == 2, path
    assert bool(torch.isfinite(wav).all()), path
    assert wav.shape[-1] <= math.ceil(CAP * sr), path
    return "ok"


@pytest.mark.timeout(300)
def test_fuzzed_files_are_read_or_refused_with_audio_file_error(fuzz):
    total = sum(len(v) for v in fuzz.values())
    assert total >= 300, total
    outcomes: dict[str, dict[str, int]] = {}
    for kind, paths in fuzz.items():
        for path in paths:
            outcome = _check(path)
            outcomes.setdefault(kind, {"ok": 0, "refused": 0})[outcome] += 1
    # The kinds that can never be read are always refused.
    for kind in ("empty", "nonfinite"):
        assert outcomes[kind]["ok"] == 0, (kind, outcomes[kind])
    # A killed writer's FLAC (length unknown) is read to the end of its frames.
    assert outcomes["unfinished"]["refused"] == 0, outcomes["unfinished"]
    print(total, "fuzz files:", outcomes)


def test_nonfinite_samples_error_or_repair(fuzz):
    path = fuzz["nonfinite"][0]
    with pytest.raises(NonFiniteAudioError, match=r"NaN or infinite.*nonfinite='repair'"):
        audio_read(path)
    with pytest.raises(ValueError, match="nonfinite must be one of"):
        audio_read(path, nonfinite="ignore")
    for path in fuzz["nonfinite"]:
        wav, _ = audio_read(path, nonfinite="repair")
        assert bool(torch.isfinite(wav).all()) and float(wav.abs().max()) <= 1.0


def test_unfinished_flac_is_measured_and_read_by_decoding(fuzz):
    path = fuzz["unfinished"][0]
    assert sf.info(str(path)).frames == 2**63 - 1  # what libsndfile makes of "unknown"
    info = audio_info(path)
    wav, sr = audio_read(path)
    assert sr == info.sample_rate == SR and info.duration == pytest.approx(0.5)
    assert wav.shape == (1, SR // 2) and torch.allclose(wav, _tone(), atol=1e-4)
    with pytest.raises(AudioTooLongError):
        audio_read(path, max_duration=0.25)  # counted while decoding: still bounded


def test_bomb_is_refused_before_decoding(bomb):
    assert bomb.stat().st_size < 200_000  # ten minutes of silence
    tracemalloc.start()
    try:
        with pytest.raises(AudioTooLongError, match=r"600.0 s.*limit of 60.0 s.*max_duration"):
            audio_read(bomb, max_duration=60)
        with pytest.raises(AudioTooLongError):
            audio_read(bomb, duration=120, max_duration=60)  # a long request, too
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000  # the 19 MB of samples were never allocated
    part, sr = audio_read(bomb, seek_time=300, duration=2, max_duration=60)
    assert part.shape == (1, 2 * sr)
    with pytest.raises(ValueError, match="max_duration must be"):
        audio_read(bomb, max_duration=float("nan"))


def test_default_limit_refuses_a_long_file_before_decoding(tmp_path):
    seconds = DEFAULT_MAX_DURATION + 60
    path = tmp_path / "long_silence.flac"
    with sf.SoundFile(str(path), "w", 1000, 1, "PCM_16", format="FLAC") as f:
        f.write(np.zeros(int(seconds * 1000), dtype=np.float32))
    tracemalloc.start()
    try:
        with pytest.raises(AudioTooLongError, match="long_silence.flac"):
            audio_read(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000
    wav, _ = audio_read(path, max_duration=None)  # asked for: no limit
    assert wav.shape == (1, int(seconds * 1000))
    # The manifest lists it (data sets read segments) and scans it window by window.
    (entry,) = build_manifest(tmp_path, complete=True).good
    assert entry.duration == pytest.approx(seconds) and entry.amplitude == 0.0
    (bad,) = build_manifest(tmp_path, max_duration=60).bad
    assert "too long" in bad.reason


@pytest.mark.timeout(300)
def test_manifest_of_fuzzed_files_is_strict_json(fuzz, bomb, tmp_path):
    folder = next(iter(fuzz.values()))[0].parent
    (folder / "bomb.flac").write_bytes(bomb.read_bytes())
    try:
        result = build_manifest(folder, workers=2, complete=True, max_duration=CAP)
    finally:
        (folder / "bomb.flac").unlink()
    total = sum(len(v) for v in fuzz.values()) + 1
    assert len(result.good) + len(result.bad) == total
    bad = {Path(b.path).name: b.reason for b in result.bad}
    assert "too long" in bad["bomb.flac"]
    assert "unfinished.flac" not in bad  # measured by decoding: listed with its length
    (unfinished,) = [m for m in result.good if Path(m.path).name == "unfinished.flac"]
    assert unfinished.duration == pytest.approx(0.5)
    for path in fuzz["nonfinite"] + fuzz["empty"]:
        assert path.name in bad, path
    manifest = tmp_path / "m.jsonl"
    save_audio_meta(manifest, result.good)

    def refuse(name):
        raise AssertionError(f"{name} in the manifest")

    for line in manifest.read_text().splitlines():
        entry = json.loads(line, parse_constant=refuse)
        assert entry["duration"] > 0 and entry["sample_rate"] > 0
    assert load_audio_meta(manifest) == result.good


def test_manifest_refuses_nonfinite_numbers(tmp_path):
    meta = AudioMeta("a.wav", 1.0, SR, amplitude=float("nan"))
    with pytest.raises(ValueError, match="amplitude must be a finite number"):
        save_audio_meta(tmp_path / "m.jsonl", [meta])
    assert not (tmp_path / "m.jsonl").exists()
    line = '{"path": "a.wav", "duration": Infinity, "sample_rate": 8000}\n'
    (tmp_path / "n.jsonl").write_text(line)
    with pytest.raises(ValueError, match=r"n.jsonl:1.*Infinity"):
        load_audio_meta(tmp_path / "n.jsonl")


@pytest.mark.timeout(300)
def test_dataset_skips_every_bad_file(fuzz):
    bad = [p for kind in ("empty", "nonfinite", "random") for p in fuzz[kind]]
    metas = [AudioMeta(str(p), 1.0, SR) for p in bad]
    good = audio_write(bad[0].parent / "the_good_one", _tone(1.0), SR, strategy="none")
    metas.append(AudioMeta(str(good), 1.0, SR))
    ds = AudioDataset(metas, segment_duration=0.5, num_samples=40, sample_rate=SR,
                      max_read_retry=len(metas))
    for i in range(len(ds)):
        wav = ds[i]
        assert wav.shape == (1, SR // 2) and bool(torch.isfinite(wav).all())
    assert 0 < ds.read_failures <= len(bad)
    # Only bad files: a clear error, not a crash.
    only_bad = AudioDataset(metas[:-1], segment_duration=0.5, num_samples=4, sample_rate=SR,
                            max_read_retry=3)
    with pytest.raises(RuntimeError, match="reads failed in a row.*--complete"):
        only_bad[0]


def test_dataset_repairs_nonfinite_samples_when_asked(fuzz):
    metas = [AudioMeta(str(p), 1.0, SR) for p in fuzz["nonfinite"] if "all_" in p.name]
    strict = AudioDataset(metas, segment_duration=0.5, num_samples=2, sample_rate=SR,
                          max_read_retry=2)
    with pytest.raises(RuntimeError, match="NaN or infinite"):
        strict[0]
    repaired = AudioDataset(metas, segment_duration=0.5, num_samples=4, sample_rate=SR,
                            nonfinite="repair")
    for i in range(len(repaired)):
        assert bool(torch.isfinite(repaired[i]).all())
    assert repaired.read_failures == 0
    with pytest.raises(ValueError, match="nonfinite must be one of"):
        AudioDataset(metas, nonfinite="zero")


@pytest.mark.timeout(300)
def test_the_apps_upload_check_refuses_each_bad_file_with_a_message(fuzz, bomb):
    """The app reads uploads with ``read_audio_input``: every fuzzed file is read or
    refused with an ``AppError`` naming the file; what the browser sees (``public_message``)
    shows no server folder."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    import app_inputs

    counts = {"ok": 0, "refused": 0}
    for path in [p for paths in fuzz.values() for p in paths] + [bomb]:
        try:
            wav, sr = app_inputs.read_audio_input(str(path), "melody", max_seconds=CAP)
        except app_inputs.AppError as err:
            shown = app_inputs.public_message(str(err))
            assert path.name in shown and str(path.parent) not in shown, shown
            counts["refused"] += 1
            continue
        assert bool(torch.isfinite(wav).all()) and wav.shape[-1] <= math.ceil(CAP * sr)
        counts["ok"] += 1
    assert counts["refused"] >= 200, counts
    with pytest.raises(app_inputs.AppError, match="longer than this app's limit of 5 s"):
        app_inputs.read_audio_input(str(bomb), "melody", max_seconds=CAP)
    print("app upload check:", counts)
