"""``audiocraft generate --bpm/--key``: given to the model's tempo/key conditioners,
recorded in the sidecar's command, and refused before generating on a model that has
none."""

import json
import shutil

import pytest
import torch

from audiocraft import cli
from audiocraft.models import builders, loaders
from audiocraft.models.hub import find_file
from audiocraft.recipes.toy_build import compose

SMALL = ["transformer_lm.dim=16", "transformer_lm.num_heads=2", "transformer_lm.num_layers=1",
         "conditioners.description.lut.n_bins=64", "conditioners.description.lut.dim=8"]


@pytest.fixture(scope="module")
def beat_model(tmp_path_factory):
    """A tiny LM with the beat conditioner over the toy codec, as a local model folder."""
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("beat-model")
    cfg = compose("musicgen/toy_lm_bpm", SMALL)
    loaders.export_lm(builders.get_lm_model(cfg), cfg, folder)
    shutil.copy(find_file("toy", "compression_state_dict.bin"), folder)
    return folder


def test_bpm_reaches_the_beat_conditioner(tmp_path, capsys, beat_model):
    out = tmp_path / "a.wav"
    args = ["generate", "a house track", "--model", str(beat_model), "--duration", "1",
            "--seed", "1", "--quiet", "--out"]
    assert cli.main([*args, str(out), "--bpm", "93"]) == 0
    sidecar = json.loads((tmp_path / "a.wav.json").read_text())
    assert sidecar["bpm"] == 93 and "--bpm 93" in sidecar["command"]
    other = tmp_path / "b.wav"
    assert cli.main([*args, str(other), "--bpm", "150"]) == 0
    import soundfile

    assert not (soundfile.read(out)[0] == soundfile.read(other)[0]).all()  # the tempo counts


def test_key_must_be_a_key_and_the_model_must_read_it(tmp_path, capsys, beat_model):
    out = tmp_path / "x.wav"
    code = cli.main(["generate", "x", "--model", str(beat_model), "--duration", "1",
                     "--quiet", "--out", str(out), "--key", "A minor"])
    err = capsys.readouterr().err
    assert code == 2 and "no conditioner on key" in err and "Traceback" not in err
    code = cli.main(["generate", "x", "--model", "toy-melody", "--duration", "1", "--quiet",
                     "--out", str(out), "--bpm", "120"])
    err = capsys.readouterr().err
    assert code == 2 and "no conditioner on bpm" in err and "at 128 bpm" in err
    assert not out.exists()


def test_bad_key_text_is_refused(tmp_path, capsys, monkeypatch, beat_model):
    from audiocraft.models.musicgen import MusicGen

    monkeypatch.setattr(MusicGen, "caption_attributes_read", lambda self: ["bpm", "key"])
    code = cli.main(["generate", "x", "--model", str(beat_model), "--duration", "1",
                     "--quiet", "--out", str(tmp_path / "x.wav"), "--key", "purple"])
    err = capsys.readouterr().err
    assert code == 2 and "is not a key" in err
