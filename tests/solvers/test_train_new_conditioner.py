"""A new conditioner needs only its class, one registry line and one config file: here
one that embeds the numeric `bpm` attribute of the music data, added to the toy LM,
trained with `train.run` and generating from the exported model."""

import pytest
import torch

from audiocraft.models import builders
from audiocraft.modules.conditioners import (
    CONDITIONERS,
    ConditioningAttributes,
    ConditionType,
    TextConditioner,
)
from audiocraft.train import run


@CONDITIONERS.register("test_number")
class NumberConditioner(TextConditioner):
    """A number given as text (e.g. bpm "120") -> sines and cosines of its log2 at `dim / 2`
    frequencies -> output_proj: one step [B, 1, D]; a null or missing number gives mask 0."""

    def __init__(self, output_dim: int, dim: int = 8):
        super().__init__(dim, output_dim)
        self.freqs = torch.arange(1, dim // 2 + 1).float()  # [dim / 2]

    def tokenize(self, texts: list[str | None]) -> torch.Tensor:
        values = [float(t) if t else float("nan") for t in texts]
        return torch.tensor(values, device=self.output_proj.weight.device)  # [B]

    def forward(self, values: torch.Tensor) -> ConditionType:
        mask = (~values.isnan()).long()[:, None]  # [B, 1]
        angles = torch.log2(values.nan_to_num(1.0))[:, None] * self.freqs.to(values)  # [B, dim/2]
        feats = torch.cat([angles.sin(), angles.cos()], dim=-1)[:, None]  # [B, 1, dim]
        return self.output_proj(feats) * mask[..., None], mask


# Its config file: `config/conditioner/text_bpm_lut.yaml` in a checkout; here written to a
# folder of the test's, added to Hydra's search path. Captions as in text2music_lut, plus
# the `bpm` attribute embedded by the `test_number` model and added to every input step.
CONFIG = """\
# @package __global__
defaults:
  - text2music_lut
  - _self_

fuser:
  sum: [bpm]
conditioners:
  bpm:
    model: test_number
    test_number:
      dim: 8
"""


@pytest.fixture
def bpm(tmp_path) -> list[str]:
    """The overrides that select the config file."""
    (tmp_path / "configs" / "conditioner").mkdir(parents=True)
    (tmp_path / "configs" / "conditioner" / "text_bpm_lut.yaml").write_text(CONFIG)
    return [f"hydra.searchpath=[file://{tmp_path / 'configs'}]", "conditioner=text_bpm_lut"]


def test_lm_config_builds_the_registered_conditioner(make_cfg, bpm):
    provider = builders.get_lm_model(make_cfg("musicgen/toy", *bpm)).condition_provider
    assert isinstance(provider.conditioners["bpm"], NumberConditioner)
    attributes = [ConditioningAttributes(text={"description": "calm piano", "bpm": "120"}),
                  ConditioningAttributes(text={"description": "calm piano"})]  # no bpm: null
    embedding, mask = provider(provider.tokenize(attributes))["bpm"]
    assert embedding.shape == (2, 1, 32) and mask.tolist() == [[1], [0]]
    assert embedding[0].abs().sum() > 0 and embedding[1].abs().sum() == 0


@pytest.mark.slow
def test_new_conditioner_trains_and_generates(make_cfg, bpm):
    result = run(make_cfg("musicgen/toy", *bpm, "optim.epochs=1", "optim.updates_per_epoch=4"))
    losses = torch.tensor(result.train_history)
    assert len(losses) == 4 and torch.isfinite(losses).all()
    # The conditioner took part in training: the optimizer holds gradient moments for its
    # projection (Adam keeps state only for parameters that received a gradient).
    weight = result.solver.lm.condition_provider.conditioners["bpm"].output_proj.weight
    assert result.solver.trainer.optimizers[0].state[weight]["exp_avg"].abs().sum() > 0

    from audiocraft.models.musicgen import MusicGen

    model = MusicGen.get_pretrained(str(result.export_dir))
    assert isinstance(model.lm.condition_provider.conditioners["bpm"], NumberConditioner)
    model.set_generation_params(duration=0.2, top_k=10)
    wav = model.generate(["a calm piano piece"])
    assert wav.shape[:2] == (1, 1) and torch.isfinite(wav).all()
