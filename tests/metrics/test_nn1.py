"""Leave-one-out 1-NN accuracy against a brute-force loop, and its behaviour described by Xu et al. 2018:
~0.5 on one distribution, 1 on separated sets, ~0 on a copied set, rising as modes are dropped."""

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from ganctl.engine.evaluate import compute_metrics
from ganctl.errors import UserError
from ganctl.metrics.nn1 import nn1_accuracy
from tests.metrics.samples import randn, ring_samples

CONF = Path(__file__).resolve().parents[2] / "conf" / "metrics"



def brute_force_nn1(real, fake):
    """Each pooled point's nearest other point by an explicit loop over exact Euclidean norms."""
    z = np.concatenate([real.numpy(), fake.numpy()])
    labels = [1] * len(real) + [0] * len(fake)
    correct = []
    for a in range(len(z)):
        dist = [np.linalg.norm(z[a] - z[b]) if b != a else math.inf for b in range(len(z))]
        correct.append(labels[int(np.argmin(dist))] == labels[a])
    n = len(real)
    return {"nn1_accuracy": np.mean(correct), "nn1_real": np.mean(correct[:n]), "nn1_fake": np.mean(correct[n:])}


def test_nn1_matches_brute_force_for_every_chunk_size():
    real, fake = randn(15, 3, seed=0), randn(12, 3, seed=1) * 1.3 + 0.4
    expected = brute_force_nn1(real, fake)
    assert 0 < expected["nn1_accuracy"] < 1  # a mixed case, not a trivial one
    for chunk_size in (1, 4, 27, 1024):
        assert nn1_accuracy(real=real, fake=fake, chunk_size=chunk_size) == expected  # counts: exact equality


def test_nn1_is_about_one_half_on_two_samples_of_one_distribution():
    # Same distribution, n = m = 500: each label is a coin flip, sd of the accuracy ~ sqrt(0.25 / 1000) = 0.016
    # (more with neighbour dependence); 0.07 is over 4 sd.
    out = nn1_accuracy(real=randn(500, 2, seed=2), fake=randn(500, 2, seed=3))
    assert abs(out["nn1_accuracy"] - 0.5) < 0.07


def test_nn1_is_one_on_separated_sets():
    out = nn1_accuracy(real=randn(100, 2, seed=4), fake=randn(80, 2, seed=5) + 50.0)
    assert out == {"nn1_accuracy": 1.0, "nn1_real": 1.0, "nn1_fake": 1.0}


def test_nn1_is_zero_when_fake_copies_real():
    # Leave-one-out: every point's nearest neighbour is its twin with the other label (memorisation, Xu et al.).
    real = randn(200, 2, seed=6)
    assert nn1_accuracy(real=real, fake=real.clone()) == {"nn1_accuracy": 0.0, "nn1_real": 0.0, "nn1_fake": 0.0}



def test_nn1_rises_as_modes_are_dropped():
    # Xu et al. 2018 (mode dropping): real points of dropped modes find only real neighbours, and the generated
    # points crowd the kept modes, so the accuracy grows from ~0.5 (8 modes) as modes go.
    real = ring_samples(200, list(range(8)), seed=7)
    acc = [nn1_accuracy(real=real, fake=ring_samples(200, list(range(k)), seed=8))["nn1_accuracy"] for k in (8, 4, 1)]
    assert abs(acc[0] - 0.5) < 0.1
    assert acc[0] < acc[1] < acc[2], acc


def test_nn1_selected_by_its_config_through_the_engine():
    real, fake = randn(20, 2, seed=9), randn(15, 2, seed=10) + 1.0
    assert compute_metrics(OmegaConf.load(CONF / "nn1.yaml"), real, fake, {}) == brute_force_nn1(real, fake)


def test_nn1_is_keyword_only_and_checks_inputs():
    x = randn(5, 2, seed=11)
    with pytest.raises(TypeError):
        nn1_accuracy(x, x)
    with pytest.raises(UserError, match="same d"):
        nn1_accuracy(real=x, fake=randn(5, 3, seed=12))
    with pytest.raises(UserError, match="chunk_size"):
        nn1_accuracy(real=x, fake=x, chunk_size=0)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_nn1_on_cuda_matches_cpu():
    real, fake = randn(3000, 16, seed=13), randn(2500, 16, seed=14) * 1.1
    cpu = nn1_accuracy(real=real, fake=fake, chunk_size=700)
    assert nn1_accuracy(real=real.cuda(), fake=fake.cuda(), chunk_size=700) == cpu  # random data: no near-ties
