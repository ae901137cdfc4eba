import pickle

import numpy as np
import pytest
import torch

from molvae.checkpoint import load_checkpoint, plain, save_checkpoint
from molvae.errors import CheckpointError


def test_round_trip(tmp_path):
    meta = {"vocab": ["<pad>", "[C]"], "n": np.int64(3), "x": np.float32(0.5), "v": torch.__version__}
    state = {"w": torch.randn(3, 2)}
    path = save_checkpoint(tmp_path / "a.pt", meta, state, {"step": 7})
    payload = load_checkpoint(path)
    assert payload["meta"] == {"vocab": ["<pad>", "[C]"], "n": 3, "x": 0.5, "v": str(torch.__version__)}
    torch.testing.assert_close(payload["state_dict"]["w"], state["w"])
    assert payload["training"] == {"step": 7}
    assert not list(tmp_path.glob(".*tmp*"))  # atomic write leaves no temporary file


def test_plain_converts_to_builtins():
    assert plain({"a": (1, np.int32(2)), 3: None}) == {"a": [1, 2], "3": None}


def test_missing_and_garbage_files(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "none.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="not a readable"):
        load_checkpoint(tmp_path / "junk.pt")


def test_other_torch_files_are_refused(tmp_path):
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a molvae checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
    torch.save({"format": "molvae-checkpoint", "format_version": 99, "meta": {}, "state_dict": {}}, tmp_path / "new.pt")
    with pytest.raises(CheckpointError, match="format 99"):
        load_checkpoint(tmp_path / "new.pt")


class _Evil:
    def __reduce__(self):
        return (print, ("pwned",))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_pickled_code_is_not_executed(tmp_path, capsys):
    torch.save({"format": "molvae-checkpoint", "format_version": 1, "meta": {"x": _Evil()}, "state_dict": {}},
               tmp_path / "evil.pt", pickle_protocol=pickle.HIGHEST_PROTOCOL)
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path / "evil.pt")
    assert "pwned" not in capsys.readouterr().out
