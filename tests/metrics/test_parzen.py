"""Parzen-window log-likelihood against the Gaussian closed form, a plain loop, and a brute-force sigma search."""

import math
import warnings

import numpy as np
import pytest
import torch
from scipy.special import logsumexp

from ganctl.errors import UserError
from ganctl.metrics.parzen import parzen_log_density, parzen_log_likelihood


def randn(*shape, seed):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def loop_log_density(samples, x, sigma):
    """log((1/n) sum_i N(x; s_i, sigma^2 I)), one kernel at a time; exp is safe here (points stay close)."""
    d = len(x)
    total = 0.0
    for s in samples:
        sq = sum((a - b) ** 2 for a, b in zip(x, s))
        total += math.exp(-sq / (2 * sigma**2)) / (2 * math.pi * sigma**2) ** (d / 2)
    return math.log(total / len(samples))


@pytest.mark.parametrize("d", [1, 2])
def test_parzen_of_standard_normal_sample_approaches_smoothed_gaussian(d):
    # E_s[N(x; s, sigma^2 I)] with s ~ N(0, I) is N(x; 0, (1 + sigma^2) I): the KDE's expectation.
    n, sigma = 20_000, 0.5
    samples = randn(n, d, seed=0)
    points = torch.tensor([[-1.5], [-0.7], [0.0], [0.4], [1.2]], dtype=torch.float64).repeat(1, d)
    points[:, 0] *= -0.5  # not all on the diagonal
    got = parzen_log_density(samples, points, [sigma])[0]
    var = 1 + sigma**2
    sq = points.square().sum(dim=1)
    expected = -sq / (2 * var) - 0.5 * d * math.log(2 * math.pi * var)
    # Tolerance: the KDE density is a mean of n iid kernels k_i, so its relative std is
    # sqrt((E[k^2] / p^2 - 1) / n), with N(x; s, sigma^2 I)^2 = (4 pi sigma^2)^(-d/2) N(x; s, sigma^2/2 I), hence
    # E[k^2] = (4 pi sigma^2)^(-d/2) N(x; 0, (1 + sigma^2/2) I). log turns a relative error into an absolute one;
    # 5 standard deviations (Jensen's bias -rel_var/2 is ~1e-4 here, far below).
    var2 = 1 + sigma**2 / 2
    log_ek2 = -0.5 * d * math.log(4 * math.pi * sigma**2) - sq / (2 * var2) - 0.5 * d * math.log(2 * math.pi * var2)
    rel_std = ((log_ek2 - 2 * expected).exp() - 1).div(n).sqrt()
    assert (got - expected).abs().le(5 * rel_std).all(), (got - expected, 5 * rel_std)
    assert rel_std.max() < 0.03  # the test is sharp enough to catch a wrong normalisation (e.g. log 2)


def test_parzen_matches_plain_loop_and_chunking_changes_nothing():
    samples, points = randn(13, 3, seed=1), randn(9, 3, seed=2) * 1.3 + 0.2
    sigmas = [0.3, 0.8, 2.0]
    expected = torch.tensor([[loop_log_density(samples.tolist(), x, s) for x in points.tolist()] for s in sigmas],
                            dtype=torch.float64)
    for chunk_size in (1, 2, 5, 9, 13, 512):
        got = parzen_log_density(samples, points, sigmas, chunk_size=chunk_size)
        torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12, msg=f"chunk_size={chunk_size}")
    result = parzen_log_likelihood(samples=samples, test=points, sigma=0.8, chunk_size=4)
    assert result.log_likelihood == pytest.approx(float(expected[1].mean()), abs=1e-12)
    assert result.stderr == pytest.approx(float(np.std(expected[1].numpy()) / 3), abs=1e-12)  # ddof 0, sqrt(9) = 3
    assert result.sigma == 0.8


