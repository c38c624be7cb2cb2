"""StreamingAudioWriter: chunks appended to a file read back as one signal."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from audiocraft.utils.stream_writer import StreamingAudioWriter


@pytest.mark.parametrize("format", ["wav", "flac", "ogg", "mp3"])
def test_chunks_concatenate_in_the_file(tmp_path, format):
    wav = 0.5 * torch.sin(torch.arange(16000) / 7.0).repeat(2, 1)  # [2, T]
    path = tmp_path / f"x.{format}"
    with StreamingAudioWriter(path, 16000, 2, format, tags={"title": "t"}) as writer:
        for chunk in wav.split([1000, 5000, 10000], dim=-1):
            writer.write(chunk)
    assert writer.samples == 16000
    data, sr = sf.read(path)
    assert sr == 16000 and data.shape[1] == 2
    if format in ("wav", "flac"):  # lossless
        assert data.shape[0] == 16000
        np.testing.assert_allclose(data.T, wav.numpy(), atol=1e-4)
    else:
        assert abs(data.shape[0] - 16000) < 3000


def test_bad_chunk_and_format(tmp_path):
    with pytest.raises(ValueError, match="Cannot stream"):
        StreamingAudioWriter(tmp_path / "x.m4a", 16000, 1, "m4a")
    with StreamingAudioWriter(tmp_path / "y.wav", 16000, 1) as writer:
        with pytest.raises(ValueError, match=r"\[1, n\]"):
            writer.write(torch.zeros(2, 10))


def test_wav_header_is_current_after_every_chunk(tmp_path):
    """A reader (or a kill) between chunks sees a valid WAV holding what was written."""
    path = tmp_path / "growing.wav"
    wav = 0.25 * torch.sin(torch.arange(8000) / 5.0)[None]  # [1, T]
    with StreamingAudioWriter(path, 8000, 1, "wav") as writer:
        for n, chunk in enumerate(wav.split(2000, dim=-1), 1):
            writer.write(chunk)
            raw = path.read_bytes()
            riff_size = int.from_bytes(raw[4:8], "little")
            assert riff_size == len(raw) - 8  # the RIFF size is rewritten, not left at 0
            data, _ = sf.read(path, dtype="float32")
            np.testing.assert_allclose(data, wav[0, : 2000 * n].numpy(), atol=1e-6)


def test_the_file_appears_with_its_first_chunk_and_an_old_one_stays_until_then(tmp_path):
    path = tmp_path / "song.wav"
    path.write_bytes(b"the old file")
    writer = StreamingAudioWriter(path, 8000, 1, "wav")
    assert path.read_bytes() == b"the old file"  # nothing written yet: the old file stays
    writer.write(torch.zeros(1, 800))
    assert sf.info(str(path)).frames == 800
    writer.close()
    assert [p.name for p in tmp_path.iterdir()] == ["song.wav"]  # no temporary file left


@pytest.mark.parametrize("format", ["wav", "flac"])
def test_a_failure_before_any_audio_keeps_the_old_file(tmp_path, format):
    path = tmp_path / f"song.{format}"
    path.write_bytes(b"the old file")
    with pytest.raises(ValueError, match=r"Expected a \[1, n\] chunk"):
        with StreamingAudioWriter(path, 8000, 1, format) as writer:
            writer.write(torch.zeros(2, 800))  # wrong channels
    assert path.read_bytes() == b"the old file"
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
