"""scripts/eval_toy_model.py: its scoring counts what it says, and a run writes every
figure of the model card's table."""

import json
import math

import pytest
import torch

from audiocraft.data.synth import generate_piece


@pytest.fixture(scope="module")
def ev(load_script):
    return load_script("eval_toy_model")


def _labels(n):
    return [generate_piece(i, 1000, 1.0, 8000)[1] for i in range(n)]


def test_adherence_counts_exact_octave_mode_and_key(ev):
    specs = _labels(4)
    est = [
        ev.ClipEstimate(specs[0].bpm * 1.03, specs[0].tonic, specs[0].mode),  # all right
        ev.ClipEstimate(specs[1].bpm * 2.0, "none", "none"),  # double tempo, no key
        ev.ClipEstimate(specs[2].bpm * 1.06, specs[2].tonic,  # tempo 6% off, other mode
                        "major" if specs[2].mode == "minor" else "minor"),
        ev.ClipEstimate(0.0, specs[3].tonic, specs[3].mode),  # no rhythm found
    ]
    a = ev.adherence(est, specs)
    assert (a.tempo, a.tempo_octave, a.mode, a.key, a.n) == (0.25, 0.25, 0.5, 0.5, 4)
    assert a.tempo_median_error == pytest.approx((0.06 + 1.0) / 2)  # of 3%, 100%, 6%, none
    assert a.key_parallel == 0.25  # the third clip: right tonic, other mode
    assert math.isnan(a.mode_alt) and math.isnan(a.key_alt)  # no key read with the others
    # Keys read with the other profiles are counted apart.
    for e, spec, alt_mode in zip(est, specs, ("major", "minor", "major", "minor")):
        e.alt_tonic, e.alt_mode = spec.tonic, alt_mode
    a = ev.adherence(est, specs)
    right = sum(m == s.mode for m, s in zip(("major", "minor", "major", "minor"), specs))
    assert a.mode_alt == a.key_alt == right / 4
    assert (a.mode, a.key) == (0.5, 0.5)


def test_clips_are_scored_with_the_chosen_key_profiles(ev):
    # Piece 5 of seed 5000 (A minor): the probe-tone profiles hear A major, the synthetic
    # music's profiles A minor.
    audio, spec = generate_piece(5, 5000, 6.0, 8000)
    wav = torch.from_numpy(audio).float()[None]
    assert spec.key == "A minor"
    synth = ev.estimate(wav, 8000, "synthetic", "krumhansl")
    assert (synth.tonic, synth.mode, synth.alt_tonic, synth.alt_mode) == ("A", "minor", "A",
                                                                          "major")
    kk = ev.estimate(wav, 8000, "krumhansl")
    assert (kk.tonic, kk.mode, kk.alt_mode) == ("A", "major", "")
    minutes, _, _ = ev.score_minutes(wav, 8000, "krumhansl")
    assert minutes == []  # under 10 s: too short to judge a minute
    long = torch.cat([wav] * 2, dim=-1)
    assert ev.score_minutes(long, 8000, "synthetic")[0][0].key == "A minor"


def test_held_out_set_is_seeded_and_apart_from_training(ev):
    wavs, specs = ev.held_out_set(3, 1000, 1.0, 8000)
    again, _ = ev.held_out_set(3, 1000, 1.0, 8000)
    train, _ = ev.held_out_set(3, 0, 1.0, 8000)
    assert wavs.shape == (3, 1, 8000) and len(specs) == 3
    assert torch.equal(wavs, again)
    assert not torch.equal(wavs, train)


def test_triads_read_their_quality_and_a_lost_third_is_caught(ev):
    wavs, labels = ev.triad_set(8000, seconds=1.0)
    assert wavs.shape == (144, 1, 8000) and len(labels) == 144
    assert {q for _, q in labels} == {"major", "minor"}
    real = ev.triad_quality(wavs, labels, 8000)
    assert real >= 0.75  # the estimator's profile hears the third over the bass
    flipped = [(pc, "minor" if q == "major" else "major") for pc, q in labels]
    assert ev.triad_quality(wavs, flipped, 8000) == pytest.approx(1.0 - real)
    # A "codec" that drops everything above the bass octave loses the thirds: a coin toss
    # at best (the bass's 5th harmonic is a major third, so nearly all read major).
    spec = torch.fft.rfft(wavs, dim=-1)
    spec[..., int(200 * wavs.shape[-1] / 8000):] = 0
    lowpassed = torch.fft.irfft(spec, n=wavs.shape[-1], dim=-1)
    assert ev.triad_quality(lowpassed, labels, 8000) <= 0.6


def test_partial_levels_tell_a_lost_third_from_a_kept_root(ev):
    wavs, labels = ev.triad_set(8000, seconds=1.0)
    same = ev.partial_level_change(wavs, wavs, labels, 8000)
    assert same == {"root": 0.0, "major third": 0.0, "minor third": 0.0}
    # The same chords without their third (root and fifth over the bass): the minor third
    # falls by tens of dB; the root barely moves (the peak level changes a little), nor
    # does the major third (the bass's 5th harmonic is within a bin of it).
    no_third, _ = ev.triad_set(8000, seconds=1.0, drop_third=True)
    lost = ev.partial_level_change(wavs, no_third, labels, 8000)
    assert lost["minor third"] < -15.0
    assert abs(lost["root"]) < 3.0 and lost["major third"] > lost["minor third"] + 10.0


