"""`python -m audiocraft.eval`: the toy model on a small synthetic set with the offline
metrics writes samples, results.json and the report; a guidance sweep writes the
comparison table; bad inputs give clear messages and no report passed off as complete."""

import json

import pytest

from audiocraft import eval as ev
from audiocraft.data.manifest import load_audio_meta, save_audio_meta
from audiocraft.data.synth import write_dataset

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Two 1 s synthetic pieces and a corrupt file, all in the manifest."""
    root = tmp_path_factory.mktemp("data")
    write_dataset(root, num=2, duration=1.0, seed=7, sample_rate=32000)
    metas = load_audio_meta(root / "data.jsonl")
    (root / "broken.wav").write_bytes(b"RIFF not really a wav file")
    bad = type(metas[0])(str(root / "broken.wav"), 1.0, 32000)
    save_audio_meta(root / "data.jsonl", [metas[0], bad, metas[1]])
    return root


def _args(data, out, *extra):
    return ["--model", "toy", "--data", str(data / "data.jsonl"), "--out", str(out),
            "--batch", "2", "--top-k", "50", *extra]


def test_toy_model_offline_metrics_write_results_and_report(data, tmp_path, capsys):
    out = tmp_path / "run"
    code = ev.main(_args(data, out, "--metrics", "fad_codec,tempo,key,fad_vggish",
                         "--duration", "1.2", "--drift-window", "0.5",
                         "--weights", str(tmp_path / "no_weights")))
    printed = capsys.readouterr().out
    assert code == 1  # fad_vggish has no weights: incomplete
    results = json.loads((out / "results.json").read_text())
    assert results["complete"] is False
    assert "vggish-10086976.pth" in results["fad_vggish"]["unavailable"]
    assert results["fad_codec"]["fad"] >= 0
    assert results["tempo"]["tempo_count"] == 2
    assert 0 <= results["key"]["key_accuracy"] <= 1
    assert list(results["skipped"]) == [str(data / "broken.wav")]
    assert any("shorter than --duration" in w for w in results["warnings"])
    assert results["settings"]["duration"] == 1.2
    # Samples with sidecars, deterministic ids.
    ids = [s["id"] for s in results["samples"]]
    assert len(ids) == 2
    for sid in ids:
        assert (out / f"{sid}.wav").exists()
        side = json.loads((out / f"{sid}.json").read_text())
        assert side["id"] == sid and side["description"]
    assert ids == [ev.sample_id(i, "toy", results["samples"][i]["settings"], item)
                   for i, item in enumerate(ev.load_items(data / "data.jsonl", 2, 1.2)[0])]
    # Drift: 1.2 s pieces in 0.5 s windows -> 2 windows, the first at distance 0.
    drift = next(iter(results["drift"].values()))
    assert len(drift["bpm"]) == 2 and drift["distance"][0] == 0
    report = (out / "report.md").read_text()
    assert "INCOMPLETE" in report and "fad_vggish" in report and "broken.wav" in report
    assert (out / "report.html").exists()
    pictures = {p.name for p in (out / "figures").iterdir()}
    assert {f"spec_{sid}.png" for sid in ids} <= pictures
    assert "metric_fad_codec.png" in pictures and any(p.startswith("drift_") for p in pictures)
    assert "1/2 samples" not in printed and "2/2 samples generated" in printed
    assert "skipping" in printed


def test_guidance_sweep_writes_the_comparison_table(data, tmp_path):
    out = tmp_path / "sweep"
    code = ev.main(_args(data, out, "--metrics", "tempo,key", "--duration", "0.5",
                         "--num", "1", "--sweep", "cfg_coef=1,3"))
    assert code == 0
    table = json.loads((out / "sweep.json").read_text())
    assert table["complete"] is True
    assert table["columns"][:3] == ["run", "cfg_coef", "complete"]
    assert [row[1] for row in table["rows"]] == [1.0, 3.0]
    assert (out / "toy_cfg_coef1.0" / "results.json").exists()
    assert (out / "toy_cfg_coef3.0" / "report.md").exists()
    md = (out / "sweep.md").read_text()
    assert "toy_cfg_coef1.0" in md and "key.key_accuracy" in md


def test_unknown_metric_exits_naming_it_and_the_known_ones(data, tmp_path, capsys):
    code = ev.main(_args(data, tmp_path / "x", "--metrics", "tempo,fadd"))
    err = capsys.readouterr().err
    assert code == 2 and "'fadd'" in err and "fad_codec" in err
    assert not (tmp_path / "x").exists()


def test_missing_checkpoint_is_a_clear_error(data, tmp_path, capsys):
    code = ev.main(["--model", str(tmp_path / "nope"), "--data", str(data), "--metrics", "tempo",
                    "--out", str(tmp_path / "x"), "--duration", "0.5"])
    err = capsys.readouterr().err
    assert code == 2 and "cannot load the model" in err and "nope" in err
    assert not (tmp_path / "x" / "results.json").exists()


def test_missing_manifest_and_all_corrupt_data(tmp_path, capsys):
    assert ev.main(_args(tmp_path, tmp_path / "x", "--metrics", "tempo")) == 2
    assert "Manifest not found" in capsys.readouterr().err
    (tmp_path / "bad.wav").write_bytes(b"junk")
    (tmp_path / "data.jsonl").write_text(json.dumps(
        {"path": str(tmp_path / "bad.wav"), "duration": 1.0, "sample_rate": 32000}) + "\n")
    assert ev.main(_args(tmp_path, tmp_path / "x", "--metrics", "tempo")) == 2
    assert "no readable item" in capsys.readouterr().err


def test_bad_sweep_is_a_clear_error(data, tmp_path, capsys):
    assert ev.main(_args(data, tmp_path / "x", "--metrics", "tempo", "--sweep", "cfg=1,2")) == 2
    assert "KEY=V1,V2" in capsys.readouterr().err


def test_a_metric_that_cannot_score_makes_the_run_incomplete(data, tmp_path):
    """Items without sidecars have no bpm label: tempo fails, and the run says so."""
    bare = tmp_path / "bare"
    bare.mkdir()
    metas = [m for m in load_audio_meta(data / "data.jsonl") if "piece" in m.path]
    for m in metas:
        m.info_path = None
    save_audio_meta(bare / "data.jsonl", metas)
    out = tmp_path / "run"
    code = ev.main(["--model", "toy", "--data", str(bare), "--out", str(out), "--metrics",
                    "tempo,fad_codec", "--duration", "0.5", "--fad-inf", "--top-k", "50"])
    assert code == 1
    results = json.loads((out / "results.json").read_text())
    assert results["complete"] is False and "bpm labels" in results["tempo"]["error"]
    assert "fad_inf" in results["fad_codec"]
    assert "INCOMPLETE" in (out / "report.md").read_text()


def test_two_models_give_one_comparison(data, tmp_path):
    out = tmp_path / "models"
    code = ev.main(["--model", "toy", "--model", "debug", "--data", str(data), "--out", str(out),
                    "--metrics", "key", "--duration", "0.5", "--num", "1", "--top-k", "50"])
    assert code == 0
    table = json.loads((out / "sweep.json").read_text())
    assert [row[0] for row in table["rows"]] == ["toy", "debug"]
    assert (out / "debug" / "results.json").exists()
