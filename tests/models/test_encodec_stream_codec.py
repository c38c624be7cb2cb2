"""Streaming decode: chunked output equals one-shot decode, and memory stays flat with
the length of the codes."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from audiocraft.models import builders, loaders

FIXTURES = Path(__file__).parents[1] / "fixtures" / "audiocraft"


@pytest.fixture(scope="module")
def model():
    return loaders.load_compression_model(FIXTURES / "compression_state_dict.bin")


@pytest.mark.parametrize("sizes", [[1], [7], [3, 11, 1], [200]])
def test_stream_equals_one_shot(model, sizes):
    codes = torch.randint(0, 2048, (2, 4, 37))  # [B, K, T_f]
    with torch.no_grad():
        full = model.decode(codes)
    pieces, start, i = [], 0, 0
    with model.stream_decoder() as decoder:
        while start < codes.shape[-1]:
            size = sizes[i % len(sizes)]
            pieces.append(decoder.decode(codes[..., start : start + size]))
            start, i = start + size, i + 1
        pieces.append(decoder.flush())
    streamed = torch.cat(pieces, dim=-1)
    assert streamed.shape == full.shape == (2, 1, 37 * 640)
    assert (streamed - full).abs().max() < 1e-5
    # audio comes out while codes go in, not only at the end
    assert sum(p.shape[-1] for p in pieces[:-1]) > 0


def test_stream_decoder_misuse(model):
    decoder = model.stream_decoder()
    decoder.decode(torch.zeros(1, 4, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="Batch size changed"):
        decoder.decode(torch.zeros(2, 4, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="out of range"):
        decoder.decode(torch.full((1, 4, 3), 4096))
    decoder.flush()
    with pytest.raises(RuntimeError, match="flushed"):
        decoder.decode(torch.zeros(1, 4, 3, dtype=torch.long))


def test_stream_with_renormalize_scale():
    cfg = OmegaConf.create(builders.DEBUG_COMPRESSION_CFG)
    cfg.encodec.renormalize = True
    model = builders.get_compression_model(cfg).eval()
    wav = torch.randn(2, 1, 5 * 1280) * torch.tensor([0.1, 2.0]).view(2, 1, 1)
    with torch.no_grad():
        codes, scale = model.encode(wav)
        assert scale is not None and scale.shape == (2, 1)
        full = model.decode(codes, scale)
        streamed = torch.cat(list(model.decode_stream(codes, chunk_frames=2, scale=scale)), dim=-1)
    assert (streamed - full).abs().max() < 1e-5


def test_stream_state_does_not_grow(model):
    decoder = model.stream_decoder()
    sizes = []
    for _ in range(60):
        decoder.decode(torch.randint(0, 2048, (1, 4, 1)))
        sizes.append(decoder.state_numel())
    assert max(sizes[30:]) <= max(sizes[:30])


_PEAK_RSS = """
import resource, sys, torch
from audiocraft.models import builders
model = builders.get_debug_compression_model()
frames = int(float(sys.argv[1]) * model.frame_rate)
chunk = 50
rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
total = 0
with model.stream_decoder() as decoder:
    for start in range(0, frames, chunk):
        codes = torch.randint(0, model.cardinality, (1, 4, min(chunk, frames - start)))  # [B, K, t]
        total += decoder.decode(codes).shape[-1]
    total += decoder.flush().shape[-1]
assert total == frames * 1280, total
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before)
"""


def _peak_rss_growth_kb(seconds: float) -> int:
    out = subprocess.run(
        [sys.executable, "-c", _PEAK_RSS, str(seconds)],
        capture_output=True,
        text=True,
        check=True,
        env={"OMP_NUM_THREADS": "1", "PATH": ""},
    )
    return int(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_ten_minutes_decode_with_the_memory_of_a_few_seconds():
    short = _peak_rss_growth_kb(4.0)
    long = _peak_rss_growth_kb(
        600.0
    )  # 19.2 M samples: one-shot decode would hold ~0.3 GB per layer
    assert long < short + 32 * 1024, (short, long)  # KB: at most 32 MB more than 4 s
