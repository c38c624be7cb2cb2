import gzip
import json
import math
import shutil

import pytest
import torch

from audiocraft.data.audio import audio_write
from audiocraft.data.manifest import (
    AudioMeta,
    build_manifest,
    load_audio_meta,
    main,
    report_path,
    save_audio_meta,
)

SR = 8000


def _tone(seconds: float, amp: float = 0.5) -> torch.Tensor:
    t = torch.arange(int(seconds * SR)) / SR
    return amp * torch.sin(2 * math.pi * 220 * t)[None]  # [1, T]


@pytest.fixture
def messy_folder(tmp_path):
    root = tmp_path / "audio"
    (root / "sub").mkdir(parents=True)
    audio_write(root / "a", _tone(1.0), SR, strategy="none")
    audio_write(root / "sub" / "b", _tone(2.0, 0.25), SR, format="flac", strategy="none",
                metadata={"description": "a low hum"})
    (root / "corrupt.wav").write_bytes(b"RIFF" + bytes(range(256)) * 4)
    (root / "empty.flac").write_bytes(b"")
    # A real FLAC file wearing a .wav name.
    flac = audio_write(tmp_path / "real", _tone(0.5), SR, format="flac", strategy="none")
    shutil.copy(flac, root / "mislabelled.wav")
    audio_write(root / "silent", torch.zeros(1, 0), SR, strategy="none")  # header only
    (root / "notes.txt").write_text("not audio, not listed")
    return root


def test_manifest_keeps_good_files_and_reports_bad_ones(messy_folder, tmp_path):
    result = build_manifest(messy_folder, workers=2, complete=True)
    good = {m.path.split("/")[-1]: m for m in result.good}
    assert sorted(good) == ["a.wav", "b.flac"]
    assert good["a.wav"].duration == pytest.approx(1.0)
    assert good["a.wav"].sample_rate == SR
    assert good["a.wav"].amplitude == pytest.approx(0.5, abs=1e-3)
    assert good["b.flac"].amplitude == pytest.approx(0.25, abs=1e-3)
    assert good["b.flac"].info_path is not None and good["b.flac"].info_path.endswith("b.flac.json")
    bad = {b.path.split("/")[-1]: b.reason for b in result.bad}
    assert sorted(bad) == ["corrupt.wav", "empty.flac", "mislabelled.wav", "silent.wav"]
    assert "empty" in bad["empty.flac"]
    assert "mislabelled" in bad["mislabelled.wav"] and "FLAC" in bad["mislabelled.wav"]
    assert "unreadable" in bad["corrupt.wav"]
    assert "duration 0" in bad["silent.wav"]


def test_manifest_cli_writes_gzip_and_report(messy_folder, tmp_path, capsys):
    out = tmp_path / "m" / "train.jsonl.gz"
    assert main([str(messy_folder), str(out), "--workers", "2"]) == 0
    with gzip.open(out, "rt") as f:
        lines = [json.loads(line) for line in f]
    assert len(lines) == 2
    for line in lines:  # exactly the reference keys
        assert set(line) == {"path", "duration", "sample_rate", "amplitude", "weight",
                             "info_path"}
    report = report_path(out)
    assert report.name == "train.bad.jsonl"
    rejected = [json.loads(line) for line in report.read_text().splitlines()]
    assert len(rejected) == 4 and all(r["reason"] for r in rejected)
    assert "4 unreadable files" in capsys.readouterr().err
    assert [m.duration for m in sorted(load_audio_meta(out))] == [1.0, 2.0]


def test_reference_manifest_lines_load(tmp_path):
    # A line as the reference writes it, plus a relative path next to the manifest.
    audio_write(tmp_path / "rel", _tone(0.5), SR)
    manifest = tmp_path / "data.jsonl"
    manifest.write_text(
        '{"path": "/x/song.wav", "duration": 3.5, "sample_rate": 44100, "amplitude": null, '
        '"weight": null, "info_path": null}\n'
        '{"path": "rel.wav", "duration": 0.5, "sample_rate": 8000, "extra_key": 1}\n'
    )
    metas = load_audio_meta(tmp_path)  # a folder holding data.jsonl works too
    assert metas[0] == AudioMeta("/x/song.wav", 3.5, 44100)
    assert metas[1].path == str(tmp_path / "rel.wav")
    save_audio_meta(tmp_path / "copy.jsonl", metas)
    assert load_audio_meta(tmp_path / "copy.jsonl") == metas
    with pytest.raises(FileNotFoundError, match="python -m audiocraft.data.manifest"):
        load_audio_meta(tmp_path / "missing.jsonl")
    (tmp_path / "broken.jsonl").write_text('{"path": "a.wav"}\n')
    with pytest.raises(ValueError, match=r"broken.jsonl:1.*duration"):
        load_audio_meta(tmp_path / "broken.jsonl")
