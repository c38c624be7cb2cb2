"""Every parameter of the generation API refuses bad values with a message naming it; the
window plan is lazy; non-finite logits stop generation."""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest
import torch
from _debug_musicgen import debug_melody_musicgen, debug_musicgen

from audiocraft.models.errors import NonFiniteLogitsError
from audiocraft.models.longform import Window, plan_windows
from audiocraft.models.musicgen import MusicGen

NAN, INF = float("nan"), float("inf")


@pytest.fixture(scope="module")
def model() -> MusicGen:
    return debug_musicgen()


@pytest.fixture(scope="module")
def melody_model() -> MusicGen:
    return debug_melody_musicgen()


# ---- set_generation_params ----

@pytest.mark.parametrize("name, value, message", [
    ("duration", NAN, "duration must be a finite number"),
    ("duration", INF, "duration must be a finite number"),
    ("duration", 0, "duration must be > 0"),
    ("duration", -3, "duration must be > 0"),
    ("duration", "10", "duration must be a number, got a string"),
    ("duration", True, "duration must be a number, got bool"),
    ("duration", None, "duration must be a number"),
    ("temperature", NAN, "temperature must be a finite number"),
    ("temperature", -INF, "temperature must be a finite number"),
    ("temperature", -0.5, "temperature must be >= 0"),
    ("temperature", "hot", "temperature must be a number"),
    ("top_k", 2.5, "top_k must be a whole number"),
    ("top_k", -1, "top_k must be >= 0"),
    ("top_k", INF, "top_k must be a finite number"),
    ("top_k", "250", "top_k must be a number"),
    ("top_p", NAN, "top_p must be a finite number"),
    ("top_p", 1.5, "top_p must be <= 1"),
    ("top_p", -0.1, "top_p must be >= 0"),
    ("cfg_coef", NAN, "cfg_coef must be a number >= 0"),
    ("cfg_coef", -1, "cfg_coef must be a number >= 0"),
    ("cfg_coef", [1, 2], "cfg_coef has 2 values but the model has 4 codebooks"),
    ("cfg_coef", "3", "cfg_coef '3' is text"),
    ("cfg_coef_beta", NAN, "cfg_coef_beta must be a finite number"),
    ("cfg_coef_beta", -2, "cfg_coef_beta must be >= 0"),
    ("extend_stride", NAN, "extend_stride must be a finite number"),
    ("extend_stride", 0, "extend_stride must be > 0"),
    ("extend_stride", 5, "shorter than the model's window"),
    ("melody_policy", "again", "melody_policy must be one of"),
    ("use_sampling", "false", "use_sampling must be True or False"),
    ("two_step_cfg", 1, "two_step_cfg must be True or False"),
])
def test_set_generation_params_refuses(model, name, value, message):
    before = dict(model.generation_params), model.duration
    with pytest.raises(ValueError, match=message):
        model.set_generation_params(**{name: value})
    assert (model.generation_params, model.duration) == before  # nothing half-set


def test_whole_floats_and_numpy_numbers_are_accepted(model):
    model.set_generation_params(top_k=np.int64(10), temperature=np.float32(0.5), duration=1.0,
                                top_p=0)
    assert model.generation_params["top_k"] == 10 and isinstance(
        model.generation_params["top_k"], int)
    model.set_generation_params(top_k=250.0, duration=1)
    assert model.generation_params["top_k"] == 250


# ---- generate* arguments ----

def test_a_bare_string_is_not_a_list_of_descriptions(model, melody_model):
    model.set_generation_params(duration=0.2)
    with pytest.raises(ValueError, match=r"descriptions must be a list of texts.*\['calm piano'\]"):
        model.generate("calm piano")
    with pytest.raises(ValueError, match="descriptions must be a list of texts"):
        model.generate_stream("calm piano")
    with pytest.raises(ValueError, match="descriptions must be a list"):
        model.generate_continuation(torch.zeros(1, 1, 3200), 32000, descriptions="calm")
    melody_model.set_generation_params(duration=0.2)
    with pytest.raises(ValueError, match="descriptions must be a list"):
        melody_model.generate_with_chroma("calm", torch.zeros(1, 1, 3200), 32000)
    with pytest.raises(ValueError, match="timelines must be a list"):
        model.generate_timeline("0: calm")
    assert model.generate(["calm piano"]).shape[0] == 1


