"""Time-aligned conditions: the fuser's `aligned` method, the `beat` conditioner's grid
and the chroma at the LM's frame rate, with generation through a KV cache giving what
teacher forcing gives (the cache's step offset reaches the fuser)."""

import math

import pytest
import torch

from audiocraft.data.music_dataset import MusicInfo
from audiocraft.models import MusicGen, builders, loaders
from audiocraft.modules.conditioners import (
    BeatConditioner,
    ChromaStemConditioner,
    ConditionFuser,
    ConditioningAttributes,
    WavCondition,
    parse_start,
    with_start,
)
from audiocraft.recipes.toy_build import compose

TINY = ["transformer_lm.dim=16", "transformer_lm.num_heads=2", "transformer_lm.num_layers=1",
        "transformer_lm.card=400", "conditioners.description.lut.n_bins=64",
        "conditioners.description.lut.dim=8", "dataset.segment_duration=1.0"]


def test_aligned_fusion_follows_the_offset_pads_and_broadcasts():
    fuser = ConditionFuser({"aligned": ["grid"]})
    cond = torch.arange(5.0).view(1, 5, 1).expand(1, 5, 2)  # step t holds t
    mask = torch.ones(1, 5)
    x = torch.zeros(1, 3, 2)
    assert fuser(x, {"grid": (cond, mask)}).input[0, :, 0].tolist() == [0, 1, 2]
    out = fuser(x, {"grid": (cond, mask)}, first_step=False, offset=3).input
    assert out[0, :, 0].tolist() == [3, 4, 0]  # past the condition's end: nothing added
    one = torch.full((1, 1, 2), 7.0)
    assert fuser(x, {"grid": (one, mask[:, :1])}).input.eq(7).all()  # a one-step condition


def test_start_text_round_trip():
    assert with_start("128", 0.0) == "128" and with_start(None, 3.0) is None
    text = with_start("128", 3.25)
    assert text == "128 +3.2500s" and parse_start(text) == 3.25
    assert with_start(text, 1.0) == "128 +1.0000s"  # a later window replaces the start
    assert parse_start("128") == 0.0


def test_beat_grid_is_the_piece_time_grid():
    torch.manual_seed(0)
    beat = BeatConditioner(output_dim=8, frame_rate=25, duration=4.0, periods=(4, 1))
    tokens = beat.tokenize(["120", "120 +0.4s", None, "a fast one"])
    assert tokens.tolist() == [[120, 0], [120, 0.4], [0, 0], [0, 0]]  # float64: long pieces
    grid = beat.grid(tokens)  # [B, 100, 4]: sin(bar), sin(beat), cos(bar), cos(beat)
    assert grid.shape == (4, 100, 4)
    # 120 bpm at 25 frames/s: a beat every 12.5 frames, a bar every 50.
    assert grid[0, 0].tolist() == pytest.approx([0, 0, 1, 1], abs=1e-6)
    assert grid[0, 25, 1].item() == pytest.approx(math.sin(2 * math.pi * 2), abs=1e-5)
    assert grid[0, 25, 2].item() == pytest.approx(-1, abs=1e-5)  # half a bar: cos = -1
    # A sequence starting 0.4 s (10 frames) into the piece continues the same grid.
    torch.testing.assert_close(grid[1, :90], grid[0, 10:], atol=1e-5, rtol=0)
    embeds, mask = beat(tokens)
    assert embeds.shape == (4, 100, 8) and mask[:, 0].tolist() == [1, 1, 0, 0]
    assert embeds[2:].abs().sum() == 0 and embeds[0].abs().sum() > 0
    with pytest.raises(ValueError, match="positive"):
        BeatConditioner(output_dim=8, frame_rate=0)


def test_chroma_at_the_frame_rate():
    torch.manual_seed(0)
    sr = 8000
    own = ChromaStemConditioner(8, sample_rate=sr, radix2_exp=12, use_demucs=False,
                                match_len_on_eval=False, duration=2.0)
    framed = ChromaStemConditioner(8, sample_rate=sr, radix2_exp=12, use_demucs=False,
                                   match_len_on_eval=False, duration=2.0, frame_rate=25)
    t = torch.arange(sr * 2) / sr
    pitch = torch.where(t < 1.0, 440.0, 523.25)  # A then C: pitch classes 9 then 0
    wav = torch.sin(2 * torch.pi * torch.cumsum(pitch, 0) / sr).view(1, 1, -1)
    cond = WavCondition(wav, torch.tensor([wav.shape[-1]]), [sr], [None], [0.0])
    chroma = framed._get_wav_embedding(cond)  # [1, 50, 12]: one step per 40 ms frame
    assert chroma.shape == (1, 50, 12)
    classes = chroma[0].argmax(-1)
    assert classes[5:20].eq(9).all() and classes[30:45].eq(0).all()
    hop_steps = own._get_wav_embedding(cond).shape[1]  # the chroma's own 0.128 s hop
    assert hop_steps < 20
    embeds, mask = framed(framed.tokenize(cond))
    assert embeds.shape == (1, 50, 8) and mask.sum() == 50
    with pytest.raises(ValueError, match="frame_rate"):
        ChromaStemConditioner(8, sample_rate=sr, frame_rate=-1, use_demucs=False)


