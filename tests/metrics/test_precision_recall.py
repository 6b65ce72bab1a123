"""k-NN precision and recall against a brute-force loop, the authors' `<=` boundary, and mode dropping."""

from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from ganctl.engine.evaluate import compute_metrics
from ganctl.errors import UserError
from ganctl.metrics.precision_recall import precision_recall
from tests.metrics.samples import randn, ring_samples

CONF = Path(__file__).resolve().parents[2] / "conf" / "metrics"



def knn_radii(x, k):
    """Distance from each point to its k-th nearest other point, by sorting exact norms."""
    return [sorted(np.linalg.norm(x[i] - x[j]) for j in range(len(x)) if j != i)[k - 1] for i in range(len(x))]


def brute_force_precision_recall(real, fake, k):
    real, fake = real.numpy(), fake.numpy()
    r_real, r_fake = knn_radii(real, k), knn_radii(fake, k)
    precision = np.mean([any(np.linalg.norm(y - x) <= r for x, r in zip(real, r_real)) for y in fake])
    recall = np.mean([any(np.linalg.norm(x - y) <= r for y, r in zip(fake, r_fake)) for x in real])
    return {"precision": precision, "recall": recall}


def test_precision_recall_match_brute_force_for_every_chunk_size():
    real, fake = randn(20, 3, seed=0), randn(15, 3, seed=1) * 0.8 + 1.5
    for k in (1, 3):
        expected = brute_force_precision_recall(real, fake, k)
        assert 0 < expected["precision"] < 1 and 0 < expected["recall"] < 1  # mixed, not trivial
        for chunk_size in (1, 6, 20, 1024):
            assert precision_recall(real=real, fake=fake, k=k, chunk_size=chunk_size) == expected, (k, chunk_size)


def test_precision_counts_a_sample_on_a_ball_boundary():
    # 1-D, k = 1: real 0, 1, 5, 6 all have radius 1. Fake 2 lies exactly on the boundary of the ball around 1
    # (the `<=` of Kynkaanniemi et al.'s code counts it), fake 8 is 2 from 6: outside. The pooled mean is 4, so
    # the centred coordinates are integers and every squared distance is exact. Fake radii (k = 1) are both 6,
    # which covers every real point.
    real = torch.tensor([[0.0], [1.0], [5.0], [6.0]], dtype=torch.float64)
    fake = torch.tensor([[2.0], [8.0]], dtype=torch.float64)
    assert precision_recall(real=real, fake=fake, k=1) == {"precision": 0.5, "recall": 1.0}



def test_recall_falls_and_precision_stays_as_modes_are_dropped():
    real = ring_samples(200, list(range(8)), seed=2)
    outs = [precision_recall(real=real, fake=ring_samples(200, list(range(k)), seed=3)) for k in (8, 4, 1)]
    recalls = [o["recall"] for o in outs]
    assert recalls[0] > recalls[1] > recalls[2], recalls
    assert recalls[2] < 0.2  # one mode of eight: about 1/8 of the real points lie on the generated manifold
    assert all(o["precision"] > 0.9 for o in outs), outs  # every generated sample sits on a real mode


def test_precision_recall_selected_by_its_config_through_the_engine():
    real, fake = randn(20, 2, seed=4), randn(18, 2, seed=5) + 0.5
    got = compute_metrics(OmegaConf.load(CONF / "precision_recall.yaml"), real, fake, {})
    assert got == brute_force_precision_recall(real, fake, k=3)


def test_precision_recall_is_keyword_only_and_checks_k():
    x = randn(5, 2, seed=6)
    with pytest.raises(TypeError):
        precision_recall(x, x)
    with pytest.raises(UserError, match="1 <= k"):
        precision_recall(real=x, fake=x[:3], k=3)  # the 3 generated points have only 2 neighbours each
    with pytest.raises(UserError, match="same d"):
        precision_recall(real=x, fake=randn(5, 3, seed=7))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_precision_recall_on_cuda_matches_cpu():
    real, fake = randn(2000, 16, seed=8), randn(1800, 16, seed=9) * 1.2
    cpu = precision_recall(real=real, fake=fake, chunk_size=500)
    assert precision_recall(real=real.cuda(), fake=fake.cuda(), chunk_size=500) == cpu  # random data: no near-ties
