"""Models shipped beside `toy` (toy-melody): found by name, sharing toy's codec, shipped
LM-only by the recipe; and the evaluations of melody and tempo adherence."""

import json
import shutil

import pytest
import torch

from audiocraft.data.synth import GENRES
from audiocraft.models import MusicGen, hub
from audiocraft.models.loaders import TOY_MODEL_DIR
from audiocraft.recipes import melody_eval, tempo_eval
from audiocraft.recipes import toy_build as recipe


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_ship_lm_only_shares_toys_codec(tmp_path, monkeypatch):
    out = tmp_path / "toy-melody"
    assert recipe.main(["--reexport", "toy", "--work", str(tmp_path / "work"), "--out",
                        str(out), "--ship-lm-only"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["checksums.json", "state_dict.bin"]
    record = json.loads((out / "checksums.json").read_text())
    assert list(record["files"]) == ["state_dict.bin"]
    assert record["shares_codec_of"]["model"] == "toy"
    # By name, the folder's LM with toy's codec.
    monkeypatch.setitem(hub.SHIPPED_MODELS, "toy-melody", out)
    assert hub.find_file("toy-melody", "state_dict.bin") == out / "state_dict.bin"
    assert hub.find_file("toy-melody", "compression_state_dict.bin") == (
        TOY_MODEL_DIR / "compression_state_dict.bin")
    model = MusicGen.get_pretrained("toy-melody", device="cpu")
    assert model.sample_rate == 8000


def test_ship_lm_only_refuses_another_codec(tmp_path):
    folder = tmp_path / "other"
    folder.mkdir()
    shutil.copyfile(TOY_MODEL_DIR / "state_dict.bin", folder / "state_dict.bin")
    pkg = torch.load(TOY_MODEL_DIR / "compression_state_dict.bin", weights_only=True)
    name = next(k for k, v in pkg["best_state"].items() if v.is_floating_point())
    pkg["best_state"][name] = pkg["best_state"][name] + 1
    torch.save(pkg, folder / "compression_state_dict.bin")
    with pytest.raises(SystemExit, match="not toy's"):
        recipe.ship(folder, tmp_path / "out", {}, {}, lm_only=True)


def test_missing_shipped_model_says_how_to_build_it(tmp_path, monkeypatch):
    monkeypatch.setitem(hub.SHIPPED_MODELS, "toy-melody", tmp_path / "absent")
    monkeypatch.setattr(hub, "TOY_MODEL_DIR", tmp_path / "absent_too")
    assert hub.find_file("toy-melody", "state_dict.bin") is None
    assert "build_toy_melody" not in hub.missing_weights_message("toy", "x")
    assert "toy-melody" in hub.missing_weights_message("toy-melody", "x")


def test_unusual_captions_ask_tempos_outside_the_genres_range():
    captions = tempo_eval.unusual_captions(60, seed=3)
    assert captions == tempo_eval.unusual_captions(60, seed=3)  # seeded
    known = [c for c in captions if c.known_genre]
    assert known and len(known) < len(captions)
    for c in known:
        low, high = GENRES[c.genre].bpm
        assert c.bpm < low * 0.96 or c.bpm > high * 1.04, c
    for c in captions:
        assert tempo_eval.TEMPO_RANGE[0] <= c.bpm <= tempo_eval.TEMPO_RANGE[1]
        assert str(c.bpm) in c.text
    assert any(c.text == c.text.lower() for c in captions)


def test_tempo_scores_count_octave_errors_as_misses():
    captions = [tempo_eval.Caption("x", 100, "house", True, False) for _ in range(4)]
    scores = tempo_eval.score([101.0, 200.0, 50.0, 0.0], captions)
    assert scores.within_4pct == 0.25 and scores.octave_errors == 0.5
    assert scores.groups["known genre, outside its usual tempo"]["n"] == 4


def test_chroma_cosine_of_a_melody_to_itself_and_to_another():
    mixes, melodies, specs = melody_eval.held_out_stems(2, seed=1000, seconds=3.0,
                                                        sample_rate=8000)
    assert mixes.shape == melodies.shape == (2, 1, 24000) and len(specs) == 2
    assert melody_eval.chroma_cosine(melodies, melodies, 8000) == pytest.approx(1.0)
    assert melody_eval.chroma_cosine(melodies, melodies.flip(0), 8000) < 0.9


def test_per_clip_scores_and_paired_gain():
    _, melodies, _ = melody_eval.held_out_stems(3, seed=1000, seconds=3.0, sample_rate=8000)
    shifted = melodies.roll(1, dims=0)
    clips = melody_eval.per_clip(shifted, melodies, 8000)
    assert len(clips) == 3 and all(c < 0.99 for c in clips)
    assert sum(clips) / 3 == pytest.approx(melody_eval.chroma_cosine(shifted, melodies, 8000))
    mean, sem = melody_eval.mean_sem([1.0, 2.0, 3.0])
    assert mean == 2.0 and sem == pytest.approx(1 / 3 ** 0.5)
    gain = melody_eval.paired_gain([0.5, 0.6, 0.4, 0.5], [0.4, 0.4, 0.5, 0.3])
    assert gain["mean"] == pytest.approx(0.1) and gain["share_gaining"] == 0.75
    assert gain["z"] == pytest.approx(gain["mean"] / gain["sem"])
    with pytest.raises(ValueError):
        melody_eval.paired_gain([0.5], [0.4, 0.3])


def test_melody_evaluation_runs_and_pairs_the_clips(tmp_path, capsys):
    out = tmp_path / "melody.json"
    assert melody_eval.main(["--num", "2", "--seconds", "1", "--baseline-model", "",
                             "--no-mix-row", "--threads", "1", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert set(result["rows"]) == {"melody given", "same model, no melody (baseline)",
                                   "melody given, scored on other pieces' melodies (baseline)",
                                   "real audio (the pieces' mixes)"}
    given = result["rows"]["melody given"]
    plain = result["rows"]["same model, no melody (baseline)"]
    assert given["n"] == 2 and given["sem"] == given["sem"]  # a number, not nan
    gain = result["gain_over_no_melody"]
    assert gain["mean"] == pytest.approx(given["chroma_cosine"] - plain["chroma_cosine"])
    assert "clips gain" in capsys.readouterr().out


def test_reference_audio_plays_the_captions_tempos():
    captions = [tempo_eval.Caption("house at 100 bpm", 100, "house", True, False),
                tempo_eval.Caption("jazz at 130 bpm", 130, "jazz", False, False)]
    wavs = tempo_eval.reference_audio(captions, seed=0, seconds=6.0, sample_rate=8000)
    assert [tuple(w.shape) for w in wavs] == [(1, 48000), (1, 48000)]
    scores = tempo_eval.score([tempo_eval._estimate(w, 8000) for w in wavs], captions)
    assert scores.within_4pct == 1.0


def test_tempo_probe_of_captions(tmp_path, capsys):
    out = tmp_path / "probe.json"
    assert tempo_eval.main(["--caption", "house at 128 bpm", "--caption", "lofi, 90bpm",
                            "--clips", "2", "--seconds", "3", "--seed", "7",
                            "--json", str(out)]) == 0
    probes = json.loads(out.read_text())["probes"]
    assert [(p["caption"], p["asked"]) for p in probes] == [("house at 128 bpm", 128.0),
                                                            ("lofi, 90bpm", 90.0)]
    for p in probes:
        assert len(p["bpms"]) == 2 and all(b >= 0 for b in p["bpms"])
        assert 0 <= p["octave_errors"] <= 1 - p["within_4pct"]
    table = capsys.readouterr().out
    assert "| house at 128 bpm | 128 | 2 |" in table and "| lofi, 90bpm | 90 | 2 |" in table


def test_tempo_probe_refuses_a_caption_without_a_tempo(capsys):
    with pytest.raises(SystemExit):
        tempo_eval.main(["--caption", "a slow rock ballad"])
    assert "names no tempo" in capsys.readouterr().err
