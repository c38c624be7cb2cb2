import pytest
import torch

from audiocraft.modules.patterns import (
    PATTERN_PROVIDERS,
    CoarseFirstPattern,
    DelayedPatternProvider,
    MusicLMPattern,
    ParallelPatternProvider,
    Pattern,
    UnrolledPatternProvider,
    get_pattern_provider,
)

CARD = 32
PROVIDERS = {
    "parallel": lambda: ParallelPatternProvider(4),
    "delay": lambda: DelayedPatternProvider(4, [0, 1, 2, 3]),
    "delay_uneven": lambda: DelayedPatternProvider(4, [0, 2, 2, 5]),
    "delay_flatten_first": lambda: DelayedPatternProvider(4, [0, 1, 2, 3], flatten_first=2),
    "delay_empty_initial": lambda: DelayedPatternProvider(4, [0, 1, 2, 3], empty_initial=2),
    "unroll": lambda: UnrolledPatternProvider(4),
    "unroll_grouped": lambda: UnrolledPatternProvider(4, [0, 1, 1, 2], [0, 1, 1, 2]),
    "coarse_first": lambda: CoarseFirstPattern(4),
    "coarse_first_delayed": lambda: CoarseFirstPattern(4, [0, 1, 2]),
    "musiclm": lambda: MusicLMPattern(4, 2),
}


@pytest.mark.parametrize("name", sorted(PROVIDERS))
@pytest.mark.parametrize("T", [1, 2, 3, 5, 8, 17, 50])
def test_round_trip_codes(name, T):
    pattern = PROVIDERS[name]().get_pattern(T)
    codes = torch.randint(0, CARD, (3, 4, T))
    seq, _, mask = pattern.build_pattern_sequence(codes, CARD)
    assert seq.shape[:2] == (3, 4) and seq.shape[-1] == len(pattern.layout)
    # Every position outside the mask holds the special token, inside it a real code.
    assert (seq[:, ~mask] == CARD).all()
    assert (seq[:, mask] < CARD).all()
    # Each code appears exactly once in the sequence.
    assert int(mask.sum()) == 4 * T
    back, _, back_mask = pattern.revert_pattern_sequence(seq, special_token=-1)
    assert back_mask.all()
    assert torch.equal(back, codes)


@pytest.mark.parametrize("name", sorted(PROVIDERS))
@pytest.mark.parametrize("T", [1, 4, 11])
def test_logits_revert_aligns_prediction_with_target(name, T):
    """Output step s predicts sequence step s + 1: reverting 'logits' that carry the id of
    the next step's code must give back the codes wherever the mask is set."""
    pattern = PROVIDERS[name]().get_pattern(T)
    codes = torch.randint(0, CARD, (2, 4, T))
    seq, _, _ = pattern.build_pattern_sequence(codes, CARD)
    S = seq.shape[-1]
    # fake model output at step s = one-hot of the code at step s + 1
    nxt = torch.cat([seq[..., 1:], torch.full_like(seq[..., :1], CARD)], dim=-1)  # [B, K, S]
    logits = torch.nn.functional.one_hot(nxt, CARD + 1).float()  # [B, K, S, card + 1]
    logits = logits.permute(0, 3, 1, 2)  # [B, card + 1, K, S]
    out, _, mask = pattern.revert_pattern_logits(logits, float("nan"))
    assert out.shape == (2, CARD + 1, 4, T)
    assert mask.all()
    assert torch.equal(out.argmax(dim=1), codes)
    assert S == len(pattern.layout)


@pytest.mark.parametrize("T", [1, 5, 20, 64])
def test_delay_pattern_lengths(T):
    pattern = DelayedPatternProvider(4, [0, 1, 2, 3]).get_pattern(T)
    codes = torch.randint(0, CARD, (1, 4, T))
    full, _, _ = pattern.build_pattern_sequence(codes, CARD)
    valid, _, valid_mask = pattern.build_pattern_sequence(codes, CARD, keep_only_valid_steps=True)
    assert full.shape[-1] == T + 3 + 1
    assert valid.shape[-1] == T + 1
    assert (full[..., 0] == CARD).all()
    # the delay: codebook q at step s holds frame s - 1 - q
    for q in range(4):
        for s in range(1, full.shape[-1]):
            t = s - 1 - q
            expected = codes[0, q, t] if 0 <= t < T else CARD
            assert full[0, q, s] == expected
    # keep_only_valid_steps drops the incomplete tail: codebook q keeps T - q frames
    assert int(valid_mask.sum()) == sum(max(T - d, 0) for d in (0, 1, 2, 3))


def test_first_step_with_timesteps():
    pattern = DelayedPatternProvider(4, [0, 1, 2, 3]).get_pattern(30)
    assert pattern.get_first_step_with_timesteps(0) == 1
    assert pattern.get_first_step_with_timesteps(10) == 11
    pattern = MusicLMPattern(4, 2).get_pattern(5)
    assert pattern.get_first_step_with_timesteps(3) == 1 + 3 * 2


def test_registry_and_errors():
    assert set(PATTERN_PROVIDERS) == {"parallel", "delay", "unroll", "coarse_first", "musiclm"}
    assert isinstance(get_pattern_provider("delay", 4, delays=[0, 1, 2, 3]),
                      DelayedPatternProvider)
    with pytest.raises(ValueError, match="Unknown codebooks pattern 'zigzag'"):
        get_pattern_provider("zigzag", 4)
    with pytest.raises(ValueError, match=r"\['coarse_first', 'delay', 'musiclm', 'parallel', "
                                         r"'unroll'\]\. Did you mean 'delay'\?"):
        get_pattern_provider("dealy", 4)
    with pytest.raises(ValueError, match="delays"):
        DelayedPatternProvider(4, [0, 1])
    with pytest.raises(ValueError, match="non-decreasing"):
        DelayedPatternProvider(4, [3, 2, 1, 0])
    with pytest.raises(ValueError, match="group_by"):
        MusicLMPattern(4, 3)
    with pytest.raises(ValueError, match="empty step"):
        Pattern([[]][1:], timesteps=1, n_q=1)
    pattern = DelayedPatternProvider(4, [0, 1, 2, 3]).get_pattern(5)
    with pytest.raises(ValueError, match="codebooks"):
        pattern.build_pattern_sequence(torch.zeros(1, 3, 5, dtype=torch.long), CARD)
