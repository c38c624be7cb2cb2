import json
import math

import pytest
import torch

from audiocraft.data.audio import audio_info, audio_read, audio_write, find_sidecar, read_tags
from audiocraft.data.audio_utils import (
    convert_audio,
    convert_audio_channels,
    loudness_lufs,
    normalize_audio,
)

SR = 16000


def _tones(seconds: float = 1.0, channels: int = 2, sr: int = SR) -> torch.Tensor:
    t = torch.arange(int(seconds * sr)) / sr
    freqs = [440.0, 660.0, 330.0][:channels]
    return torch.stack([0.3 * torch.sin(2 * math.pi * f * t) for f in freqs])  # [C, T]


def _snr_db(ref: torch.Tensor, est: torch.Tensor) -> float:
    noise = (ref - est).pow(2).mean()
    return 10 * math.log10(ref.pow(2).mean().item() / max(noise.item(), 1e-20))


# Lossless formats come back to 16-bit precision; lossy ones to a good SNR.
FORMATS = [("wav", 80.0), ("flac", 80.0), ("ogg", 20.0), ("mp3", 20.0), ("m4a", 20.0)]


@pytest.mark.parametrize("fmt,min_snr", FORMATS)
def test_round_trip_every_format(tmp_path, fmt, min_snr):
    wav = _tones(1.0)
    meta = {"title": "round trip", "artist": "tests", "bpm": 120, "key": "A minor"}
    path = audio_write(tmp_path / "x", wav, SR, format=fmt, strategy="none", metadata=meta)
    assert path.suffix == "." + fmt and path.exists()
    info = audio_info(path)
    assert (info.sample_rate, info.channels) == (SR, 2)
    assert info.duration == pytest.approx(1.0, abs=0.01)
    back, sr = audio_read(path)
    assert sr == SR and back.dtype == torch.float32 and back.shape == wav.shape
    # Lossy codecs smear the abrupt start and end: compare the inside.
    inner = slice(2000, -2000)
    assert _snr_db(wav[:, inner], back[:, inner]) > min_snr
    # Metadata: a sidecar always, tags inside the file too.
    assert json.loads(path.with_name(path.name + ".json").read_text()) == meta
    tags = read_tags(path)
    assert tags["title"] == "round trip" and tags["artist"] == "tests"
    assert json.loads(tags["comment"]) == {"bpm": 120, "key": "A minor"}


