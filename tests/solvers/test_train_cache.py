"""Pre-computed token shards: a first run writes them, a second run trains from them
without calling the codec's encoder."""

import pytest

from audiocraft.train import run


@pytest.mark.slow
def test_token_cache_written_then_read(make_cfg, tmp_path, monkeypatch):
    cache = tmp_path / "tokens"
    overrides = ["optim.epochs=1", "optim.updates_per_epoch=3", "checkpoint.export=false",
                 f"cache.path={cache}"]
    first = run(make_cfg("musicgen/toy", *overrides, "cache.write=true",
                         run_dir=tmp_path / "first"))
    assert sorted(p.name for p in cache.iterdir()) == ["tokens_rank0_00000.pt"]

    from audiocraft.models.encodec import EncodecModel

    def no_encode(*args, **kwargs):
        raise AssertionError("the codec was called although the tokens are cached")

    monkeypatch.setattr(EncodecModel, "encode", no_encode)
    second = run(make_cfg("musicgen/toy", *overrides, "evaluate.every=2",
                          run_dir=tmp_path / "second"))
    # Same seed, same segments, same tokens: the same training.
    assert len(first.train_history) == 3 and second.train_history == first.train_history
