"""MMD^2 against kernel values written out by hand, a plain double loop, and mode dropping (Xu et al. 2018)."""

import math

import numpy as np
import pytest
import torch
from scipy.spatial.distance import pdist

from ganctl.errors import UserError
from ganctl.metrics.mmd import mmd

# real = {r1, r2}, fake = {f1, f2} in 2-D; squared distances: r1r2 1, f1f2 5, r1f1 1, r1f2 8, r2f1 2, r2f2 5.
REAL = torch.tensor([[0.0, 0.0], [1.0, 0.0]], dtype=torch.float64)
FAKE = torch.tensor([[0.0, 1.0], [2.0, 2.0]], dtype=torch.float64)


def test_mmd_hand_computed_sigma_one():
    k_r1r2, k_f1f2 = math.exp(-1 / 2), math.exp(-5 / 2)
    k_cross = math.exp(-1 / 2) + math.exp(-8 / 2) + math.exp(-2 / 2) + math.exp(-5 / 2)
    unbiased = (2 * k_r1r2) / (2 * 1) + (2 * k_f1f2) / (2 * 1) - 2 * k_cross / (2 * 2)
    biased = (2 + 2 * k_r1r2) / 4 + (2 + 2 * k_f1f2) / 4 - 2 * k_cross / (2 * 2)
    assert mmd(real=REAL, fake=FAKE, bandwidth=1.0) == pytest.approx(unbiased, abs=1e-14)
    assert mmd(real=REAL, fake=FAKE, bandwidth=1.0, unbiased=False) == pytest.approx(biased, abs=1e-14)


def test_mmd_hand_computed_median_bandwidth():
    # Pooled distances sorted: 1, 1, sqrt2, sqrt5, sqrt5, sqrt8 -> median (sqrt2 + sqrt5) / 2.
    sigma = (math.sqrt(2) + math.sqrt(5)) / 2
    k = lambda sq: math.exp(-sq / (2 * sigma**2))
    unbiased = k(1) + k(5) - 2 * (k(1) + k(8) + k(2) + k(5)) / 4
    assert mmd(real=REAL, fake=FAKE) == pytest.approx(unbiased, abs=1e-14)


def loop_mmd2(x, y, sigma, unbiased):
    """Textbook estimator, one kernel value at a time."""
    x, y = x.tolist(), y.tolist()
    k = lambda a, b: math.exp(-sum((ai - bi) ** 2 for ai, bi in zip(a, b)) / (2 * sigma**2))
    n, m = len(x), len(y)
    if unbiased:
        xx = sum(k(x[i], x[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
        yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    else:
        xx = sum(k(x[i], x[j]) for i in range(n) for j in range(n)) / n**2
        yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m)) / m**2
    xy = sum(k(x[i], y[j]) for i in range(n) for j in range(m)) / (n * m)
    return xx + yy - 2 * xy


@pytest.mark.parametrize("unbiased", [True, False])
def test_mmd_matches_double_loop_for_every_chunk_size(unbiased):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(23, 3, generator=gen, dtype=torch.float64)
    y = torch.randn(17, 3, generator=gen, dtype=torch.float64) * 1.5 + 0.3
    sigma = float(np.median(pdist(torch.cat([x, y]).numpy())))  # the median heuristic, computed by scipy
    expected = loop_mmd2(x, y, sigma, unbiased)
    # Chunking only regroups float64 sums, so all chunk sizes agree with the loop to rounding (1e-12).
    for chunk_size in (1, 2, 5, 16, 23, 4096):
        got = mmd(real=x, fake=y, unbiased=unbiased, chunk_size=chunk_size)
        assert got == pytest.approx(expected, rel=1e-12, abs=1e-14), chunk_size
    assert mmd(real=x, fake=y, bandwidth=0.7, unbiased=unbiased, chunk_size=4) == pytest.approx(
        loop_mmd2(x, y, 0.7, unbiased), rel=1e-12, abs=1e-14
    )


def ring_samples(n, modes, seed, radius=2.0, std=0.05):
    """n samples spread evenly over the listed modes of an 8-Gaussian ring."""
    gen = torch.Generator().manual_seed(seed)
    idx = torch.tensor(modes).repeat(n // len(modes) + 1)[:n]
    angle = 2 * math.pi * idx.double() / 8
    centres = radius * torch.stack([angle.cos(), angle.sin()], dim=1)
    return centres + std * torch.randn(n, 2, generator=gen, dtype=torch.float64)


def test_mmd_rises_as_modes_are_dropped():
    # Xu et al. 2018 (Sec. 4, mode dropping): MMD grows as the generated set loses modes of the real mixture.
    real = ring_samples(200, list(range(8)), seed=1)
    values = [mmd(real=real, fake=ring_samples(200, list(range(k)), seed=2)) for k in (8, 6, 4, 2, 1)]
    assert abs(values[0]) < 0.01  # all modes kept: same distribution, unbiased estimate near 0
    assert all(a < b for a, b in zip(values, values[1:])), values


def test_mmd_input_errors_are_user_errors():
    with pytest.raises(TypeError):
        mmd(REAL, FAKE)
    with pytest.raises(UserError, match="same d"):
        mmd(real=REAL, fake=torch.zeros(2, 3))
    with pytest.raises(UserError, match="at least 2"):
        mmd(real=REAL, fake=FAKE[:1])
    with pytest.raises(UserError, match="kernel"):
        mmd(real=REAL, fake=FAKE, kernel="laplace")
    with pytest.raises(UserError, match="bandwidth"):
        mmd(real=torch.ones(4, 2), fake=torch.ones(3, 2))  # all pooled distances 0: the median heuristic gives 0
    with pytest.raises(UserError, match="bandwidth"):
        mmd(real=REAL, fake=FAKE, bandwidth=0.0)
    assert mmd(real=REAL[:1], fake=FAKE[:1], bandwidth=1.0, unbiased=False) == pytest.approx(2 - 2 * math.exp(-1 / 2))


def loop_poly_mmd2(x, y, unbiased):
    """Textbook estimator with KID's kernel k(a, b) = (a.b / d + 1)^3, one kernel value at a time."""
    x, y = x.tolist(), y.tolist()
    d = len(x[0])
    k = lambda a, b: (sum(ai * bi for ai, bi in zip(a, b)) / d + 1) ** 3
    n, m = len(x), len(y)
    off = 0 if unbiased else 1  # biased: the diagonal terms are included
    xx = sum(k(x[i], x[j]) for i in range(n) for j in range(n) if i != j or not unbiased) / (n * (n - 1 + off))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j or not unbiased) / (m * (m - 1 + off))
    xy = sum(k(x[i], y[j]) for i in range(n) for j in range(m)) / (n * m)
    return xx + yy - 2 * xy


@pytest.mark.parametrize("unbiased", [True, False])
def test_mmd_polynomial_kernel_matches_double_loop_for_every_chunk_size(unbiased):
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(19, 4, generator=gen, dtype=torch.float64) + 2.0  # off the origin: the kernel is not shift-free
    y = torch.randn(14, 4, generator=gen, dtype=torch.float64) * 1.3
    expected = loop_poly_mmd2(x, y, unbiased)
    for chunk_size in (1, 5, 19, 4096):
        got = mmd(real=x, fake=y, kernel="polynomial", unbiased=unbiased, chunk_size=chunk_size)
        assert got == pytest.approx(expected, rel=1e-12), chunk_size


def test_mmd_polynomial_kernel_has_no_bandwidth():
    with pytest.raises(UserError, match="no bandwidth"):
        mmd(real=REAL, fake=FAKE, kernel="polynomial", bandwidth=1.0)