def test_a_run_writes_every_figure(ev, tmp_path, capsys):
    out = tmp_path / "eval.json"
    code = ev.main(["--model", "toy", "--num", "2", "--seconds", "4", "--long-seconds", "12",
                    "--json", str(out)])
    assert code == 0
    report = json.loads(out.read_text())
    assert set(report["adherence"]) == {
        "real audio", "codec reconstruction", "generated from captions",
        "unconditional (baseline)", "shuffled captions (baseline)"}
    real = report["adherence"]["real audio"]
    assert real["n"] == 2 and real["tempo"] == 1.0  # the estimator finds the labelled bpm
    for row in report["adherence"].values():
        assert 0.0 <= row["tempo"] + row["tempo_octave"] <= 1.0
    assert report["codec_si_snr_db"] > 0.0 and report["codec_mel_l1"] > 0.0
    assert set(report["triads"]) == {"real audio", "codec reconstruction"}
    assert report["triads"]["real audio"] >= 0.75
    assert len(report["long_form"]) == 1 and report["long_form"][0]["bpm"] >= 0.0
    assert report["settings"]["long_form_labels"]["bpm"] > 0
    # Without --cfg-coef the model's own guidance is used, and recorded.
    from audiocraft.models import MusicGen
    own = MusicGen.get_pretrained("toy", device="cpu").lm.cfg_coef
    assert report["settings"]["cfg_coef"] == own
    printed = capsys.readouterr().out
    assert "| generated from captions |" in printed and "SI-SNR" in printed
    assert "triads keeping their quality" in printed
    assert set(report["triad_partials"]) == {"root", "major third", "minor third"}
    assert "level change of the minor third" in printed
    # Mode and key with the synthetic music's key profiles, and with the probe-tone ones.
    assert report["settings"]["key_profiles"] == "synthetic"
    assert report["settings"]["alt_key_profiles"] == "krumhansl"
    for row in report["adherence"].values():
        assert 0.0 <= row["mode_alt"] <= 1.0 and 0.0 <= row["key_alt"] <= row["mode_alt"]
    assert "| mode (krumhansl) | key (krumhansl) |" in printed


def test_codec_only_scores_a_compression_model(ev, tmp_path):
    out = tmp_path / "codec.json"
    assert ev.main(["--codec-only", "--model", "toy", "--num", "2", "--seconds", "4",
                    "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert set(report["adherence"]) == {"real audio", "codec reconstruction"}
    assert report["codec_si_snr_db"] > 0.0 and report["long_form"] == []


def test_guidance_per_codebook_is_recorded(ev, tmp_path):
    out = tmp_path / "eval.json"
    assert ev.main(["--model", "toy", "--num", "2", "--seconds", "2", "--long-seconds", "0",
                    "--cfg-coef", "3,6,6,6", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["settings"]["cfg_coef"] == [3.0, 6.0, 6.0, 6.0]
    with pytest.raises(SystemExit):
        ev.main(["--num", "2", "--cfg-coef", "3;6"])


def test_long_form_stride_is_used_and_recorded(ev, tmp_path):
    out = tmp_path / "eval.json"
    assert ev.main(["--model", "toy", "--num", "2", "--seconds", "2", "--long-seconds", "12",
                    "--stride", "1.5", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["settings"]["stride"] == 1.5 and len(report["long_form"]) == 1
    with pytest.raises(SystemExit):
        ev.main(["--num", "2", "--stride", "0"])


def test_one_piece_is_refused(ev):
    with pytest.raises(SystemExit):
        ev.main(["--num", "1"])
    with pytest.raises(SystemExit):
        ev.main(["--num", "2", "--key-profiles", "temperley"])
    with pytest.raises(SystemExit):
        ev.main(["--num", "2", "--long-pieces", "3"])  # more long pieces than captions


def test_several_long_pieces_are_summarised(ev, tmp_path, capsys):
    out = tmp_path / "eval.json"
    assert ev.main(["--model", "toy", "--num", "2", "--seconds", "2", "--long-seconds", "12",
                    "--long-pieces", "2", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    pieces = report["long_form_pieces"]
    assert len(pieces) == 2 and pieces[0]["minutes"] == report["long_form"]
    # Each piece's real audio (the synthesizer's rendering of the caption) scored alike.
    for piece in pieces:
        assert len(piece["real_keys"]) == len(piece["minutes"]) == 1
        assert piece["real_key_held"] is True  # one minute: one key
    assert pieces[0]["caption"] != pieces[1]["caption"] and pieces[1]["bpm"] > 0
    out = capsys.readouterr().out
    right = sum(all(m["key"] == p["key"] for m in p["minutes"]) for p in pieces)
    real_right = sum(all(k == p["key"] for k in p["real_keys"]) for p in pieces)
    held = sum(p["key_held"] for p in pieces)
    assert f"2 long pieces: key held in {held} ({right} in the caption's key)" in out
    assert f"Real audio, the same pieces: key held in 2 ({real_right} in the caption's key)" in out
