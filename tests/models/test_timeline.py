"""Timeline parsing lives in the models layer; the CLI and the app read it from there."""

import pytest

from audiocraft import cli
from audiocraft.models import timeline
from audiocraft.models.errors import InputError
from audiocraft.models.timeline import TimelineError, parse_timeline_text, read_timeline


def test_text_and_json_timelines_give_the_same_entries(tmp_path):
    path = tmp_path / "t.json"
    path.write_text('[[0, "intro"], {"start": 90, "text": "drums"}]')
    assert read_timeline(str(path)) == parse_timeline_text("0: intro\n1:30: drums") == [
        (0.0, "intro"), (90.0, "drums")]


@pytest.mark.parametrize("text", ["calm piano", "10: a\n5: b", "-1: a", "3:"])
def test_bad_timelines_raise_a_timeline_error(text):
    with pytest.raises(TimelineError) as info:
        parse_timeline_text(text)
    # Entry points catch either: an input error (shown without a traceback) or a ValueError.
    assert isinstance(info.value, InputError) and isinstance(info.value, ValueError)


def test_missing_timeline_file_says_which(tmp_path):
    with pytest.raises(TimelineError, match="not found"):
        read_timeline(str(tmp_path / "nope.json"))


def test_the_cli_reexports_the_model_layer_parsers():
    assert cli.parse_timeline_text is timeline.parse_timeline_text
    assert cli.read_timeline is timeline.read_timeline
    assert cli.timeline_from_entries is timeline.timeline_from_entries
    assert issubclass(TimelineError, cli.UsageError)
