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
