"""Checkpoints: atomic writes, refusal of files that are not plain data, clear names for bad paths."""

import os
import pickle

import pytest
import torch

from ganctl.engine import checkpoint
from ganctl.errors import UserError


def test_checkpoint_failed_write_keeps_the_previous_file(tmp_path):
    path = tmp_path / "checkpoints" / "last.pt"
    checkpoint.save({"step": 1, "w": torch.ones(3)}, path)
    with pytest.raises(Exception):
        checkpoint.save({"step": 2, "w": lambda: None}, path)  # a lambda cannot be pickled: fails mid-write
    state = checkpoint.load(path)
    assert state["step"] == 1 and torch.equal(state["w"], torch.ones(3))
    assert sorted(p.name for p in path.parent.iterdir()) == ["last.pt"]  # no temporary file left


class RunsCode:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_checkpoint_that_would_run_code_is_refused_not_executed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.pt"
    with open(path, "wb") as f:
        torch.save({"g": RunsCode()}, f, pickle_module=pickle)
    with pytest.raises(UserError, match="corrupt or not a ganctl checkpoint"):
        checkpoint.load(path)
    assert not (tmp_path / "pwned").exists()


def test_checkpoint_resolve_names_what_is_missing(tmp_path):
    with pytest.raises(UserError, match=f"run folder {tmp_path / 'nope'} does not exist"):
        checkpoint.resolve(tmp_path / "nope")
    with pytest.raises(UserError, match="has no checkpoints/best.pt .train with train.eval_every"):
        checkpoint.resolve(tmp_path, "best")
    with pytest.raises(UserError, match="checkpoint other.pt does not exist"):
        checkpoint.resolve(tmp_path, "other.pt")
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "last.pt").write_bytes(b"x")
    assert checkpoint.resolve(tmp_path) == tmp_path / "checkpoints" / "last.pt"
