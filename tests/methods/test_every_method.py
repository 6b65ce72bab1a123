"""Every `method=` config trains through the engine, resumes bitwise and samples through `ganctl sample`.

Per-method losses are checked against hand computations in their own test files; this file checks what each
method must share with the rest: its extra networks and optimiser hooks survive a checkpoint, and G rebuilt
from the checkpoint (a mixture of generators for MAD-GAN) gives exactly the samples the run evaluates.
"""

import numpy as np
import pytest
import torch

from ganctl.engine import checkpoint, runs
from ganctl.engine.config import CONF_DIR
from ganctl.engine.evaluate import EVAL_SEED_OFFSET, generate
from ganctl.engine.train import train
from tests.conftest import FAST, make_config

METHODS = sorted(p.stem for p in (CONF_DIR / "method").glob("*.yaml"))
# Tiny nets and batches: this is about plumbing, not learning. 8 steps = 2 checkpoints of 4.
TINY = ["model.generator.hidden=16", "model.discriminator.hidden=16", "train.batch_size=24", "train.log_every=2",
        "train.checkpoint_every=4", "train.sample_every=100", "eval.at_end=false", *FAST]


def all_tensors(state: dict) -> dict:
    """Every tensor of a checkpoint's networks, flattened to name -> tensor."""
    out = {}
    for part in ("g", "d"):
        out.update({f"{part}.{k}": v for k, v in state[part].items()})
    for name, sd in state["extra"].items():
        out.update({f"{name}.{k}": v for k, v in sd.items()})
    return out


@pytest.mark.parametrize("method", METHODS)
def test_method_resumes_bitwise_and_samples_what_it_evaluates(method, tmp_path):
    common = [f"method={method}", *TINY]
    train(make_config("train.steps=8", *common), tmp_path / "straight")
    train(make_config("train.steps=4", *common), tmp_path / "half")
    train(make_config("train.steps=8", f"train.resume={tmp_path / 'half'}", *common), tmp_path / "resumed")
    straight = all_tensors(checkpoint.load(tmp_path / "straight" / "checkpoints" / "last.pt"))
    resumed = all_tensors(checkpoint.load(tmp_path / "resumed" / "checkpoints" / "last.pt"))
    assert straight.keys() == resumed.keys()
    for key in straight:
        assert torch.equal(straight[key], resumed[key]), (method, key)

    npz, png = runs.sample(str(tmp_path / "straight"), 40, None, "last")
    samples = np.load(npz)["samples"]
    assert samples.shape == (40, 2) and np.isfinite(samples).all() and png.exists()
    run = runs.open_run(tmp_path / "straight")
    expected = generate(run.g, 40, run.cfg.model.z_dim, run.device, run.cfg.seed + EVAL_SEED_OFFSET)
    assert np.array_equal(samples, expected.numpy())
