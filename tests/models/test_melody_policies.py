"""One list of melody policies (longform.MELODY_POLICIES), read by the API, the CLI and
the app."""

import sys
from pathlib import Path
from typing import get_args

import pytest

from audiocraft import cli
from audiocraft.models.longform import MELODY_POLICIES, MelodyPolicy, slice_melody

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import app_inputs  # noqa: E402  (the app's input checks, beside app.py)


def test_the_list_is_the_literal_type():
    assert MELODY_POLICIES == get_args(MelodyPolicy) == ("loop", "hold", "stop")


def test_every_policy_slices_a_melody():
    import torch

    melody = torch.randn(1, 100)  # [C, L]
    for policy in MELODY_POLICIES:
        slice_melody(melody, 2.0, 50, 1.0, policy)


def test_the_cli_offers_exactly_the_policies():
    generate = cli.build_parser()._subparsers._group_actions[0].choices["generate"]
    action = next(a for a in generate._actions if a.dest == "melody_policy")
    assert tuple(action.choices) == MELODY_POLICIES


def test_the_app_accepts_exactly_the_policies():
    form = dict(model="toy", text="calm", timeline="", melody=None, prompt_audio=None,
                duration=1, top_k=250, top_p=0.0, temperature=1.0, cfg_coef="", seed=1)
    for policy in MELODY_POLICIES:
        assert app_inputs.check_inputs(**form, melody_policy=policy).melody_policy == policy
    with pytest.raises(app_inputs.AppError, match="loop, hold, stop"):
        app_inputs.check_inputs(**form, melody_policy="fade")
