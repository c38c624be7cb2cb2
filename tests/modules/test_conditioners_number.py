"""The `number` conditioner (a bpm as an attribute) and the caption parser that feeds it at
inference."""

import pytest
import torch

from audiocraft.modules.conditioners import (
    CONDITIONERS,
    NumberConditioner,
    caption_attributes,
    parse_key,
    parse_tempo,
    strip_tempo,
)
from audiocraft.modules.conditioners.number import parse_value


def test_number_conditioner_is_registered_and_embeds_one_step():
    assert CONDITIONERS.get("number") is NumberConditioner
    torch.manual_seed(0)
    cond = NumberConditioner(output_dim=16, dim=8, n_features=4)
    embeds, mask = cond(cond.tokenize(["128", None, "not a number", "64.5"]))
    assert embeds.shape == (4, 1, 16) and mask.tolist() == [[1], [0], [0], [1]]
    assert embeds[1].abs().sum() == 0 and embeds[2].abs().sum() == 0  # null: all zero
    assert not torch.allclose(embeds[0], embeds[3])
    with pytest.raises(ValueError, match="n_features"):
        NumberConditioner(output_dim=4, n_features=0)


def test_parse_value_reads_the_leading_number():
    assert parse_value("128") == 128 and parse_value("96.5 bpm") == 96.5
    assert parse_value(None) == 0 and parse_value("fast") == 0


@pytest.mark.parametrize("text, bpm", [
    ("a slow rock ballad at 128 bpm", 128),
    ("128 BPM house", 128),
    ("lofi, 76bpm", 76),
    ("tempo: 96, in Am", 96),
    ("140 beats per minute", 140),
    ("bpm 90 in Bb major", 90),
    ("a techno track at 132", 132),
    ("a 1980s synth track with 2 guitars", None),
    ("a calm track at 2 am", None),
    ("", None),
])
def test_parse_tempo(text, bpm):
    assert parse_tempo(text) == bpm


@pytest.mark.parametrize("text, key", [
    ("in A minor at 124 BPM", "A minor"),
    ("tempo: 96, in Am", "A minor"),
    ("in the key of Bb major", "A# major"),
    ("f# minor lofi", "F# minor"),
    ("a pop song in Db Major", "C# major"),
    ("a minor change of plan", "A minor"),  # ambiguous words read as a key: documented
    ("a calm track at 2 am", None),
    ("a happy song", None),
])
def test_parse_key(text, key):
    assert parse_key(text) == key


def test_caption_attributes_explicit_values_win():
    found = caption_attributes("a slow rock ballad at 128 bpm in E minor")
    assert found == {"bpm": "128", "key": "E minor"}
    assert caption_attributes("at 128 bpm", bpm=90.0, key="C major") == {
        "bpm": "90", "key": "C major"}
    assert caption_attributes(None) == {"bpm": None, "key": None}


@pytest.mark.parametrize("text,stripped", [
    ("A warm house track in A minor at 128 BPM, with organ and drums.",
     "A warm house track in A minor, with organ and drums."),
    ("fast chiptune groove with a tempo of 112", "fast chiptune groove"),
    ("a tempo of 145. busy house.", "busy house."),
    ("techno instrumental (85 beats per minute) in g minor", "techno instrumental in g minor"),
    ("c# major key, 137 bpm, hip hop, happy", "c# major key, hip hop, happy"),
    ("94bpm driving house", "driving house"),
    ("a 1980s track with 2 guitars", "a 1980s track with 2 guitars"),
    (None, None),
])
def test_strip_tempo_takes_the_tempo_words_out(text, stripped):
    assert strip_tempo(text) == stripped
    if text is not None:
        assert parse_tempo(strip_tempo(text)) is None
