"""Faults during training: each test causes one (a signal, a damaged file, a NaN, a full disk) and checks that
nothing was lost and that the message is the one a user needs."""

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from ganctl.engine import checkpoint
from ganctl.engine import train as engine_train
from ganctl.engine.train import train
from ganctl.errors import UserError
from tests.conftest import FAST, make_config, run_cli

SMALL = ["train.threads=1", "model.generator.hidden=32", "model.discriminator.hidden=32", "eval.at_end=false", *FAST]


def weights(run_dir: Path, name: str = "last.pt") -> dict:
    return checkpoint.load(run_dir / "checkpoints" / name)


def assert_same_state(a: dict, b: dict) -> None:
    for net in ("g", "d"):
        assert a[net].keys() == b[net].keys()
        for key in a[net]:
            assert torch.equal(a[net][key], b[net][key]), (net, key)


# ---- checkpoints --------------------------------------------------------------------------------------------

def test_checksum_names_a_checkpoint_damaged_after_it_was_written(tmp_path):
    path = tmp_path / "last.pt"
    checkpoint.save({"step": 3, "w": torch.arange(4096.0)}, path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside the tensor's bytes: torch.load alone would not notice
    path.write_bytes(bytes(data))
    with pytest.raises(UserError, match=f"checkpoint {path} is corrupt: its contents do not match the checksum"):
        checkpoint.load(path)


def test_resume_falls_back_to_the_newest_good_checkpoint_and_stays_exact(tmp_path, caplog):
    """last.pt (step 20) damaged: resume names it, continues from previous.pt (step 10), and the result is
    bitwise that of an uninterrupted 30-step run."""
    common = ["train.checkpoint_every=10", *SMALL]
    train(make_config("train.steps=20", *common), tmp_path / "first")
    assert weights(tmp_path / "first", "previous.pt")["step"] == 10
    last = tmp_path / "first" / "checkpoints" / "last.pt"
    last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])  # truncated, as by a crash of the disk
    with caplog.at_level("WARNING", logger="ganctl"):
        train(make_config("train.steps=30", f"train.resume={tmp_path / 'first'}", *common), tmp_path / "resumed")
    text = caplog.text
    assert f"checkpoint {last} is corrupt or not a ganctl checkpoint" in text
    assert "falling back to" in text and "previous.pt (step 10)" in text
    train(make_config("train.steps=30", *common), tmp_path / "straight")
    assert_same_state(weights(tmp_path / "resumed"), weights(tmp_path / "straight"))


def test_resume_with_no_good_checkpoint_names_each_problem(tmp_path):
    train(make_config("train.steps=10", "train.checkpoint_every=5", *SMALL), tmp_path / "run")
    for name in ("last.pt", "previous.pt"):
        (tmp_path / "run" / "checkpoints" / name).write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match=r"no usable checkpoint in .*checkpoints: checkpoint .*last.pt is corrupt.*; "
                                        r"checkpoint .*previous.pt is corrupt"):
        train(make_config("train.steps=20", f"train.resume={tmp_path / 'run'}", *SMALL), tmp_path / "again")


