"""`--precision` through the CLI and the app's precision control, round trip."""

import json

import numpy as np
import pytest
import soundfile as sf
from test_app import client, form, settings  # noqa: F401  (the module's server fixture)
from test_cli import FAST, run

import app

pytestmark = [  # gradio's queue under pandas 3; not ours
    pytest.mark.filterwarnings("ignore:'future.no_silent_downcasting' is deprecated"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]


@pytest.mark.parametrize("precision", ["int8", "bfloat16"])
def test_cli_generates_in_a_precision_and_records_it(tmp_path, precision):
    out = tmp_path / "song.wav"
    assert run("calm piano", "--duration", "2", "--out", str(out), "--seed", "2",
               "--precision", precision, *FAST) == 0
    wav, sr = sf.read(out)
    assert wav.shape == (2 * sr,) and np.isfinite(wav).all()
    assert json.loads((tmp_path / "song.wav.json").read_text())["precision"] == precision


def test_cli_rejects_an_unknown_precision(tmp_path, capsys):
    with pytest.raises(SystemExit):
        run("x", "--out", str(tmp_path / "a.wav"), "--precision", "int4", *FAST)
    assert "int8" in capsys.readouterr().err  # the choices are listed


def test_app_run_loads_the_model_in_the_precision(tmp_path):
    studio = app.MusicGenApp(device="cpu", output_dir=tmp_path)
    steps = list(studio.run(settings(model="debug", duration=1, window=1), "s",
                            precision="int8"))
    assert studio.models.get("debug", "int8").lm.precision == "int8"
    wav, _ = sf.read(steps[-1].path)
    assert wav.shape[0] > 0 and np.isfinite(wav).all()


def test_server_precision_control(client):  # noqa: F811
    shown, path, status = client.predict(*form(model="debug", duration=1), "float16",
                                         api_name="/generate")
    wav, sr = sf.read(path)
    assert wav.shape[0] == sr and np.isfinite(wav).all()
    with pytest.raises(Exception, match="choices"):  # gradio checks the dropdown
        client.predict(*form(model="debug", duration=1), "int4", api_name="/generate")
