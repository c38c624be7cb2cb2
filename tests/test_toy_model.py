"""The shipped toy model: its files are the ones the recipe recorded, they load through the
same loader as official hub-format weights, and they generate audio."""

import hashlib
import json

import pytest
import torch

from audiocraft.models import MusicGen, hub, loaders
from audiocraft.models.loaders import TOY_MODEL_DIR, MissingWeightsError

HUB_FILES = ("state_dict.bin", "compression_state_dict.bin")
MAX_SHIPPED_BYTES = 30 * 1024 * 1024


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def toy():
    return MusicGen.get_pretrained("toy", device="cpu")


def _sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_checksums_match_the_recipe_record():
    record = json.loads((TOY_MODEL_DIR / "checksums.json").read_text())
    assert sorted(record["files"]) == sorted(HUB_FILES)
    for name, entry in record["files"].items():
        path = TOY_MODEL_DIR / name
        assert path.stat().st_size == entry["bytes"], name
        assert _sha256(path) == entry["sha256"], name
    assert record["recipe"]["command"].startswith("python scripts/build_toy_model.py")
    # A refined model (--tune-from) records its parent's record: the lineage leads back to
    # a build that trained the codec and the LM.
    # A re-export (--reexport) records the record of the files it shipped again.
    while "tune_from" in record["recipe"] or "reexport_from" in record["recipe"]:
        if "tune_from" in record["recipe"]:
            assert "tune_s" in record["wall_time_s"]
            record = record["recipe"]["tune_from"]["record"]
        else:
            record = record["recipe"]["reexport_from"]["record"]
    assert set(record["wall_time_s"]) >= {"codec_s", "lm_s"}


def test_shipped_files_fit_the_size_budget():
    total = sum(p.stat().st_size for p in TOY_MODEL_DIR.iterdir() if p.is_file())
    assert total <= MAX_SHIPPED_BYTES


def test_files_are_audiocraft_hub_format():
    lm_pkg = loaders.load_lm_model_ckpt(TOY_MODEL_DIR)
    codec_pkg = loaders.load_compression_model_ckpt(TOY_MODEL_DIR)
    for pkg in (lm_pkg, codec_pkg):
        assert {"best_state", "xp.cfg", "version", "exported"} <= set(pkg)
        assert isinstance(pkg["xp.cfg"], str)
    # The LM reads captions through the offline lookup-table conditioner.
    assert "lut" in lm_pkg["xp.cfg"]


def test_get_pretrained_toy_uses_the_hub_loader(toy):
    lm = loaders.load_lm_model(TOY_MODEL_DIR)
    codec = loaders.load_compression_model("toy")
    for ours, theirs in ((toy.lm, lm), (toy.compression_model, codec)):
        expected = theirs.state_dict()
        got = ours.state_dict()
        assert sorted(got) == sorted(expected)
        for key, value in expected.items():
            assert torch.equal(got[key], value), key
    assert toy.sample_rate == codec.sample_rate == 8000
    assert toy.lm.card == codec.cardinality and toy.lm.n_q == codec.num_codebooks


@pytest.mark.parametrize("part", ["lm", "codec"])
def test_weights_ship_in_the_recorded_dtype_and_load_in_float32(toy, part):
    record = json.loads((TOY_MODEL_DIR / "checksums.json").read_text())
    if part == "lm":
        state = loaders.load_lm_model_ckpt(TOY_MODEL_DIR)["best_state"]
        model = toy.lm
    else:
        state = loaders.load_compression_model_ckpt(TOY_MODEL_DIR)["best_state"]
        model = toy.compression_model
    dtype = getattr(torch, record["recipe"][f"ship_{part}_dtype"])
    stored = {k: v.dtype for k, v in state.items() if v.is_floating_point()}
    # Every weight is in the recorded dtype; only values float16 cannot hold stay float32.
    kept = [k for k, d in stored.items() if d != dtype]
    assert all(stored[k] == torch.float32 and state[k].abs().max() > 65504 for k in kept), kept
    assert len(kept) < len(stored) / 10
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    # float16 -> float32 is exact: the loaded weights are the stored ones.
    loaded = model.state_dict()
    for key, value in state.items():
        assert torch.equal(loaded[key], value.to(loaded[key].dtype)), key


def test_toy_generates_a_short_clip_reproducibly(toy):
    toy.set_generation_params(duration=0.6)  # 15 frames of 25 Hz
    caption = ["An upbeat house track in A minor at 124 BPM, with square lead and drums."]
    wav = toy.generate(caption, seed=3)
    again = toy.generate(caption, seed=3)
    assert wav.shape == (1, 1, int(0.6 * toy.sample_rate))
    assert torch.isfinite(wav).all()
    assert wav.abs().max() > 1e-3  # not silence
    assert torch.equal(wav, again)


def test_missing_toy_files_say_how_to_build_them(tmp_path, monkeypatch):
    monkeypatch.setattr(hub, "TOY_MODEL_DIR", tmp_path / "toy")
    with pytest.raises(MissingWeightsError, match="build_toy_model.py"):
        loaders.load_lm_model("toy")
