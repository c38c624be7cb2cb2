"""app_history.py: the app's page history, its table and "reuse these settings"."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import app_history  # noqa: E402  (beside the top-level app.py)
from app_inputs import AppError, check_inputs  # noqa: E402

FORM = {"precision": "bfloat16", "cfg_coef": "3,6,6,6", "unconditional": False,
        "audio_format": "flac", "video": True}


def entry(number, text="calm piano", timeline="", seed=-1, interrupted=False):
    settings = check_inputs("toy", text, timeline, None, None, 4, 250, 0.0, 1.0, "3,6,6,6",
                            seed, 2, None)
    made = {"generated_seconds": 1.5 if interrupted else 4.0, "interrupted": interrupted,
            "cfg_coef": [3.0, 6.0, 6.0, 6.0]}
    return app_history.history_entry(number, settings, FORM, made, Path(f"/o/p{number}.flac"),
                                     None)


def test_reuse_gives_back_the_form_with_the_seed_used():
    history = app_history.add_entry([], entry(1, seed=-1))
    values = dict(zip(app_history.REUSED_FIELDS,
                      app_history.reuse(history, app_history.history_choices(history)[0]),
                      strict=True))
    assert values["seed"] == history[0]["form"]["seed"] and values["seed"] >= 0  # drawn
    assert values == {"model": "toy", "text": "calm piano", "timeline": "", "duration": 4.0,
                      "top_k": 250, "top_p": 0.0, "temperature": 1.0, "cfg_coef": "3,6,6,6",
                      "seed": values["seed"], "window": 2.0, "stride": 0,
                      "melody_policy": "loop", "precision": "bfloat16",
                      "unconditional": False, "audio_format": "flac", "video": True}


def test_table_and_choices_are_newest_first():
    history = app_history.add_entry([entry(1, seed=5)],
                                    entry(2, text="", timeline="0: a\n2: b", seed=6,
                                          interrupted=True))
    rows = app_history.history_rows(history)
    assert len(rows[0]) == len(app_history.HISTORY_HEADERS)
    assert rows[0][:7] == [2, rows[0][1], "timeline: 0: a | 2: b", "toy", "4 s",
                           "1.5 s (stopped)", 6]
    assert rows[1][2] == "calm piano" and rows[1][-1] == "p1.flac"
    assert app_history.history_choices(history) == [
        "#2 timeline: 0: a | 2: b (seed 6)", "#1 calm piano (seed 5)"]
    reused = app_history.reuse(history, "#2 timeline: 0: a | 2: b (seed 6)")
    assert reused[2] == "0: a\n2: b" and reused[1] == ""


def test_history_is_bounded_and_not_mutated():
    history: list = []
    for number in range(app_history.MAX_HISTORY + 5):
        before = history
        history = app_history.add_entry(history, entry(number + 1, seed=1))
        assert before is not history
    assert len(history) == app_history.MAX_HISTORY and history[0]["number"] == 6


def test_reuse_without_a_choice_says_what_to_do():
    with pytest.raises(AppError, match="Choose a generation from the history first"):
        app_history.reuse([entry(1, seed=1)], None)
    with pytest.raises(AppError, match="Choose a generation"):
        app_history.reuse([], "#3 gone (seed 1)")


def test_entry_files_are_the_ones_that_exist(tmp_path):
    made = tmp_path / "p1.flac"
    made.write_bytes(b"x")
    first = {**entry(1, seed=1), "file": str(made), "video": str(tmp_path / "gone.mp4")}
    history = app_history.add_entry([], first)
    assert app_history.entry_files(history, "#1 calm piano (seed 1)") == [str(made)]
    assert app_history.entry_files(history, None) == []