def test_parzen_single_sample_is_exact_gaussian_even_far_away():
    # n = 1: p = N(s, sigma^2 I) exactly; 1000 units away with sigma = 0.1 the kernel underflows exp(), the
    # logsumexp must not.
    s = torch.tensor([[1.0, -2.0]], dtype=torch.float64)
    x = torch.tensor([[1.0, -2.0], [1001.0, -2.0], [0.5, 0.5]], dtype=torch.float64)
    sq = torch.tensor([0.0, 1e6, 0.25 + 6.25], dtype=torch.float64)
    expected = -sq / (2 * 0.01) - math.log(2 * math.pi * 0.01)
    torch.testing.assert_close(parzen_log_density(s, x, [0.1])[0], expected, rtol=1e-14, atol=1e-9)


def test_parzen_sigma_selection_is_the_brute_force_argmax_on_validation():
    samples = randn(40, 3, seed=3) * 0.3
    validation, test = randn(25, 3, seed=4) * 0.3, randn(20, 3, seed=5) * 0.3
    grid = list(np.logspace(-2, 1, 12))

    def mean_ll(points, sigma):  # vectorised numpy + scipy, independent of the torch code
        sq = ((points.numpy()[:, None, :] - samples.numpy()[None, :, :]) ** 2).sum(axis=2)
        return np.mean(logsumexp(-sq / (2 * sigma**2), axis=1) - math.log(40) - 1.5 * math.log(2 * math.pi * sigma**2))

    valid_ll = [mean_ll(validation, s) for s in grid]
    best = int(np.argmax(valid_ll))
    assert 0 < best < len(grid) - 1  # an interior optimum, so the grid really was searched
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no edge warning for an interior optimum
        result = parzen_log_likelihood(samples=samples, test=test, validation=validation, sigmas=grid, chunk_size=7)
    assert result.sigma == grid[best]
    assert result.log_likelihood == pytest.approx(mean_ll(test, grid[best]), abs=1e-12)


def test_parzen_sigma_at_grid_edge_warns():
    samples, validation = randn(30, 2, seed=6), randn(20, 2, seed=7)
    with pytest.warns(UserWarning, match="edge of the grid"):
        result = parzen_log_likelihood(samples=samples, test=validation, validation=validation, sigmas=[1e-3, 1e-2])
    assert result.sigma == 1e-2  # both far too narrow for unit-variance data: the larger one wins


def test_parzen_input_errors_are_user_errors():
    s = randn(5, 2, seed=8)
    with pytest.raises(TypeError):
        parzen_log_likelihood(s, s, 1.0)  # keyword-only: samples and test cannot be swapped by position
    with pytest.raises(UserError, match="validation"):
        parzen_log_likelihood(samples=s, test=s)
    with pytest.raises(UserError, match="same d"):
        parzen_log_likelihood(samples=s, test=randn(4, 3, seed=9), sigma=1.0)
    with pytest.raises(UserError, match="non-empty"):
        parzen_log_likelihood(samples=s[:0], test=s, sigma=1.0)
    with pytest.raises(UserError, match="positive bandwidth"):
        parzen_log_likelihood(samples=s, test=s, sigma=0.0)
    with pytest.raises(UserError, match="positive sigmas"):
        parzen_log_likelihood(samples=s, test=s, validation=s, sigmas=[0.1, -1.0])


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_parzen_on_cuda_matches_cpu():
    samples, test, validation = randn(3000, 8, seed=10).float(), randn(700, 8, seed=11).float(), randn(300, 8, seed=12)
    grid = list(np.logspace(-1, 0.5, 8))
    cpu = parzen_log_likelihood(samples=samples, test=test, validation=validation, sigmas=grid, chunk_size=256)
    gpu = parzen_log_likelihood(samples=samples.cuda(), test=test.cuda(), validation=validation.cuda(), sigmas=grid,
                                chunk_size=256)
    # Same float64 formula on both devices; only reduction order and BLAS kernels differ.
    assert gpu.sigma == cpu.sigma
    assert gpu.log_likelihood == pytest.approx(cpu.log_likelihood, rel=1e-10, abs=1e-10)
    assert gpu.stderr == pytest.approx(cpu.stderr, rel=1e-8)
