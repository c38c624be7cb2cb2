"""The solvers' evaluate and generate stages: every N epochs during training, and alone on
a run's checkpoint (execute_only=evaluate / generate)."""

import json

import pytest

from audiocraft.solvers.config_check import ConfigError
from audiocraft.train import run

TINY = ["optim.epochs=1", "optim.updates_per_epoch=2", "dataset.valid_num_samples=2",
        "evaluate.num_samples=2", "generate.num_samples=3", "dataset.segment_duration=0.5"]


def test_lm_stages_during_training_and_alone_on_the_checkpoint(make_cfg, tmp_path):
    run_dir = tmp_path / "lm"
    trained = run(make_cfg("musicgen/toy", *TINY, "evaluate.metrics=[fad_codec,tempo,key]",
                           "evaluate.metrics_every=1", run_dir=run_dir))
    results = json.loads((run_dir / "evaluate" / "epoch_1" / "results.json").read_text())
    assert results["complete"] and results["items"] == 2
    assert results["fad_codec"]["fad"] >= 0 and results["tempo"]["tempo_count"] == 2
    assert "evaluate/key/key_accuracy" in trained.metrics
    assert not (run_dir / "generate").exists()  # generate.stage_every is 0

    evaluated = run(make_cfg("musicgen/toy", *TINY, "execute_only=evaluate",
                             "evaluate.metrics=[key,fad_vggish]",
                             f"evaluate.weights={tmp_path / 'none'}", run_dir=run_dir))
    assert evaluated.train_history == []
    results = evaluated.solver.stage_results
    assert results["complete"] is False
    assert "vggish-10086976.pth" in results["fad_vggish"]["unavailable"]
    assert results["key"]["key_count"] == 2

    generated = run(make_cfg("musicgen/toy", *TINY, "execute_only=generate", run_dir=run_dir))
    assert generated.train_history == []
    files = sorted((run_dir / "generate" / "epoch_1").glob("*.wav"))
    assert len(files) == 3  # generate.num_samples, not evaluate.num_samples
    sidecar = json.loads(files[0].with_suffix(".json").read_text())
    assert sidecar["id"] == files[0].stem and sidecar["description"]
    assert sidecar["settings"]["top_k"] == 250
    # Deterministic ids: the same stage again names the same files.
    run(make_cfg("musicgen/toy", *TINY, "execute_only=generate", run_dir=run_dir))
    assert sorted((run_dir / "generate" / "epoch_1").glob("*.wav")) == files


def test_codec_evaluate_stage_reports_sisnr_and_mel(make_cfg, tmp_path):
    run_dir = tmp_path / "codec"
    run(make_cfg("compression/toy", *TINY, run_dir=run_dir))
    evaluated = run(make_cfg("compression/toy", *TINY, "execute_only=evaluate",
                             "evaluate.metrics=[sisnr,mel,fad_codec]", run_dir=run_dir))
    results = evaluated.solver.stage_results
    assert results["complete"]
    assert {"sisnr", "mel", "fad_codec"} <= set(results)
    assert "evaluate/sisnr/sisnr" in evaluated.metrics


@pytest.mark.parametrize("overrides, message", [
    (["evaluate.metrics=[fadd]"], "unknown metric 'fadd'"),
    (["execute_only=evaluate"], "evaluate.metrics"),
    (["execute_only=test"], "execute_only"),
])
def test_stage_config_errors(make_cfg, overrides, message):
    with pytest.raises(ConfigError, match=message):
        run(make_cfg("musicgen/toy", *overrides))


def test_stage_schedule():
    from audiocraft.solvers.stages import StageSettings

    s = StageSettings(evaluate_every=2, generate_every=0)
    assert [s.due("evaluate", e) for e in (1, 2, 3, 4)] == [False, True, False, True]
    assert not any(s.due("generate", e) for e in (1, 2, 3))
    only = StageSettings(evaluate_every=2, only="generate")
    assert only.due("generate", 1) and not only.due("evaluate", 2)