def _greedy_matches_teacher_forcing(lm, conditions):
    lm.eval()
    gen = lm.generate(None, conditions, max_gen_len=30, use_sampling=False, cfg_coef=1.0)
    pred = lm.compute_predictions(gen, conditions)
    same = (pred.logits.argmax(-1) == gen) | ~pred.mask
    assert same.all()
    return gen


@pytest.mark.parametrize("solver", ["musicgen/toy_lm_bpm", "musicgen/toy_lm_melody"])
def test_cached_generation_sees_the_aligned_steps(solver):
    torch.manual_seed(0)
    lm = builders.get_lm_model(compose(solver, TINY))
    # Make the aligned condition decide the tokens: a sharp output layer and a strong
    # projection, so that a wrong step offset in the cache would change the argmax.
    name = "beat" if "bpm" in solver else "self_wav"
    with torch.no_grad():
        lm.condition_provider.conditioners[name].output_proj.weight.mul_(30)
        for linear in lm.linears:
            linear.weight.mul_(30)
    if name == "beat":
        conditions = [ConditioningAttributes(text={"description": "house", "beat": "97"}),
                      ConditioningAttributes(text={"description": "house", "beat": None})]
    else:
        wav = torch.randn(1, 1, 32000)
        conditions = [ConditioningAttributes(text={"description": "a"}, wav={
            "self_wav": WavCondition(wav, torch.tensor([32000]), [32000], [None], [0.0])})]
    _greedy_matches_teacher_forcing(lm, conditions)


def test_beat_model_reads_tempo_and_each_window_its_start(tmp_path):
    torch.manual_seed(0)
    cfg = compose("musicgen/toy_lm_bpm", TINY)
    lm = builders.get_lm_model(cfg)
    loaders.export_lm(lm, cfg, tmp_path)
    debug = MusicGen.get_pretrained("debug", device="cpu")
    model = MusicGen("tiny-beat", debug.compression_model,
                     loaders.load_lm_model(tmp_path).eval(), max_duration=1.0)
    assert model.caption_attributes_read() == ["bpm"]
    attrs = model._build_conditions(["a slow rock ballad at 128 bpm", "no tempo"], [None, None])
    assert [a.text.get("beat") for a in attrs] == ["128", None] and "bpm" not in attrs[0].text
    model.set_condition_values(bpm=90)
    assert model._build_conditions(["at 128 bpm"], [None])[0].text["beat"] == "90"
    model.set_condition_values(bpm=None)
    # Long form: each later window's grid starts where the window starts in the piece.
    seen: list[list[str | None]] = []
    build = model._build_conditions

    def spy(texts, melodies):
        out = build(texts, melodies)
        seen.append([a.text.get("beat") for a in out])
        return out

    model.set_generation_params(duration=2.0, extend_stride=0.5)
    model._build_conditions = spy  # type: ignore[method-assign]
    wav = model.generate(["a track at 70 bpm"], seed=0)
    assert wav.shape[-1] == pytest.approx(2.0 * model.sample_rate, abs=model.sample_rate / 50)
    starts = [parse_start(texts[0]) for texts in seen]
    assert len(starts) >= 3 and starts[0] == 0 and starts == sorted(starts)
    assert all(texts[0].startswith("70") for texts in seen)


def test_training_segments_carry_their_start():
    from audiocraft.data.audio_dataset import AudioMeta, SegmentInfo

    meta = AudioMeta(path="x.wav", duration=12.0, sample_rate=8000)
    segment = SegmentInfo(meta=meta, seek_time=3.5, n_frames=48000, total_frames=48000,
                          sample_rate=8000, channels=1)
    info = MusicInfo.from_dict({"bpm": 96}, segment)
    attrs = info.to_condition_attributes()
    assert attrs.text["bpm"] == "96" and attrs.text["beat"] == "96 +3.5000s"


def test_added_aligned_conditioners_start_silent(tmp_path):
    from audiocraft.solvers.builders import load_with_new_conditioners

    torch.manual_seed(0)
    base_cfg = compose("musicgen/toy_lm", TINY)
    base = builders.get_lm_model(base_cfg).eval()
    loaders.export_lm(base, base_cfg, tmp_path)
    grown = builders.get_lm_model(compose("musicgen/toy_lm_bpm", TINY)).eval()
    fresh = load_with_new_conditioners(grown, str(tmp_path))
    assert fresh and grown.condition_provider.conditioners["beat"].output_proj.weight.eq(0).all()
    codes = torch.randint(0, 400, (1, 4, 20))
    text = {"description": "house at 120 bpm"}
    before = base.compute_predictions(codes, [ConditioningAttributes(text=dict(text))])
    after = grown.compute_predictions(codes, [ConditioningAttributes(text={**text, "beat": "120"})])
    torch.testing.assert_close(after.logits, before.logits, equal_nan=True)
