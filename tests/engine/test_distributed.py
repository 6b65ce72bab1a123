"""Data-parallel training on the CPU (gloo, 2 processes): the same result as one process with the same global
batch, one run folder written by rank 0, and the same from `torchrun` as from `trainer.devices=2`."""

import signal
import sys

import pytest
import torch

from ganctl.engine import checkpoint
from ganctl.engine.distributed import Ranks
from ganctl.engine.train import train
from tests.conftest import FAST, make_config, run_cli

SMALL = ["model.generator.hidden=32", "model.discriminator.hidden=32", "train.batch_size=64", "train.steps=30",
         "train.checkpoint_every=15", "data.n_test=256", "eval.n=256", *FAST[:1], *FAST[3:]]


def assert_close_state(a: dict, b: dict) -> None:
    """Equal up to float summation order: mean of two half-batch means vs one mean of the batch, ~1e-7."""
    for net in ("g", "d"):
        for key in a[net]:
            torch.testing.assert_close(a[net][key], b[net][key], rtol=1e-4, atol=1e-5, msg=f"{net}.{key}")


def test_shard_takes_this_ranks_rows_of_the_global_batch():
    batch = torch.arange(12).reshape(6, 2)
    assert torch.equal(Ranks(rank=1, world=3).shard(batch), batch[2:4])
    assert torch.equal(Ranks().shard(batch), batch)


@pytest.fixture(scope="module")
def one_process(tmp_path_factory):
    folder = tmp_path_factory.mktemp("one")
    train(make_config(*SMALL), folder)
    return checkpoint.load(folder / "checkpoints" / "last.pt")


@pytest.mark.parametrize("launcher", ["trainer.devices", "torchrun"])
def test_two_processes_train_like_one_with_the_same_global_batch(tmp_path, one_process, launcher):
    if launcher == "torchrun":
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "ganctl"]
        result = run_cli("train", *SMALL, "name=ddp", cwd=tmp_path, command=command)
    else:
        result = run_cli("train", *SMALL, "name=ddp", "trainer.devices=2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    (run,) = [p.parent for p in tmp_path.glob("outputs/*/*/.hydra")]  # one folder, however many ranks
    assert run.name.endswith("_ddp")
    assert "x 2 processes" in (run / "ganctl.log").read_text()
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["last.pt", "previous.pt"]
    two = checkpoint.load(run / "checkpoints" / "last.pt")
    assert two["step"] == 30
    assert_close_state(two, one_process)
    assert (run / "metrics.json").is_file() and len(list((run / "tb").glob("events.*"))) == 1


def test_devices_must_divide_the_batch(tmp_path):
    result = run_cli("train", *SMALL, "train.batch_size=63", "trainer.devices=2", cwd=tmp_path)
    assert result.returncode == 2
    assert "train.batch_size=63 must divide by trainer.devices=2" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_ctrl_c_stops_every_rank_at_the_same_step_with_one_checkpoint(tmp_path):
    from tests.engine.test_faults import start_training

    proc = start_training(tmp_path, "hydra.run.dir=outputs/run", "trainer.devices=2", *SMALL, "train.steps=100000",
                          "train.checkpoint_every=100000")
    proc.send_signal(signal.SIGINT)
    output = proc.communicate(timeout=120)[0]
    assert proc.returncode == 130, output
    state = checkpoint.load_run_state(tmp_path / "outputs" / "run" / "checkpoints" / "last.pt")
    assert 0 < state["step"] < 100000
    assert output.count(f"stopped at step {state['step']} by SIGINT") == 1  # rank 0 speaks; the ranks agreed
    assert "Traceback" not in output


def test_zero_devices_is_refused(tmp_path):
    from ganctl.errors import UserError

    with pytest.raises(UserError, match=r"trainer.devices=0 must be at least 1"):
        train(make_config(*SMALL, "trainer.devices=0"), tmp_path)


def test_a_dead_worker_ends_the_run_promptly_and_leaves_no_process(tmp_path):
    """trainer.devices=2, and rank 1 killed (SIGKILL: no chance to say goodbye) mid-training: the launcher ends rank
    0 as well (it would wait in its next all-reduce for the group's 2-hour timeout) and exits non-zero."""
    import os
    import time
    from pathlib import Path

    from tests.engine.test_faults import start_training

    proc = start_training(tmp_path, "hydra.run.dir=outputs/run", "trainer.devices=2", *SMALL, "train.steps=100000",
                          "train.checkpoint_every=100000")
    workers = {}
    for child in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split():
        environ = Path(f"/proc/{child}/environ").read_bytes().split(b"\0")
        workers[int(next(v for v in environ if v.startswith(b"RANK=")).split(b"=")[1])] = int(child)
    assert sorted(workers) == [0, 1]
    started = time.monotonic()
    os.kill(workers[1], signal.SIGKILL)
    output = proc.communicate(timeout=60)[0]
    assert proc.returncode != 0, output
    assert time.monotonic() - started < 30  # the launcher's grace period is 10 s; the group's timeout is 2 hours
    assert not Path(f"/proc/{workers[0]}").exists() or "zombie" in Path(f"/proc/{workers[0]}/status").read_text()
