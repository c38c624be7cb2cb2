"""Stereo LM training on the mono codec (`solver=musicgen/toy_stereo`): stereo synthetic
data, left/right codebooks interleaved by the solver's codec, an export that loads back
as a stereo model and generates 2-channel audio."""

import pytest
import torch

from audiocraft.data.audio import audio_info
from audiocraft.data.synth import write_dataset
from audiocraft.models.encodec import InterleaveStereoCompressionModel
from audiocraft.models.musicgen import MusicGen
from audiocraft.solvers.config_check import ConfigError
from audiocraft.train import run


@pytest.fixture(scope="module")
def stereo_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("stereo")
    write_dataset(root / "train", num=4, duration=1.5, seed=0, channels=2)
    write_dataset(root / "valid", num=2, duration=1.5, seed=1, channels=2)
    return root


def test_synthetic_data_is_written_in_stereo(stereo_root):
    wav = next((stereo_root / "train").glob("*.wav"))
    assert audio_info(wav).channels == 2


@pytest.mark.slow
def test_stereo_lm_trains_exports_and_generates(make_cfg, stereo_root, tmp_path):
    result = run(make_cfg("musicgen/toy_stereo", f"synthetic.root={stereo_root}",
                          "optim.epochs=1", "optim.updates_per_epoch=3",
                          "dataset.valid_num_samples=2"))
    solver = result.solver
    assert isinstance(solver.compression_model, InterleaveStereoCompressionModel)
    assert len(result.train_history) == 3 and torch.isfinite(torch.tensor(
        result.train_history)).all()
    # Per-codebook losses for all 8 interleaved codebooks.
    assert {"valid/ce_q1", "valid/ce_q8"} <= set(result.metrics)

    model = MusicGen.get_pretrained(str(result.export_dir), device="cpu")
    assert isinstance(model.compression_model, InterleaveStereoCompressionModel)
    model.set_generation_params(duration=0.4, top_k=10)
    wav, codes = model.generate(["a calm piano piece"], return_tokens=True, seed=0)
    assert codes.shape[1] == 8 and wav.shape[:2] == (1, 2) and torch.isfinite(wav).all()


def test_stereo_data_with_a_mono_codec_needs_the_interleave_key(make_cfg, stereo_root):
    cfg = make_cfg("musicgen/toy", f"synthetic.root={stereo_root}", "channels=2")
    with pytest.raises(ConfigError, match="interleave_stereo_codebooks.use=true"):
        run(cfg)
