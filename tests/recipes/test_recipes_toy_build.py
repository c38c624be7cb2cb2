"""The toy model's build recipe (audiocraft.recipes.toy_build, the command line of
scripts/build_toy_model.py): stage overrides, resumable stages, parents, shipping and
re-exporting hub files."""

import argparse
import hashlib
import json
import shutil

import pytest
import torch

from audiocraft.models import MusicGen, loaders
from audiocraft.models.loaders import TOY_MODEL_DIR
from audiocraft.recipes import toy_build as recipe

HUB_FILES = ("state_dict.bin", "compression_state_dict.bin")


pytestmark = pytest.mark.usefixtures("one_thread")


def _sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_float16_shipping_keeps_what_float16_cannot_hold(tmp_path):
    state = {"w": torch.randn(3), "count": torch.tensor([1.0, 7e4]), "n": torch.tensor([3])}
    torch.save({"best_state": state, "xp.cfg": {}}, tmp_path / "a.bin")
    recipe.write_hub_file(tmp_path / "a.bin", tmp_path / "b.bin", "float16")
    half = loaders.read_hub_file(tmp_path / "b.bin")["best_state"]
    assert half["w"].dtype == torch.float16 and torch.equal(half["w"], state["w"].half())
    assert half["count"].dtype == torch.float32 and torch.equal(half["count"], state["count"])
    assert torch.equal(half["n"], state["n"])
    # Shipping float16 files again in float16 changes nothing: the same bytes.
    recipe.write_hub_file(tmp_path / "b.bin", tmp_path / "c.bin", "float16")
    assert (tmp_path / "c.bin").read_bytes() == (tmp_path / "b.bin").read_bytes()


def test_reexport_ships_the_same_weights_with_a_default_guidance(tmp_path):
    out, work = tmp_path / "out", tmp_path / "work"
    assert recipe.main(["--reexport", "toy", "--work", str(work), "--out", str(out),
                        "--cfg-coef", "2,5,5,5"]) == 0
    record = json.loads((out / "checksums.json").read_text())
    shipped = json.loads((TOY_MODEL_DIR / "checksums.json").read_text())
    assert record["recipe"]["cfg_coef"] == [2.0, 5.0, 5.0, 5.0]
    assert record["recipe"]["reexport_from"]["record"] == shipped
    for name, entry in record["files"].items():
        assert _sha256(out / name) == entry["sha256"], name
    # The codec's file is the same; the LM's has the same weights and the new guidance.
    name = "compression_state_dict.bin"
    assert (out / name).read_bytes() == (TOY_MODEL_DIR / name).read_bytes()
    new = loaders.read_hub_file(out / "state_dict.bin")
    old = loaders.read_hub_file(TOY_MODEL_DIR / "state_dict.bin")
    assert new["best_state"].keys() == old["best_state"].keys()
    assert all(torch.equal(new["best_state"][k], v) for k, v in old["best_state"].items())
    model = MusicGen.get_pretrained(str(out), device="cpu")
    assert model.lm.cfg_coef == [2.0, 5.0, 5.0, 5.0]
    assert model.generation_params["cfg_coef"] == [2.0, 5.0, 5.0, 5.0]


