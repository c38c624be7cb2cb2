import math

import numpy as np
import pytest
import torch
from transformers.audio_utils import chroma_filter_bank as reference_filter_bank

from audiocraft.modules.chroma import ChromaExtractor, chroma_filter_bank


@pytest.mark.parametrize("sample_rate,n_fft", [(32000, 4096), (32000, 16384), (22050, 2048)])
def test_filter_bank_matches_the_reference_formula(sample_rate, n_fft):
    ours = chroma_filter_bank(sample_rate, n_fft)
    ref = reference_filter_bank(num_frequency_bins=n_fft, num_chroma=12,
                                sampling_rate=sample_rate, tuning=0)
    assert ours.shape == (12, n_fft // 2 + 1)
    np.testing.assert_allclose(ours, ref, atol=1e-6)


def _tone(freq: float, sr: int = 32000, seconds: float = 1.0) -> torch.Tensor:
    t = torch.arange(int(sr * seconds)) / sr
    return torch.sin(2 * math.pi * freq * t)[None, None]  # [1, 1, T]


def test_defaults_and_pitch_classes():
    chroma = ChromaExtractor(32000)
    assert (chroma.winlen, chroma.nfft, chroma.winhop, chroma.n_chroma) == (4096, 4096, 1024, 12)
    names = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]
    for freq, name in [(440.0, "A"), (261.63, "C"), (392.0, "G"), (329.63, "E")]:
        out = chroma(_tone(freq))
        assert out.shape == (1, chroma.num_frames(32000), 12)
        assert torch.allclose(out.amax(-1), torch.ones(1))  # max-normalised frames
        assert names[int(out[0, 5:-5].mean(0).argmax())] == name


def test_argmax_one_hot_and_null_input():
    chroma = ChromaExtractor(32000, radix2_exp=14, argmax=True)
    assert chroma.winhop == 4096
    out = chroma(_tone(440.0, seconds=2.0))
    assert ((out == 0) | (out == 1)).all() and (out.sum(-1) == 1).all()
    null = chroma(torch.zeros(2, 1, 1))
    assert null.shape == (2, chroma.num_frames(1), 12)
    with pytest.raises(ValueError, match="mono"):
        chroma(torch.zeros(1, 2, 100))
