"""A tiny codec and a tiny LM train end to end on synthetic data, on CPU; the exported
files load through the public loaders and generate."""

import pytest
import torch

from audiocraft.models import loaders
from audiocraft.train import run


def _falls(history: list[float]) -> bool:
    n = max(2, len(history) // 4)
    return sum(history[-n:]) / n < sum(history[:n]) / n


@pytest.mark.slow
def test_codec_then_lm_train_export_and_generate(make_cfg, tmp_path):
    codec_run = run(make_cfg("compression/toy", run_dir=tmp_path / "codec"))
    # Validation (a fixed set) after each of the 3 epochs: the reconstruction improves.
    assert len(codec_run.valid_history) == 3
    assert codec_run.valid_history[-1] < codec_run.valid_history[0], codec_run.valid_history
    assert "valid/sisnr" in codec_run.metrics
    codec_file = codec_run.export_dir / "compression_state_dict.bin"
    codec = loaders.load_compression_model(codec_file)
    assert codec.sample_rate == 32000 and codec.cardinality == 64

    lm_run = run(make_cfg(
        "musicgen/toy", f"compression_model_checkpoint={codec_file}",
        "transformer_lm.card=64", "logger=tensorboard", "generate.every=2",
        "generate.duration=0.2", run_dir=tmp_path / "lm"))
    assert _falls(lm_run.train_history), lm_run.train_history
    assert lm_run.valid_history[-1] < lm_run.valid_history[0], lm_run.valid_history
    assert {"valid/ce", "valid/ppl", "valid/ce_q1", "valid/ppl_q2"} <= set(lm_run.metrics)
    # Audio samples and their spectrograms, every 2 epochs: as files and in TensorBoard.
    samples = sorted((tmp_path / "lm" / "samples" / "epoch_2").glob("*.wav"))
    assert len(samples) == 2
    events = list((tmp_path / "lm" / "tensorboard").rglob("events.out.tfevents.*"))
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(events[0].parent), size_guidance={"audio": 0, "images": 0})
    acc.Reload()
    assert "samples/gen_0" in acc.Tags()["audio"]
    assert "samples/gen_0/spectrogram" in acc.Tags()["images"]
    export_dir = lm_run.export_dir
    assert (export_dir / "state_dict.bin").is_file()
    assert (export_dir / "compression_state_dict.bin").is_file()

    from audiocraft.models.musicgen import MusicGen

    model = MusicGen.get_pretrained(str(export_dir))
    model.set_generation_params(duration=0.2, top_k=10)
    wav = model.generate(["a calm piano piece"])
    assert wav.shape[:2] == (1, 1) and wav.shape[-1] > 0 and torch.isfinite(wav).all()

    # Evaluation only (execute_only=valid): the run's last checkpoint, no training.
    evaluated = run(make_cfg(
        "musicgen/toy", f"compression_model_checkpoint={codec_file}", "transformer_lm.card=64",
        "execute_only=valid", "generate.every=0", run_dir=tmp_path / "lm"))
    assert evaluated.train_history == [] and "valid/ce" in evaluated.metrics

    # Fine-tuning starts from the exported weights: its first loss is the trained one.
    tuned = run(make_cfg(
        "musicgen/toy", f"compression_model_checkpoint={codec_file}", f"continue_from={export_dir}",
        "transformer_lm.card=64", "optim.epochs=1", "optim.updates_per_epoch=2",
        "dataset.segment_duration=2.0", run_dir=tmp_path / "tuned"))
    assert tuned.train_history[0] < lm_run.train_history[0] - 0.5
    # The tuned model keeps its architecture, and its window is the fine-tune's segment.
    base, refined = (MusicGen.get_pretrained(str(d)) for d in (export_dir, tuned.export_dir))
    assert (base.max_duration, refined.max_duration) == (1.0, 2.0)
    assert refined.lm.cfg.transformer_lm == base.lm.cfg.transformer_lm
