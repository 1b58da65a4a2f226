import pytest
import torch

from gptlab.errors import GptlabError
from gptlab.trainer import checkpoint


def test_save_is_atomic_when_the_write_fails(tmp_path, monkeypatch):
    path = tmp_path / "checkpoints" / "last.pt"
    checkpoint.save({"step": 1, "w": torch.ones(3)}, path)

    def crash(obj, file):
        file.write(b"half a checkpoint")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save({"step": 2, "w": torch.zeros(3)}, path)
    state = checkpoint.load(path)
    assert state["step"] == 1 and torch.equal(state["w"], torch.ones(3))
    assert [p.name for p in path.parent.iterdir()] == ["last.pt"], "no temp file is left behind"


def test_broken_checkpoint_gets_a_clear_error(tmp_path):
    path = tmp_path / "last.pt"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(GptlabError, match="cannot be read"):
        checkpoint.load(path)


def test_find_prefers_best_then_last(tmp_path):
    checkpoint.save({"step": 1}, checkpoint.checkpoint_path(tmp_path, checkpoint.LAST))
    assert checkpoint.find(tmp_path).name == "last.pt"
    checkpoint.save({"step": 1}, checkpoint.checkpoint_path(tmp_path, checkpoint.BEST))
    assert checkpoint.find(tmp_path).name == "best.pt"
    assert checkpoint.find(tmp_path, prefer="last.pt").name == "last.pt"


def test_copy_as_keeps_the_state_when_the_original_is_rewritten(tmp_path):
    last = checkpoint.checkpoint_path(tmp_path, checkpoint.LAST)
    best = checkpoint.checkpoint_path(tmp_path, checkpoint.BEST)
    checkpoint.save({"step": 5}, last)
    checkpoint.copy_as(last, best)
    checkpoint.save({"step": 10}, last)  # a later step: last.pt is replaced, best.pt keeps step 5
    assert checkpoint.load(best)["step"] == 5 and checkpoint.load(last)["step"] == 10
    checkpoint.copy_as(last, best)
    assert checkpoint.load(best)["step"] == 10
    assert sorted(p.name for p in last.parent.iterdir()) == ["best.pt", "last.pt"], "no temp file is left behind"