def test_run_folder_from_another_version_is_named(tmp_path):
    train(make_config("train.steps=5", *SMALL), tmp_path / "run")
    path = tmp_path / "run" / "checkpoints" / "last.pt"
    state = torch.load(path, weights_only=True)
    for key in (checkpoint.FORMAT_KEY, checkpoint.CHECKSUM_KEY):
        del state[key]  # the layout of ganctl's first release
    torch.save(state, path)
    message = (f"checkpoint {path} was written by an older version of ganctl (checkpoint format 1; this version "
               f"reads format {checkpoint.FORMAT})")
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        train(make_config("train.steps=10", f"train.resume={tmp_path / 'run'}", *SMALL), tmp_path / "again")
    result = run_cli("sample", str(tmp_path / "run"), cwd=tmp_path)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_full_disk_while_writing_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    cfg = make_config("train.steps=20", "train.checkpoint_every=10", *SMALL)
    real_save, calls = torch.save, []

    def save_until_disk_full(obj, f, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            f.write(b"half a checkpoint")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(checkpoint.torch, "save", save_until_disk_full)
    with pytest.raises(UserError, match="the disk is full: cannot write checkpoint .*last.pt; the previous "
                                        "checkpoint is kept intact"):
        train(cfg, tmp_path)
    assert weights(tmp_path)["step"] == 10
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["last.pt"]  # no temporary file left


def test_too_little_disk_space_fails_before_the_first_step(tmp_path, monkeypatch):
    monkeypatch.setattr(engine_train.shutil, "disk_usage", lambda path: SimpleNamespace(free=10 * 2**20))
    with pytest.raises(UserError, match=r"not enough disk space for .*: 10 MiB free, this run needs about \d+ MiB"):
        train(make_config("train.steps=20", *SMALL), tmp_path / "run")
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_unwritable_output_folder_is_one_line_before_training(tmp_path):
    (tmp_path / "outputs").write_text("a file where the outputs folder should be")
    result = run_cli("train", "train.steps=5", *SMALL, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Not a directory" in result.stderr and "hydra.run.dir=PATH" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stdout + result.stderr
    assert (tmp_path / "outputs").read_text() == "a file where the outputs folder should be"
    with pytest.raises(UserError, match=f"the run folder {tmp_path / 'outputs' / 'run'} is not writable"):
        engine_train.check_output_folder(tmp_path / "outputs" / "run", 1000)


# ---- divergence ---------------------------------------------------------------------------------------------

class NanWeightAfter:
    """nsgan whose D gets a NaN weight after its `at`-th update. With g_ignores_d, G's loss at that step does not
    read D, so every loss stays finite and only the weights show it."""

    def __new__(cls, at: int, g_ignores_d: bool = False, n_critic: int = 1):
        from ganctl.methods.nsgan import Nsgan

        class Poisoned(Nsgan):
            updates = 0

            def after_discriminator_step(self, d):
                Poisoned.updates += 1
                if Poisoned.updates == at:
                    with torch.no_grad():
                        next(d.parameters()).view(-1)[0] = float("nan")

            def generator_step(self, g, d, real, z):
                if g_ignores_d and Poisoned.updates >= at:
                    return {"loss": g(z).pow(2).mean()}
                return super().generator_step(g, d, real, z)

        return Poisoned(n_critic)


class NanLossAt:
    """nsgan whose D loss is NaN at the given steps (1-based), e.g. a bad batch."""

    def __new__(cls, steps: list[int], n_critic: int = 1):
        from ganctl.methods.nsgan import Nsgan

        class Poisoned(Nsgan):
            calls = 0

            def discriminator_step(self, g, d, real, z):
                out = super().discriminator_step(g, d, real, z)
                Poisoned.calls += 1
                if Poisoned.calls in steps:
                    out["loss"] = out["loss"] * float("nan")
                return out

        return Poisoned(n_critic)


def test_nan_in_the_weights_stops_before_the_checkpoint(tmp_path):
    cfg = make_config("method._target_=tests.engine.test_faults.NanWeightAfter", "+method.at=7", "train.steps=50",
                      "train.checkpoint_every=5", "train.log_every=50", *SMALL)
    with pytest.raises(UserError, match=r"training diverged at step 7: loss/g = nan; the last good checkpoint is "
                                        r".*last.pt"):
        train(cfg, tmp_path)
    state = weights(tmp_path)
    assert state["step"] == 5 and all(torch.isfinite(w).all() for w in state["d"].values())


def test_nan_weight_with_finite_losses_is_named(tmp_path):
    cfg = make_config("method._target_=tests.engine.test_faults.NanWeightAfter", "+method.at=5", "+method.g_ignores_d=true",
                      "train.steps=5", "train.checkpoint_every=5", *SMALL)
    with pytest.raises(UserError, match=r"diverged by step 5: weight d\.body\.1\.weight is NaN or Inf; no checkpoint "
                                        r"was written before it"):
        train(cfg, tmp_path)


def test_skip_step_skips_exactly_the_poisoned_updates(tmp_path):
    """A NaN D loss at step 5 with on_nan=skip_step: D's weights and optimiser after 5 steps are exactly those
    after 4 (its 5th update never happened), and G still trained at step 5."""
    poisoned = make_config("method._target_=tests.engine.test_faults.NanLossAt", "+method.steps=[5]",
                           "train.on_nan=skip_step", "train.steps=5", *SMALL)
    train(poisoned, tmp_path / "skipped")
    train(make_config("train.steps=4", *SMALL), tmp_path / "four")
    skipped, four = weights(tmp_path / "skipped"), weights(tmp_path / "four")
    for key in four["d"]:
        assert torch.equal(skipped["d"][key], four["d"][key]), key
    assert skipped["opt_d"]["state"][0]["step"] == 4 and skipped["opt_g"]["state"][0]["step"] == 5
    assert not torch.equal(skipped["g"]["net.0.weight"], four["g"]["net.0.weight"])


# ---- signals ------------------------------------------------------------------------------------------------

LONG = ["train.steps=100000", "train.checkpoint_every=100000", "train.batch_size=64", *SMALL]


def start_training(cwd: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "ganctl", "train", *args], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    for line in proc.stdout:  # wait until the loop runs
        if "run folder:" in line:
            break
    time.sleep(1.0)
    return proc


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_finishes_the_step_checkpoints_and_resumes_exactly(tmp_path, signum, code):
    proc = start_training(tmp_path, "hydra.run.dir=outputs/run", *LONG)
    proc.send_signal(signum)
    output = proc.communicate(timeout=120)[0]
    assert proc.returncode == code, output
    run = tmp_path / "outputs" / "run"
    stopped = weights(run)["step"]
    assert 0 < stopped < 100000
    assert f"stopped at step {stopped} by {signal.Signals(signum).name}" in output
    assert f"ganctl train train.resume={run.resolve()}" in output and "Traceback" not in output
    # Nothing lost: resuming to step+5 gives bitwise the weights of a run that was never stopped.
    target = stopped + 5
    train(make_config(f"train.resume={run}", *LONG[1:], f"train.steps={target}"), tmp_path / "resumed")
    train(make_config(*LONG[1:], f"train.steps={target}"), tmp_path / "straight")
    assert_same_state(weights(tmp_path / "resumed"), weights(tmp_path / "straight"))


def test_second_ctrl_c_exits_at_once_and_leaves_no_damaged_file(tmp_path):
    proc = start_training(tmp_path, "hydra.run.dir=outputs/run", *LONG[:1], "train.checkpoint_every=1", *LONG[2:])
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGINT)
    output = proc.communicate(timeout=120)[0]
    assert proc.returncode == 130, output
    assert "Traceback" not in output
    folder = tmp_path / "outputs" / "run" / "checkpoints"
    names = sorted(p.name for p in folder.iterdir())
    assert names and set(names) <= {"last.pt", "previous.pt"}  # no temporary file left behind
    steps = [checkpoint.load_run_state(folder / name)["step"] for name in names]  # each loads and checksums
    assert all(s > 0 for s in steps)


# ---- resume in place ----------------------------------------------------------------------------------------

def test_multirun_job_resumed_in_place_continues(tmp_path):
    """A sweep stopped at step 10 and re-run with train.resume=auto and the same sweep folder continues every
    job in its own folder, bitwise as if it had run 20 steps at once."""
    sweep = ["-m", "seed=0,1", "train.resume=auto", "hydra.sweep.dir=outputs/sweep", *SMALL]
    first = run_cli("train", *sweep, "train.steps=10", cwd=tmp_path)
    again = run_cli("train", *sweep, "train.steps=20", cwd=tmp_path)
    assert first.returncode == again.returncode == 0, first.stderr + again.stderr
    assert again.stdout.count("resuming from") == 2
    for seed in (0, 1):
        train(make_config(f"seed={seed}", "train.steps=20", *SMALL), tmp_path / f"straight{seed}")
        resumed = weights(tmp_path / "outputs" / "sweep" / str(seed))
        assert resumed["step"] == 20
        assert_same_state(resumed, weights(tmp_path / f"straight{seed}"))