def test_reexport_trains_nothing_else(tmp_path, capsys):
    with pytest.raises(SystemExit):
        recipe.main(["--reexport", "toy", "--tune-from", "toy", "--work", str(tmp_path)])
    assert "--reexport trains nothing" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        recipe.main(["--reexport", "toy", "--cfg-coef", "3,x", "--work", str(tmp_path)])
    assert "Cannot read the guidance coefficient" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def _build_codec(work, *extra):
    """The recipe's codec stage, shrunk to seconds: 2-piece data set, 3 updates."""
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    cmd = [sys.executable, str(repo / "scripts" / "build_toy_model.py"), "--work", str(work),
           "--stop-after", "codec", "--codec-steps", "100", "--num-train", "2",
           "--num-valid", "2", "--piece-seconds", "1.0", "--seed", "5",
           "--codec-override", "optim.updates_per_epoch=3",
           "--codec-override", "dataset.batch_size=2",
           "--codec-override", "dataset.segment_duration=0.5",
           "--codec-override", "dataset.valid_num_samples=2",
           "--codec-override", "rvq.kmeans_iters=1", "--codec-cycles", "1", *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_recipe_is_deterministic_and_resumes(tmp_path):
    runs = [tmp_path / "a", tmp_path / "b"]
    for work in runs:
        done = _build_codec(work)
        assert done.returncode == 0, done.stderr[-2000:]
    a, b = (loaders.load_compression_model_ckpt(w / "codec" / "export")["best_state"]
            for w in runs)
    assert sorted(a) == sorted(b)
    for key in a:
        assert torch.equal(a[key], b[key]), key
    again = _build_codec(runs[0])
    assert again.returncode == 0 and "already built" in again.stdout
    # A second codec cycle continues from the first, which is not trained again.
    cycled = _build_codec(runs[0], "--codec-cycles", "2")
    assert cycled.returncode == 0, cycled.stderr[-2000:]
    assert "[codec] already built" in cycled.stdout and "[codec_c2] training" in cycled.stdout
    c2 = loaders.load_compression_model_ckpt(runs[0] / "codec_c2" / "export")["best_state"]
    assert sorted(c2) == sorted(a) and any(not torch.equal(a[k], c2[k]) for k in a)


def test_the_continuation_fine_tune_cuts_longer_pieces_anywhere(tmp_path):
    args = argparse.Namespace(work=str(tmp_path), seed=3, num_valid=4, tune_steps=200,
                              tune_piece_seconds=12.0, num_train_tune=64, piece_seconds=6.0,
                              tune_segment_seconds=None, tune_override=["optim.lr=3e-5"])
    ov = dict(o.split("=", 1) for o in recipe.tune_stage_overrides(
        args, tmp_path / "codec" / "export", tmp_path / "lm" / "export"))
    assert ov["continue_from"] == str(tmp_path / "lm" / "export")
    assert ov["compression_model_checkpoint"] == str(tmp_path / "codec" / "export")
    # Pieces twice the segment, cut anywhere; seeds apart from the codec's and LM's data.
    assert float(ov["synthetic.duration"]) == 12.0 and float(ov["dataset.segment_duration"]) == 6.0
    assert float(ov["dataset.min_segment_ratio"]) < 1.0
    assert {ov["synthetic.train.seed"], ov["synthetic.valid.seed"]}.isdisjoint({"3", "4"})
    assert "cache.path" not in ov and ov["optim.epochs"] == "2"
    assert ov["optim.lr"] == "3e-5"  # the user's override comes last and wins
    assert ov["synthetic.root"] == str(tmp_path / "data_tune")
    # A longer segment widens the window of the exported LM; it must fit in the pieces.
    args.tune_segment_seconds, args.tune_piece_seconds = 12.0, 24.0
    ov = dict(o.split("=", 1) for o in recipe.tune_stage_overrides(
        args, tmp_path / "codec" / "export", tmp_path / "lm" / "export"))
    assert float(ov["dataset.segment_duration"]) == 12.0
    assert float(ov["synthetic.duration"]) == 24.0


def test_the_fine_tune_segment_must_fit_in_its_pieces(tmp_path, capsys):
    with pytest.raises(SystemExit):
        recipe.main(["--work", str(tmp_path), "--tune-segment-seconds", "13",
                     "--tune-piece-seconds", "12"])
    assert "--tune-segment-seconds 13.0 must be" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_codec_cycles_continue_from_the_previous_cycle(tmp_path):
    args = argparse.Namespace(work=str(tmp_path), seed=3, num_valid=4, num_train=16,
                              piece_seconds=6.0, codec_steps=300,
                              codec_override=["mrstft.sc_octaves=6"])
    first = tmp_path / "codec" / "export"
    ov = dict(o.split("=", 1) for o in recipe.codec_cycle_overrides(args, 2, first))
    assert ov["continue_from"] == str(first)
    assert ov["run_dir"] == str(tmp_path / "codec_c2")
    # The codec stage's data and seed, another full schedule, the user's overrides last.
    assert ov["synthetic.root"] == str(tmp_path / "data") and ov["seed"] == "3"
    assert ov["optim.epochs"] == "3" and ov["mrstft.sc_octaves"] == "6"
    first_ov = dict(o.split("=", 1) for o in recipe.codec_cycle_overrides(args))
    assert "continue_from" not in first_ov and first_ov["run_dir"] == str(tmp_path / "codec")
    with pytest.raises(SystemExit):
        recipe.main(["--codec-cycles", "0", "--work", str(tmp_path)])


def test_codec_from_starts_the_cycles_from_a_built_model(tmp_path, monkeypatch):
    src = _hub_folder(tmp_path / "model")
    work = tmp_path / "work"
    args = argparse.Namespace(work=str(work), seed=0, num_valid=4, num_train=16,
                              piece_seconds=6.0, codec_steps=300, codec_cycles=2,
                              codec_override=[], codec_from=str(src), stop_after="codec",
                              lm_steps=300, num_train_lm=16)
    trained = []

    def fake_stage(name, solver, overrides, done_file, timings):
        trained.append((name, dict(o.split("=", 1) for o in overrides)))
        return done_file.parent

    monkeypatch.setattr(recipe, "run_stage", fake_stage)
    codec_export, _, stages = recipe.train_codec_and_lm(args, work, {})
    # The first cycle continues from the copied codec, the next from the first's export.
    assert [name for name, _ in trained] == ["codec", "codec_c2"]
    assert trained[0][1]["continue_from"] == str(work / "parent")
    assert trained[1][1]["continue_from"] == str(work / "codec" / "export")
    assert codec_export == work / "codec_c2" / "export"
    for name in HUB_FILES:
        assert (work / "parent" / name).read_bytes() == (src / name).read_bytes()
    assert stages["codec_from"]["model"] == str(src) and stages["codec_from"]["record"] is None
    # Without it, the first cycle starts from scratch and the recipe names no parent.
    trained.clear()
    args.codec_from = None
    _, _, stages = recipe.train_codec_and_lm(args, tmp_path / "scratch", {})
    assert "continue_from" not in trained[0][1] and "codec_from" not in stages
    with pytest.raises(SystemExit, match="not found"):
        args.codec_from = str(tmp_path / "nowhere")
        recipe.train_codec_and_lm(args, tmp_path / "other", {})


def test_codec_from_and_tune_from_exclude_each_other(tmp_path, capsys):
    with pytest.raises(SystemExit):
        recipe.main(["--tune-from", "toy", "--codec-from", "toy", "--work", str(tmp_path)])
    assert "--codec-from does not apply" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_a_built_stage_with_other_overrides_is_refused(tmp_path):
    done = tmp_path / "lm" / "export" / "done.json"
    done.parent.mkdir(parents=True)
    done.write_text(json.dumps({"timings": {"lm_s": 1.0}, "overrides": ["a=1", "b=2"]}))
    timings: dict = {}
    # Same overrides: the stage counts as built and is not trained again.
    assert recipe.run_stage("lm", "musicgen/toy_lm", ["a=1", "b=2"], done, timings) == done.parent
    assert timings == {"lm_s": 1.0}
    # Another codec under the same LM stage: refused, naming what changed.
    with pytest.raises(SystemExit, match="b=3"):
        recipe.run_stage("lm", "musicgen/toy_lm", ["a=1", "b=3"], done, timings)


def _hub_folder(path, content=b"weights"):
    path.mkdir(parents=True)
    for name in HUB_FILES:
        (path / name).write_bytes(content + name.encode())
    return path


def test_tune_from_copies_the_parent_once_with_its_record(tmp_path):
    src = _hub_folder(tmp_path / "model")
    files = {name: {"sha256": _sha256(src / name), "bytes": (src / name).stat().st_size}
             for name in HUB_FILES}
    (src / "checksums.json").write_text(json.dumps({"files": files, "recipe": {"seed": 0}}))
    work = tmp_path / "work"
    parent_dir, parent = recipe.copy_parent(str(src), work)
    assert parent_dir == work / "parent"
    assert parent["files"] == files and parent["record"]["recipe"] == {"seed": 0}
    for name in HUB_FILES:
        assert (parent_dir / name).read_bytes() == (src / name).read_bytes()
    # A resumed refinement keeps the first copy, even once the source has changed (as the
    # shipped files do when the refined model ships over them).
    for name in HUB_FILES:
        (src / name).write_bytes(b"refined")
    again_dir, again = recipe.copy_parent(str(src), work)
    assert again == parent and (again_dir / HUB_FILES[0]).read_bytes() != b"refined"


def test_tune_from_refuses_files_its_record_does_not_describe(tmp_path):
    src = _hub_folder(tmp_path / "model")
    (src / "checksums.json").write_text(json.dumps(
        {"files": {name: {"sha256": "0" * 64, "bytes": 1} for name in HUB_FILES}}))
    with pytest.raises(SystemExit, match="does not describe"):
        recipe.copy_parent(str(src), tmp_path / "work")
    assert not (tmp_path / "work" / "parent").exists()
    with pytest.raises(SystemExit, match="not found"):
        recipe.copy_parent(str(tmp_path / "nowhere"), tmp_path / "work")
    # No record: the files are refined as they are, recorded without a parent record.
    (src / "checksums.json").unlink()
    _, parent = recipe.copy_parent(str(src), tmp_path / "work")
    assert parent["record"] is None and sorted(parent["files"]) == sorted(HUB_FILES)


def test_tune_from_needs_the_tune_stage(tmp_path):
    for bad in (["--tune-steps", "0"], ["--stop-after", "lm"]):
        with pytest.raises(SystemExit):
            recipe.main(["--tune-from", "toy", "--work", str(tmp_path), *bad])
    assert not (tmp_path / "parent").exists()


def test_tune_from_an_lm_only_folder_brings_the_codec_it_records(tmp_path):
    from audiocraft.models import hub

    shipped = hub.TOY_MELODY_MODEL_DIR
    src = tmp_path / "lm_only"
    src.mkdir()
    shutil.copy(shipped / "state_dict.bin", src / "state_dict.bin")
    shutil.copy(shipped / "checksums.json", src / "checksums.json")
    parent_dir, parent = recipe.copy_parent(str(src), tmp_path / "work")
    codec = hub.TOY_MODEL_DIR / "compression_state_dict.bin"
    assert (parent_dir / "compression_state_dict.bin").read_bytes() == codec.read_bytes()
    assert parent["record"]["shares_codec_of"]["sha256"] == _sha256(codec)
    # The shipped name works the same way.
    _, by_name = recipe.copy_parent("toy-melody", tmp_path / "work2")
    assert by_name["files"] == parent["files"]


def test_shipping_keeps_a_codec_file_with_the_same_weights(tmp_path):
    out, name = tmp_path / "out", "compression_state_dict.bin"
    out.mkdir()
    # The same codec weights stored otherwise (float32): other bytes, the same weights.
    pkg = loaders.read_hub_file(TOY_MODEL_DIR / name)
    pkg["best_state"] = {k: v.float() for k, v in pkg["best_state"].items()}
    loaders.save_hub_file(pkg, out / name)
    before = (out / name).read_bytes()
    assert before != (TOY_MODEL_DIR / name).read_bytes()
    assert recipe.main(["--reexport", "toy", "--work", str(tmp_path / "w"), "--out",
                        str(out)]) == 0
    record = json.loads((out / "checksums.json").read_text())
    assert (out / name).read_bytes() == before and "codec_file_kept" in record
    assert record["files"][name]["sha256"] == _sha256(out / name)
    # Other weights are replaced.
    pkg["best_state"] = {k: v + 1 if v.is_floating_point() else v
                         for k, v in pkg["best_state"].items()}
    loaders.save_hub_file(pkg, out / name)
    assert recipe.main(["--reexport", "toy", "--work", str(tmp_path / "w2"), "--out",
                        str(out)]) == 0
    record = json.loads((out / "checksums.json").read_text())
    assert (out / name).read_bytes() == (TOY_MODEL_DIR / name).read_bytes()
    assert "codec_file_kept" not in record