@pytest.mark.parametrize("fmt", ["wav", "flac", "mp3", "m4a"])
def test_seek_duration_and_pad(tmp_path, fmt):
    wav = _tones(1.0, channels=1)
    path = audio_write(tmp_path / "x", wav, SR, format=fmt, strategy="none")
    part, _ = audio_read(path, seek_time=0.25, duration=0.5)
    assert part.shape == (1, SR // 2)
    tol = 1e-3 if fmt in ("wav", "flac") else 0.05
    assert (part - wav[:, SR // 4: 3 * SR // 4]).abs().max() < tol
    tail, _ = audio_read(path, seek_time=0.75, duration=0.5, pad=True)
    assert tail.shape == (1, SR // 2)
    assert tail[:, SR // 4 + 100:].abs().max() == 0  # padded past the end
    unpadded, _ = audio_read(path, seek_time=0.75, duration=0.5)
    assert abs(unpadded.shape[-1] - SR // 4) < 0.01 * SR


def test_loudness_normalisation_hits_target(tmp_path):
    # Noise-like music stand-in far from the target level.
    gen = torch.Generator().manual_seed(0)
    wav = 0.02 * torch.randn(2, 3 * SR, generator=gen) + 0.05 * _tones(3.0)
    for target in (14.0, 23.0):
        out = normalize_audio(wav, strategy="loudness", loudness_headroom_db=target,
                              sample_rate=SR)
        assert loudness_lufs(out, SR) == pytest.approx(-target, abs=0.5)
        path = audio_write(tmp_path / f"l{target}", wav, SR, strategy="loudness",
                           loudness_headroom_db=target)
        back, _ = audio_read(path)
        assert loudness_lufs(back, SR) == pytest.approx(-target, abs=0.5)


def test_normalisation_strategies():
    wav = 5.0 * _tones(0.5)  # peak 1.5: over full scale
    peak = normalize_audio(wav, strategy="peak", peak_clip_headroom_db=1.0)
    assert peak.abs().max().item() == pytest.approx(10 ** (-1 / 20), rel=1e-4)
    clip = normalize_audio(wav, strategy="clip", peak_clip_headroom_db=0.0)
    assert clip.abs().max().item() == pytest.approx(1.0)
    rms = normalize_audio(0.01 * _tones(0.5, 1), strategy="rms", rms_headroom_db=20.0)
    assert rms.pow(2).mean().sqrt().item() == pytest.approx(0.1, rel=1e-3)
    assert torch.equal(normalize_audio(wav, strategy="none"), wav)
    assert torch.equal(normalize_audio(wav, normalize=False), wav)
    squashed = normalize_audio(wav, strategy="loudness", loudness_headroom_db=0.0,
                               loudness_compressor=True, sample_rate=SR)
    assert squashed.abs().max() <= 1.0
    with pytest.raises(ValueError, match="peak.*clip.*rms.*loudness.*none"):
        normalize_audio(wav, strategy="loud")


def test_convert_audio_rate_and_channels():
    wav = _tones(0.5, channels=2)
    out = convert_audio(wav, SR, 2 * SR, 1)
    assert out.shape == (1, SR)
    assert torch.allclose(convert_audio(wav, SR, SR, 2), wav)
    assert convert_audio_channels(wav[:1], 2).shape == (2, SR // 2)
    assert convert_audio_channels(_tones(0.5, channels=3), 2).shape == (2, SR // 2)
    with pytest.raises(ValueError, match="only mono can be upmixed"):
        convert_audio_channels(wav, 3)


def test_bad_input_errors_name_the_file_and_the_fix(tmp_path):
    missing = tmp_path / "nope.wav"
    with pytest.raises(FileNotFoundError, match="nope.wav.*Check the path"):
        audio_read(missing)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(ValueError, match=r"notes.txt.*supported extensions.*Convert"):
        audio_read(text)
    good = audio_write(tmp_path / "good", _tones(0.2, 1), SR)
    with pytest.raises(ValueError, match=r"seek_time must be >= 0.*good.wav"):
        audio_read(good, seek_time=-1.0)
    garbage = tmp_path / "garbage.flac"
    garbage.write_bytes(b"\x00\x01not audio" * 100)
    with pytest.raises(RuntimeError, match=r"garbage.flac.*corrupt.*re-export"):
        audio_read(garbage)
    # Five channels do not fit in mp3; [T, C] instead of [C, T] is caught too.
    with pytest.raises(ValueError, match=r"five.*5 channels.*at most 2.*downmix"):
        audio_write(tmp_path / "five", torch.zeros(5, 100), SR, format="mp3")
    with pytest.raises(ValueError, match=r"t_c.*\[C, T\], not \[T, C\]"):
        audio_write(tmp_path / "t_c", torch.zeros(100, 2), SR)
    with pytest.raises(ValueError, match="aiff.*wav.*flac.*ogg.*mp3.*m4a"):
        audio_write(tmp_path / "x", _tones(0.1), SR, format="aiff")


def test_lossy_rates_change_the_file_size(tmp_path):
    wav = 0.1 * torch.randn(1, 2 * SR, generator=torch.Generator().manual_seed(1))
    small = audio_write(tmp_path / "lo", wav, SR, format="ogg", ogg_rate=48_000)
    large = audio_write(tmp_path / "hi", wav, SR, format="ogg", ogg_rate=400_000)
    assert small.stat().st_size < large.stat().st_size
    small = audio_write(tmp_path / "lo", wav, SR, format="mp3", mp3_rate=64)
    large = audio_write(tmp_path / "hi", wav, SR, format="mp3", mp3_rate=320)
    assert small.stat().st_size < large.stat().st_size


def test_sidecar_named_after_the_file_and_only_with_metadata(tmp_path):
    config = tmp_path / "config.json"
    config.write_text('{"unrelated": true}')
    wav = _tones(0.2, 1)
    plain = audio_write(tmp_path / "config", wav, SR)  # no metadata: no sidecar
    assert plain.name == "config.wav" and config.read_text() == '{"unrelated": true}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "config.wav"]
    a = audio_write(tmp_path / "x", wav, SR, metadata={"title": "a"})
    b = audio_write(tmp_path / "x", wav, SR, format="mp3", metadata={"title": "b"})
    assert json.loads((tmp_path / "x.wav.json").read_text()) == {"title": "a"}
    assert json.loads((tmp_path / "x.mp3.json").read_text()) == {"title": "b"}
    assert read_tags(a)["title"] == "a" and read_tags(b)["title"] == "b"  # tags too
    assert find_sidecar(a) == tmp_path / "x.wav.json"
    legacy = audio_write(tmp_path / "old", wav, SR)
    (tmp_path / "old.json").write_text("{}")  # the reference layout's name is still found
    assert find_sidecar(legacy) == tmp_path / "old.json"


def test_failed_write_keeps_the_existing_file(tmp_path, monkeypatch):
    path = audio_write(tmp_path / "x", _tones(0.2, 1), SR)
    before = path.read_bytes()

    class Broken:
        def __init__(self, *args, **kwargs):
            raise RuntimeError("disk full")

    monkeypatch.setattr("audiocraft.data.audio.sf.SoundFile", Broken)
    with pytest.raises(RuntimeError, match="disk full"):
        audio_write(tmp_path / "x", _tones(0.5, 1), SR)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.wav"]  # no temp file left
