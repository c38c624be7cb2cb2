"""Training with the audio-reading conditioners, end to end on CPU (tiny random CLAP and
HuBERT folders in place of the official weights): `conditioner=clapemb2music` (audio
embeddings in training, text at sampling) and a style + text recipe; both export, load
and generate."""

import sys
from pathlib import Path

import pytest
import torch

from audiocraft.models.musicgen import MusicGen
from audiocraft.modules.conditioners import CLAPEmbeddingConditioner, StyleConditioner
from audiocraft.train import run

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "modules"))
from clap_fixtures import save_tiny_clap  # noqa: E402
from style_fixtures import save_tiny_encoder  # noqa: E402

SHORT = ["optim.epochs=1", "optim.updates_per_epoch=3", "dataset.valid_num_samples=2"]


@pytest.mark.slow
def test_clap_conditioner_trains_on_audio_and_samples_from_text(make_cfg, tmp_path):
    folder = save_tiny_clap(tmp_path / "clap")
    clap = "conditioners.description.clap"
    result = run(make_cfg("musicgen/toy", "conditioner=clapemb2music", *SHORT,
                          f"{clap}.checkpoint={folder}", f"{clap}.dim=8",
                          f"{clap}.max_audio_length=1", f"{clap}.n_q=2", f"{clap}.bins=16",
                          f"{clap}.kmeans_iters=2"))
    assert len(result.train_history) == 3
    cond = result.solver.lm.condition_provider.conditioners["description"]
    assert isinstance(cond, CLAPEmbeddingConditioner)
    # Trained on audio: k-means fitted the quantiser on the first batch's CLAP embeddings.
    assert bool(cond.quantizer.vq.vq_layers[0]._codebook.inited)
    model = MusicGen.get_pretrained(str(result.export_dir), device="cpu")
    model.set_generation_params(duration=0.4, top_k=10)
    wav = model.generate(["a calm piano piece"], seed=0)
    assert wav.shape[:2] == (1, 1) and torch.isfinite(wav).all()


STYLE_LUT = """\
# @package __global__
defaults:
  - text2music_lut
  - _self_

fuser:
  prepend: [self_wav]
conditioners:
  self_wav:
    model: style
    style:
      sample_rate: ${{sample_rate}}
      encoder_path: {encoder}
      encoder_sample_rate: 8000
      transformer_scale: none
      length: 0.5
      varying_lengths: [0.3, 0.5]
      ds_factor: 5
      n_q_out: 4
      eval_q: 2
      bins: 16
"""


@pytest.mark.slow
def test_style_conditioner_trains_and_generates(make_cfg, tmp_path):
    encoder = save_tiny_encoder(tmp_path / "encoder")
    (tmp_path / "configs" / "conditioner").mkdir(parents=True)
    (tmp_path / "configs" / "conditioner" / "style_lut.yaml").write_text(
        STYLE_LUT.format(encoder=encoder))
    result = run(make_cfg("musicgen/toy", f"hydra.searchpath=[file://{tmp_path / 'configs'}]",
                          "conditioner=style_lut", *SHORT))
    assert len(result.train_history) == 3 and torch.isfinite(
        torch.tensor(result.train_history)).all()
    model = MusicGen.get_pretrained(str(result.export_dir), device="cpu")
    assert isinstance(model.melody_conditioner(), StyleConditioner)
    model.set_generation_params(duration=0.6, top_k=10, cfg_coef_beta=5.0)
    wav = model.generate_with_chroma(["calm piano"], [torch.randn(1, 32000)], 32000, seed=0)
    assert wav.shape[:2] == (1, 1) and torch.isfinite(wav).all()
