"""Ring and grid mixtures: exact centres, per-mode statistics, seeding and argument checks."""

import itertools
import math

import pytest
import torch

from ganctl.data.mixtures import grid, ring
from ganctl.errors import UserError


def test_grid_centres_are_exactly_the_5x5_lattice():
    data = grid(side=5, spacing=2.0, n_train=10, n_test=10)
    expected = set(itertools.product([-4.0, -2.0, 0.0, 2.0, 4.0], repeat=2))
    assert data.modes.shape == (25, 2)
    assert {tuple(centre) for centre in data.modes.tolist()} == expected  # exact: float equality
    assert data.name == "grid25"


def test_ring_centres_are_at_angles_2pi_k_over_k():
    data = ring(n_modes=8, radius=1.5, n_train=10, n_test=10)
    expected = torch.tensor([[1.5 * math.cos(2 * math.pi * k / 8), 1.5 * math.sin(2 * math.pi * k / 8)]
                             for k in range(8)])
    # 1e-6: one float32 rounding of numbers of size 1.5 is at most 1.5 * 2^-24 ~ 9e-8
    torch.testing.assert_close(data.modes, expected, rtol=0, atol=1e-6)
    assert data.name == "ring8"


@pytest.mark.parametrize("make", [
    lambda: ring(n_modes=8, radius=1.0, std=0.01, n_train=80_000, n_test=10, seed=3),
    lambda: grid(side=5, spacing=2.0, std=0.05, n_train=100_000, n_test=10, seed=3),
], ids=["ring8", "grid25"])
def test_each_mode_has_its_centre_as_mean_and_std_per_axis(make):
    data = make()
    n_modes = len(data.modes)
    counts = torch.bincount(data.train_labels, minlength=n_modes)
    n = len(data.train)
    # Mode counts are Binomial(n, 1/K): standard error sqrt(n p (1 - p)) ~ 94 for both mixtures here;
    # 5 standard errors keep a correct sampler's failure chance below 1e-5 per mode.
    assert (counts - n / n_modes).abs().max() < 5 * math.sqrt(n * (1 / n_modes) * (1 - 1 / n_modes))
    for k in range(n_modes):
        points = data.train[data.train_labels == k].double()
        n_k = len(points)
        # The sample mean has standard error std / sqrt(n_k) per axis; allow 5 of them.
        mean_tolerance = 5 * data.mode_std / math.sqrt(n_k)
        assert (points.mean(0) - data.modes[k].double()).abs().max() < mean_tolerance
        # The sample std of a normal has relative standard error ~ 1 / sqrt(2 n_k) (< 1% here); allow 5%.
        assert torch.allclose(points.std(0), torch.full((2,), data.mode_std, dtype=torch.float64), rtol=0.05)


def test_std_zero_puts_every_point_on_its_mode_centre():
    data = grid(std=0.0, n_train=500, n_test=50)
    assert torch.equal(data.train, data.modes[data.train_labels])
    assert torch.equal(data.test, data.modes[data.test_labels])


def test_same_seed_gives_the_same_data_and_another_seed_different_data():
    first, again, other = ring(n_train=1000, n_test=100, seed=7), ring(n_train=1000, n_test=100, seed=7), \
        ring(n_train=1000, n_test=100, seed=8)
    assert torch.equal(first.train, again.train) and torch.equal(first.test, again.test)
    assert not torch.equal(first.train, other.train)


def test_test_set_does_not_depend_on_n_train_and_differs_from_train():
    small, large = ring(n_train=100, n_test=200), ring(n_train=5000, n_test=200)
    assert torch.equal(small.test, large.test)  # its own stream: growing n_train does not shift it
    assert not torch.equal(small.train[:100], small.test[:100])
    # seed=0's test stream must not be seed=1's train stream (a seed, seed + 1 scheme would make them equal)
    assert not torch.equal(ring(n_train=200, n_test=200, seed=0).test, ring(n_train=200, n_test=200, seed=1).train)


def test_dataset_fields_have_the_documented_types():
    data = ring(n_train=300, n_test=30, std=0.02)
    assert data.train.dtype == torch.float32 and data.train.is_contiguous() and data.train.shape == (300, 2)
    assert data.test.shape == (30, 2)
    assert data.train_labels.dtype == torch.int64 and data.test_labels.shape == (30,)
    assert data.shape == (2,) and not data.is_image
    assert data.metric_context() == {"modes": data.modes, "std": 0.02}


@pytest.mark.parametrize("loader, arguments, key", [
    (ring, {"n_train": 0}, "data.n_train"),
    (ring, {"n_test": -5}, "data.n_test"),
    (ring, {"n_train": 1.5}, "data.n_train"),
    (ring, {"std": -0.1}, "data.std"),
    (ring, {"std": float("nan")}, "data.std"),
    (ring, {"n_modes": 0}, "data.n_modes"),
    (ring, {"radius": 0.0}, "data.radius"),
    (ring, {"seed": "zero"}, "data.seed"),
    (grid, {"side": 0}, "data.side"),
    (grid, {"spacing": -2.0}, "data.spacing"),
    (grid, {"n_train": True}, "data.n_train"),
])
def test_bad_arguments_raise_a_one_line_user_error_naming_the_key(loader, arguments, key):
    with pytest.raises(UserError) as error:
        loader(**arguments)
    message = str(error.value)
    assert key in message and "\n" not in message
