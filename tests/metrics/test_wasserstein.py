"""Exact and sliced W1 against closed forms and independent solvers (sorting, Hungarian assignment, scipy)."""

import importlib
import math

import numpy as np
import pytest
import torch
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist
from scipy.stats import wasserstein_distance

from ganctl.errors import UserError
from ganctl.metrics.wasserstein import sliced_wasserstein, wasserstein

wasserstein_module = importlib.import_module("ganctl.metrics.wasserstein")

# The ground cost comes from cdist's matmul expansion: distances carry ~1e-8 x data scale of rounding (see
# wasserstein.py), so values that should match to the last digit are compared at 1e-7 absolute.
COST_TOL = 1e-7


def randn(*shape, seed):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_wasserstein_1d_equal_sizes_is_mean_sorted_difference():
    x, y = randn(40, 1, seed=0), 2 * randn(40, 1, seed=1) + 0.5
    expected = np.mean(np.abs(np.sort(x.numpy()[:, 0]) - np.sort(y.numpy()[:, 0])))
    assert wasserstein(real=x, fake=y) == pytest.approx(expected, abs=COST_TOL)


def test_wasserstein_1d_unequal_sizes_matches_scipy():
    x, y = randn(37, 1, seed=2), randn(23, 1, seed=3) + 1.0
    expected = wasserstein_distance(x.numpy()[:, 0], y.numpy()[:, 0])
    assert wasserstein(real=x, fake=y) == pytest.approx(expected, abs=COST_TOL)


def test_wasserstein_2d_equal_sizes_is_optimal_assignment_cost():
    # With uniform weights and n = m, an optimal plan is a permutation (Birkhoff), so W1 = min assignment / n.
    x, y = randn(30, 2, seed=4), randn(30, 2, seed=5) * 0.5 + torch.tensor([1.0, -2.0], dtype=torch.float64)
    cost = cdist(x.numpy(), y.numpy())
    rows, cols = linear_sum_assignment(cost)
    assert wasserstein(real=x, fake=y) == pytest.approx(cost[rows, cols].sum() / 30, abs=COST_TOL)


def test_wasserstein_of_a_set_with_itself_is_zero():
    x = randn(50, 5, seed=6)
    assert wasserstein(real=x, fake=x.clone()) == pytest.approx(0.0, abs=COST_TOL)


def test_wasserstein_above_max_size_is_a_one_line_user_error():
    x = randn(11, 2, seed=7)
    assert wasserstein(real=x[:10], fake=x[1:], max_size=10) >= 0.0  # exactly max_size is allowed
    with pytest.raises(UserError) as err:
        wasserstein(real=x, fake=x[:5], max_size=10)
    msg = str(err.value)
    assert "metrics.wasserstein.max_size" in msg and "sliced_wasserstein" in msg and "11" in msg
    assert "\n" not in msg


def test_wasserstein_reports_a_non_optimal_solve(monkeypatch):
    def stopped_emd2(a, b, cost, numItermax, log):  # what POT returns when it hits numItermax
        return 0.123, {"result_code": 3, "warning": "numItermax reached before optimality."}

    monkeypatch.setattr(wasserstein_module.ot, "emd2", stopped_emd2)
    with pytest.raises(RuntimeError, match="numItermax"):
        wasserstein(real=randn(5, 2, seed=8), fake=randn(5, 2, seed=9))


def test_wasserstein_is_keyword_only_and_checks_shapes():
    x = randn(5, 2, seed=10)
    with pytest.raises(TypeError):
        wasserstein(x, x)
    with pytest.raises(UserError, match="same d"):
        wasserstein(real=x, fake=randn(5, 3, seed=11))


def test_sliced_wasserstein_in_1d_is_the_exact_w1():
    # In 1-D every unit direction is +1 or -1, and W1 is invariant under x -> -x.
    x, y = randn(37, 1, seed=12), randn(23, 1, seed=13) * 3 - 1
    expected = wasserstein_distance(x.numpy()[:, 0], y.numpy()[:, 0])
    assert sliced_wasserstein(real=x, fake=y, projections=7) == pytest.approx(expected, rel=1e-12, abs=1e-14)


def test_sliced_wasserstein_of_a_translation_is_mean_abs_projection():
    # y = x + mu: each projection is shifted by mu.theta, so its 1-D W1 is |mu.theta| exactly, and
    # E|mu.theta| = |mu| E|cos phi| = 2|mu|/pi for theta uniform on the circle. The only error is Monte Carlo:
    # sd(|cos phi|) = sqrt(1/2 - 4/pi^2) = 0.308, so with L = 20000 directions the estimate's sd is
    # 5 * 0.308 / sqrt(20000) = 0.011; the tolerance 0.055 is 5 sd.
    x = randn(64, 2, seed=14)
    mu = torch.tensor([3.0, -4.0], dtype=torch.float64)  # |mu| = 5
    assert sliced_wasserstein(real=x, fake=x + mu, projections=20000) == pytest.approx(2 * 5 / math.pi, abs=0.055)


def test_sliced_wasserstein_is_at_most_the_exact_w1():
    # Projection onto a unit vector is 1-Lipschitz, so every sliced term is <= W1, whatever the directions.
    x, y = randn(40, 3, seed=15), randn(33, 3, seed=16) * 2
    assert sliced_wasserstein(real=x, fake=y, projections=64) <= wasserstein(real=x, fake=y) + COST_TOL


def test_sliced_wasserstein_rejects_zero_projections():
    x = randn(5, 2, seed=17)
    with pytest.raises(UserError, match="projections"):
        sliced_wasserstein(real=x, fake=x, projections=0)
