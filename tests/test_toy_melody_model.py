"""The shipped toy-melody model: its LM file is the one the recipe recorded, it shares
toy's codec, it follows a melody offline, and toy refuses a melody naming it."""

import hashlib
import json

import pytest
import torch

from audiocraft.models import MusicGen, hub
from audiocraft.modules.conditioners import ChromaStemConditioner

MELODY_DIR = hub.SHIPPED_MODELS["toy-melody"]
MAX_LM_BYTES = 15 * 1024 * 1024


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_files_match_the_record_and_share_toys_codec():
    record = json.loads((MELODY_DIR / "checksums.json").read_text())
    assert list(record["files"]) == ["state_dict.bin"]
    lm = MELODY_DIR / "state_dict.bin"
    assert lm.stat().st_size == record["files"]["state_dict.bin"]["bytes"] <= MAX_LM_BYTES
    assert _sha256(lm) == record["files"]["state_dict.bin"]["sha256"]
    codec = hub.find_file("toy-melody", "compression_state_dict.bin")
    assert codec == hub.TOY_MODEL_DIR / "compression_state_dict.bin"
    assert _sha256(codec) == record["shares_codec_of"]["sha256"]
    assert record["recipe"]["tune"]["solver"] == "musicgen/toy_lm_melody"


def test_generates_from_a_melody_offline():
    model = MusicGen.get_pretrained("toy-melody", device="cpu")
    assert isinstance(model.melody_conditioner(), ChromaStemConditioner)
    model.set_generation_params(duration=1.0)
    t = torch.arange(8000) / 8000
    melody = 0.3 * torch.sin(2 * torch.pi * 440 * t)[None]  # [C, T]
    wav = model.generate_with_chroma(["a calm lofi track"], [melody], 8000, seed=0)
    assert wav.shape == (1, 1, 8000) and torch.isfinite(wav).all()


def test_a_melody_on_toy_is_refused_naming_the_models_that_can():
    model = MusicGen.get_pretrained("toy", device="cpu")
    with pytest.raises(ValueError, match="toy-melody"):
        model.generate_with_chroma(["x"], [torch.zeros(1, 800)], 8000)