@pytest.mark.parametrize("call, message", [
    (lambda m: m.generate([3]), r"descriptions\[0\] must be a text or None, got int"),
    (lambda m: m.generate({"a": 1}), "descriptions must be a list of texts, got dict"),
    (lambda m: m.generate(["x"] * 5000), "at most 1024 pieces"),
    (lambda m: m.generate([]), "Nothing to generate"),
    (lambda m: m.generate_unconditional(0), "num_samples must be >= 1"),
    (lambda m: m.generate_unconditional(2.5), "num_samples must be a whole number"),
    (lambda m: m.generate_unconditional(NAN), "num_samples must be a finite number"),
    (lambda m: m.generate_unconditional(10**9), "num_samples must be <= 1024"),
    (lambda m: m.generate_unconditional(True), "num_samples must be a number, got bool"),
    (lambda m: m.generate(["a"], seed=-1), "seed must be >= 0"),
    (lambda m: m.generate(["a"], seed=NAN), "seed must be a finite number"),
    (lambda m: m.generate(["a"], seed=1.5), "seed must be a whole number"),
    (lambda m: m.generate(["a"], seed=2**64), "seed must be <= 9.22337e"),
    (lambda m: m.generate(["a"], seed="7"), "seed must be a number, got a string"),
    (lambda m: m.generate_stream(["a"], seed=INF), "seed must be a finite number"),
    (lambda m: m.generate_stream(num_samples=-1), "num_samples must be >= 1"),
    (lambda m: m.generate_timeline([[(NAN, "a")]]), "entry 0's start must be a finite"),
    (lambda m: m.generate_timeline([[(INF, "a")]]), "entry 0's start must be a finite"),
    (lambda m: m.generate_timeline([[(-1, "a")]]), "entry 0's start must be >= 0"),
    (lambda m: m.generate_timeline([[(0, 5)]]), "entry 0's text must be a text or None"),
    (lambda m: m.generate_timeline([["0: a"]]), "must be a .start_seconds, text. pair"),
    (lambda m: m.generate_timeline([[(0, "a"), (0, "b")]]), "strictly increasing"),
    (lambda m: m.generate_continuation(torch.zeros(1, 1, 320), 0),
     "prompt_sample_rate must be > 0"),
    (lambda m: m.generate_continuation(torch.zeros(1, 1, 320), NAN),
     "prompt_sample_rate must be a finite number"),
    (lambda m: m.generate_continuation(torch.zeros(1, 1, 320), 16000.5),
     "prompt_sample_rate must be a whole number"),
    (lambda m: m.generate_continuation(torch.full((1, 1, 320), NAN), 32000),
     "prompt holds NaN or infinite samples"),
    (lambda m: m.generate_continuation([0.0] * 320, 32000), "must be a tensor"),
    (lambda m: m.generate_continuation(torch.zeros(1, 1, 0), 32000), "non-empty"),
])
def test_generate_arguments_are_checked(model, call, message):
    model.set_generation_params(duration=0.2)
    with pytest.raises(ValueError, match=message):
        call(model)


@pytest.mark.parametrize("wavs, rate, message", [
    (torch.full((1, 1, 3200), INF), 32000, "melody holds NaN or infinite samples"),
    (torch.zeros(1, 1, 3200), -1, "melody_sample_rate must be > 0"),
    (torch.zeros(1, 1, 3200), NAN, "melody_sample_rate must be a finite"),
    ("tune.wav", 32000, "melody_wavs must be a list"),
    ([[0.0, 1.0]], 32000, "Each melody must be a non-empty .C, T. tensor"),
])
def test_melody_arguments_are_checked(melody_model, wavs, rate, message):
    melody_model.set_generation_params(duration=0.2)
    with pytest.raises(ValueError, match=message):
        melody_model.generate_with_chroma(["a"], wavs, rate)


# ---- the window plan ----

def eager_plan(total, window, stride, prompt=0):
    """The plan as a plain loop (the former implementation), to compare with."""
    start, given = (0, prompt) if prompt < window else (prompt - (window - stride),
                                                        window - stride)
    windows = []
    while start + given < total:
        end = min(start + window, total)
        windows.append(Window(len(windows), start, given, end))
        start, given = start + stride, end - start - stride
    return windows


def test_the_lazy_plan_equals_the_loop():
    cases = 0
    for total in range(1, 60, 3):
        for window in (1, 2, 5, 10, 30):
            for stride in range(1, window):
                for prompt in sorted({0, 1, total // 2, total - 1} & set(range(total))):
                    plan = plan_windows(total, window, stride, prompt)
                    expected = eager_plan(total, window, stride, prompt)
                    assert plan == expected and len(plan) == len(expected)
                    assert plan[-1] == expected[-1] and plan[1:3] == expected[1:3]
                    cases += 1
    assert cases > 1000


def test_a_huge_duration_plans_in_constant_memory(model):
    model.set_generation_params(duration=1e12)
    tracemalloc.start()
    try:
        plan = model.window_plan()
        count, last = len(plan), plan[-1]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 100_000  # bytes: the same for 10 s
    frames = int(1e12 * model.frame_rate)
    assert last.end == frames and count == math.ceil((frames - 25) / int(
        model.extend_stride * model.frame_rate)) + 1
    with pytest.raises(IndexError):
        plan[count]


# ---- non-finite logits ----

def test_non_finite_logits_stop_generation(model):
    model.set_generation_params(duration=0.2)
    weight = model.lm.linears[0].weight
    saved = weight.detach().clone()
    try:
        with torch.no_grad():
            weight[0, 0] = NAN
        with pytest.raises(NonFiniteLogitsError, match="NaN or infinite logits"):
            model.generate(["a"], seed=0)
    finally:
        with torch.no_grad():
            weight.copy_(saved)
    assert model.generate(["a"], seed=0).isfinite().all()
