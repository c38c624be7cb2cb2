"""`torch_load`: a refused (possibly unsafe) file and a corrupt one get different messages."""

import pytest
import torch

from audiocraft.models.loaders import CheckpointError, torch_load

PLANTED = []


class _Payload:
    def __reduce__(self):
        return (PLANTED.append, ("ran",))


def test_refused_file_is_called_unsafe_not_corrupt(tmp_path):
    path = tmp_path / "planted.bin"
    torch.save({"best_state": {"w": torch.zeros(2)}, "x": _Payload()}, path)
    with pytest.raises(CheckpointError) as info:
        torch_load(path)
    message = str(info.value)
    assert "may be unsafe" in message and "planted.bin" in message
    assert "weights_only=False" not in message and "truncated" not in message
    assert info.value.__cause__ is None  # torch's text (which suggests it) is not chained
    assert PLANTED == []


@pytest.mark.parametrize("data", [b"", b"hello world\n", b"PK\x03\x04garbage"])
def test_corrupt_file_keeps_the_corrupt_message(tmp_path, data):
    path = tmp_path / "broken.bin"
    path.write_bytes(data)
    with pytest.raises(CheckpointError, match=r"broken.bin.*truncated or corrupt") as info:
        torch_load(path)
    assert "unsafe" not in str(info.value)


def test_truncated_checkpoint_keeps_the_corrupt_message(tmp_path):
    path = tmp_path / "cut.bin"
    torch.save({"w": torch.zeros(1000)}, path)
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(CheckpointError, match=r"truncated or corrupt"):
        torch_load(path)
