"""Inception Score on hand-built predictions (closed forms) and against the reference code's loop in numpy."""

import math

import numpy as np
import pytest
import torch

from ganctl.errors import UserError
from ganctl.metrics.inception_score import inception_score


def one_hot(labels, classes=10):
    return torch.nn.functional.one_hot(torch.tensor(labels), classes).double()


def test_inception_score_of_one_hot_predictions_over_k_classes_is_k():
    # 40 predictions cycling through 4 of 10 classes: every chunk of 4 holds each class once, so each IS_k = 4.
    out = inception_score(probs=one_hot([i % 4 for i in range(40)]), splits=10)
    assert out == {"is_mean": pytest.approx(4.0, rel=1e-12), "is_std": pytest.approx(0.0, abs=1e-12)}
    out = inception_score(probs=one_hot([i % 7 for i in range(70)]), splits=1)
    assert out["is_mean"] == pytest.approx(7.0, rel=1e-12)


def test_inception_score_of_uniform_predictions_is_one():
    out = inception_score(probs=torch.full((50, 10), 0.1, dtype=torch.float64), splits=5)
    assert out == {"is_mean": pytest.approx(1.0, abs=1e-12), "is_std": pytest.approx(0.0, abs=1e-12)}


def test_inception_score_of_soft_two_class_predictions_is_closed_form():
    # Rows (a, 1-a) and (1-a, a) in equal numbers: marginal (1/2, 1/2), KL = log 2 - H(a), IS = 2 exp(-H(a)).
    a = 0.8
    probs = torch.tensor([[a, 1 - a], [1 - a, a]] * 5, dtype=torch.float64)
    entropy = -(a * math.log(a) + (1 - a) * math.log(1 - a))
    assert inception_score(probs=probs, splits=5)["is_mean"] == pytest.approx(2 * math.exp(-entropy), rel=1e-12)


def test_inception_score_splits_are_consecutive_floor_chunks():
    # n = 7, splits = 2: chunks rows 0..2 and 3..6 (floor(k n / splits)). Rows 0..2 are classes 0, 1, 2 (IS 3),
    # rows 3..6 are 0, 0, 1, 1 (IS 2): mean 2.5, numpy std (ddof 0) 0.5. Chunks 0..3 / 4..6 would give others.
    out = inception_score(probs=one_hot([0, 1, 2, 0, 0, 1, 1], classes=3), splits=2)
    assert out == {"is_mean": pytest.approx(2.5, rel=1e-12), "is_std": pytest.approx(0.5, rel=1e-12)}


def reference_is(preds, splits):
    """openai/improved-gan's loop on numpy float64 softmax outputs (no exact zeros, so no 0 log 0)."""
    scores = []
    for i in range(splits):
        part = preds[(i * preds.shape[0] // splits):((i + 1) * preds.shape[0] // splits), :]
        kl = np.mean(np.sum(part * (np.log(part) - np.log(np.mean(part, 0, keepdims=True))), 1))
        scores.append(np.exp(kl))
    return np.mean(scores), np.std(scores)


def test_inception_score_matches_the_reference_loop_on_softmax_outputs():
    logits = torch.randn(103, 10, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 3
    probs = logits.softmax(dim=1)
    mean, std = reference_is(probs.numpy(), 10)
    out = inception_score(probs=probs)  # splits = 10 by default, 103 rows: uneven chunks
    assert out == {"is_mean": pytest.approx(mean, rel=1e-12), "is_std": pytest.approx(std, rel=1e-9)}
    assert inception_score(probs=probs.float())["is_mean"] == pytest.approx(mean, rel=1e-5)  # float32 softmax input


def test_inception_score_rejects_logits_and_bad_splits():
    with pytest.raises(UserError, match="softmax"):
        inception_score(probs=torch.randn(20, 10))
    with pytest.raises(UserError, match="splits"):
        inception_score(probs=one_hot([0, 1, 2]), splits=4)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_inception_score_on_cuda_matches_cpu():
    probs = (torch.randn(200, 10, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 2).softmax(1)
    cpu, gpu = inception_score(probs=probs), inception_score(probs=probs.cuda())
    assert gpu == {k: pytest.approx(v, rel=1e-9) for k, v in cpu.items()}
