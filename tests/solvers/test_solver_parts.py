import pytest
import torch
from torch import nn

from audiocraft.solvers.checkpoint import AtomicCheckpointIO, rng_state, set_rng_state
from audiocraft.solvers.ema import ModelEMA
from audiocraft.solvers.schedules import CosineWithWarmup, LinearWarmup
from audiocraft.solvers.token_cache import TokenCache


def test_ema_average_swap_and_state():
    net = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        net.weight.fill_(0.0)
    ema = ModelEMA(net, decay=0.5)
    with torch.no_grad():
        net.weight.fill_(1.0)
    ema.update()  # 0.5 * 0 + 0.5 * 1
    ema.update()  # 0.75
    with ema.swapped():
        assert torch.allclose(net.weight, torch.full((1, 2), 0.75))
    assert torch.allclose(net.weight, torch.ones(1, 2))
    other = ModelEMA(net, decay=0.5)
    other.load_state_dict(ema.state_dict())
    assert torch.allclose(other.averaged_state()["weight"], torch.full((1, 2), 0.75))
    with pytest.raises(ValueError):
        ModelEMA(net, decay=1.0)


def test_schedules():
    cos = CosineWithWarmup(warmup=10, total_steps=110, lr_min_ratio=0.1)
    assert cos(0) < cos(5) < cos(9) <= 1.0
    assert cos(10) == pytest.approx(1.0)
    assert cos(60) == pytest.approx(0.55)
    assert cos(110) == pytest.approx(0.1) and cos(500) == pytest.approx(0.1)
    assert LinearWarmup(4)(100) == 1.0


def test_atomic_checkpoint_io_replaces_whole_file(tmp_path):
    io = AtomicCheckpointIO()
    path = tmp_path / "ck" / "last.ckpt"
    io.save_checkpoint({"a": torch.ones(3)}, path)
    io.save_checkpoint({"a": torch.zeros(3)}, path)
    assert torch.equal(torch.load(path)["a"], torch.zeros(3))
    assert [p.name for p in path.parent.iterdir()] == ["last.ckpt"]  # no temporary left


def test_rng_state_round_trip():
    state = rng_state()
    a = torch.rand(3)
    set_rng_state(state)
    assert torch.equal(a, torch.rand(3))


class _Meta:
    def __init__(self, path):
        self.path = path


class _Info:
    def __init__(self, path, seek):
        self.meta = _Meta(path)
        self.seek_time = seek


def test_token_cache_write_flush_read(tmp_path):
    cache = TokenCache(tmp_path / "tok", write=True, cardinality=16)
    infos = [_Info("a.wav", 0.0), _Info("b.wav", 1.5)]
    codes = torch.randint(0, 16, (2, 4, 10))
    assert cache.lookup(infos) is None
    cache.add(infos, codes)
    cache.flush()
    again = TokenCache(tmp_path / "tok", cardinality=16)
    assert len(again) == 2 and torch.equal(again.lookup(infos), codes)
    assert again.lookup([_Info("c.wav", 0.0)]) is None
    each = again.lookup_each([_Info("b.wav", 1.5), _Info("c.wav", 0.0)])
    assert torch.equal(each[0].long(), codes[1]) and each[1] is None
    with pytest.raises(ValueError, match="another codec"):
        TokenCache(tmp_path / "tok", cardinality=8).lookup(infos)
    with pytest.raises(FileNotFoundError, match="cache.write"):
        TokenCache(tmp_path / "missing")


def test_token_cache_refuses_unsafe_or_truncated_shards(tmp_path):
    from audiocraft.models.loaders import CheckpointError

    (tmp_path / "tok").mkdir()
    shard = tmp_path / "tok" / "tokens_rank0_00000.pt"
    torch.save({"a.wav@0": torch.zeros(4, 3, dtype=torch.int16)}, shard)
    data = shard.read_bytes()
    shard.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="delete it"):
        TokenCache(tmp_path / "tok")
    torch.save({"a.wav@0": _Info("a.wav", 0.0)}, shard)  # an object: never unpickled
    with pytest.raises(CheckpointError, match="token shard"):
        TokenCache(tmp_path / "tok")


def test_masked_cross_entropy_matches_per_codebook_reference():
    from torch.nn import functional as F

    from audiocraft.solvers.musicgen import masked_cross_entropy

    B, K, T, card = 2, 3, 7, 11
    logits = torch.randn(B, K, T, card)
    codes = torch.randint(0, card, (B, K, T))
    mask = torch.rand(B, K, T) > 0.3
    logits[~mask] = float("nan")  # what compute_predictions puts at invalid positions
    logits.requires_grad_(True)
    out = masked_cross_entropy(logits, codes, mask)
    for k in range(K):
        valid = mask[:, k]
        ref = F.cross_entropy(logits[:, k][valid], codes[:, k][valid])
        assert torch.allclose(out.ce_per_codebook[k], ref, atol=1e-6)
    out.ce.backward()
    assert torch.isfinite(logits.grad).all() and (logits.grad[~mask] == 0).all()


def test_tokenize_encodes_only_segments_missing_from_the_cache(tmp_path):
    from types import SimpleNamespace

    from audiocraft.models.loaders import load_compression_model
    from audiocraft.solvers.musicgen import MusicGenSolver

    torch.manual_seed(0)
    codec = load_compression_model("debug").eval()
    wav = torch.randn(3, 1, 4 * codec.hop_length)  # [B, C, T]: 4 frames each
    infos = [_Info(f"{name}.wav", 0.0) for name in "abc"]
    full = codec.encode(wav)[0]
    cache = TokenCache(tmp_path / "tok", write=True, cardinality=codec.cardinality)
    cache.add([infos[1]], full[1:2])
    cache.flush()
    encoded_batches = []

    def encode(w):
        encoded_batches.append(w.shape[0])
        return MusicGenSolver._encode(solver, w)

    solver = SimpleNamespace(token_cache=cache, compression_model=codec, _encode=encode)
    codes, padding = MusicGenSolver.tokenize(solver, wav, infos)
    assert encoded_batches == [2]  # "a" and "c" only
    assert torch.equal(codes, full.long()) and padding.all()
    cache.flush()  # the two new segments: now every one is cached
    codes, _ = MusicGenSolver.tokenize(solver, wav, infos)
    assert encoded_batches == [2] and torch.equal(codes, full.long())


def test_style_excerpt_frames_are_left_out_of_the_loss():
    """The frames a style conditioner took its training excerpt from are masked."""
    from types import SimpleNamespace

    from audiocraft.solvers.musicgen import MusicGenSolver

    style = SimpleNamespace(loss_excerpt=(torch.tensor([0.2, 0.0]), torch.tensor([0.4, 0.0])))
    fake = SimpleNamespace(
        lm=SimpleNamespace(training=True, condition_provider=SimpleNamespace(
            conditioners={"self_wav": style, "description": SimpleNamespace()})),
        compression_model=SimpleNamespace(frame_rate=10.0))
    keep = MusicGenSolver._excerpt_mask(fake, torch.zeros(2, 4, 10, dtype=torch.long))
    assert keep[0, :, 2:6].sum() == 0 and keep[0, :, :2].all() and keep[0, :, 6:].all()
    assert keep[1].all()  # a null style: nothing masked
    fake.lm.training = False
    assert MusicGenSolver._excerpt_mask(fake, torch.zeros(2, 4, 10, dtype=torch.long)).all()
