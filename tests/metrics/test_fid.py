"""FID against closed forms of Gaussians, a scipy.linalg.sqrtm reference, numpy.cov, and the engine's config."""

import math
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from scipy import linalg

from ganctl.engine.evaluate import compute_metrics
from ganctl.errors import UserError
from ganctl.metrics.fid import feature_statistics, fid, frechet_distance

CONF = Path(__file__).resolve().parents[2] / "conf" / "metrics"
F64 = torch.float64


def randn(*shape, seed):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=F64)


def scipy_fid(x, y):
    """The classic computation (TTUR / pytorch-fid): numpy statistics, sqrtm of the non-symmetric product."""
    x, y = x.numpy(), y.numpy()
    mu1, mu2 = x.mean(axis=0), y.mean(axis=0)
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    covmean = linalg.sqrtm(s1 @ s2).real
    return float((mu1 - mu2) @ (mu1 - mu2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def test_frechet_distance_of_isotropic_gaussians_is_closed_form():
    # N(0, I_4) vs N(1, 4 I_4): ||mu||^2 = 4, Tr(I + 4I - 2 (4I)^(1/2)) = 4 + 16 - 16 = 4, so 8.
    d = 4
    got = frechet_distance(torch.zeros(d, dtype=F64), torch.eye(d, dtype=F64), torch.ones(d, dtype=F64),
                           4 * torch.eye(d, dtype=F64))
    assert got == pytest.approx(8.0, abs=1e-12)


def test_frechet_distance_of_non_commuting_2x2_covariances_is_closed_form():
    # A 2x2 matrix M with eigenvalues l1, l2 >= 0 has Tr M^(1/2) = sqrt(l1) + sqrt(l2) = sqrt(Tr M + 2 sqrt(det M)).
    # A B = [[2, 3], [1, 6]]: Tr 8, det A det B = 3 * 3 = 9, so Tr (AB)^(1/2) = sqrt(14); ||mu1 - mu2||^2 = 5.
    a = torch.tensor([[2.0, 1.0], [1.0, 2.0]], dtype=F64)
    b = torch.tensor([[1.0, 0.0], [0.0, 3.0]], dtype=F64)
    mu1, mu2 = torch.zeros(2, dtype=F64), torch.tensor([1.0, 2.0], dtype=F64)
    expected = 5 + 4 + 4 - 2 * math.sqrt(14)
    assert frechet_distance(mu1, a, mu2, b) == pytest.approx(expected, rel=1e-12)
    assert frechet_distance(mu2, b, mu1, a) == pytest.approx(expected, rel=1e-12)  # symmetric
    assert frechet_distance(mu1.numpy(), a.numpy(), mu2.numpy(), b.numpy()) == pytest.approx(expected, rel=1e-12)


def test_fid_on_samples_matches_scipy_sqrtm_reference():
    mix = randn(6, 6, seed=2)
    x = randn(300, 6, seed=0)
    y = randn(250, 6, seed=1) @ mix * 0.7 + 0.4  # correlated, non-commuting covariance, shifted mean
    expected = scipy_fid(x, y)
    # Both are float64 computations of the same quantity; sqrtm's Schur iteration and eigh differ by ~1e-12
    # relative on such well-conditioned 6x6 matrices, so 1e-6 leaves a wide margin.
    assert fid(real=x, fake=y) == pytest.approx(expected, rel=1e-6)
    assert fid(real=x.float(), fake=y.float()) == pytest.approx(scipy_fid(x.float().double(), y.float().double()),
                                                                 rel=1e-6)


def test_feature_statistics_match_numpy_for_every_chunk_size():
    x = randn(37, 5, seed=3) * 3 + 100  # far from the origin: centring before the products matters
    mu_np, cov_np = x.numpy().mean(axis=0), np.cov(x.numpy(), rowvar=False)
    for chunk_size in (1, 4, 37, 4096):
        mu, cov = feature_statistics(x, chunk_size)
        assert mu.dtype == F64 and cov.dtype == F64
        np.testing.assert_allclose(mu.numpy(), mu_np, rtol=1e-13)
        np.testing.assert_allclose(cov.numpy(), cov_np, rtol=1e-10, atol=1e-12)


def test_fid_of_a_set_with_itself_is_zero():
    x = randn(100, 4, seed=4)
    assert fid(real=x, fake=x.clone()) == pytest.approx(0.0, abs=1e-10)


def test_fid_with_fewer_samples_than_dimensions_warns_and_stays_real_and_finite():
    x, y = randn(10, 20, seed=5), randn(12, 20, seed=6) + 0.5
    with pytest.warns(UserWarning, match="10 real and 12 generated samples for 20 feature dimensions"):
        got = fid(real=x, fake=y)
    assert math.isfinite(got)
    # Independent check: the eigenvalues of the non-symmetric product cov_r cov_f by numpy's general eigvals (real
    # and >= 0 in exact arithmetic; rank <= 9 here, so most are ~0). 1e-6 relative covers eigvals' rounding.
    s1, s2 = np.cov(x.numpy(), rowvar=False), np.cov(y.numpy(), rowvar=False)
    tr_sqrt = np.sqrt(np.clip(np.linalg.eigvals(s1 @ s2).real, 0, None)).sum()
    diff = x.numpy().mean(axis=0) - y.numpy().mean(axis=0)
    assert got == pytest.approx(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * tr_sqrt, rel=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # more samples than dimensions: no warning
        fid(real=randn(30, 20, seed=7), fake=randn(30, 20, seed=8))


def test_fid_selected_by_its_config_through_the_engine():
    x, y = randn(40, 3, seed=9), randn(50, 3, seed=10) * 2
    metrics = OmegaConf.load(CONF / "fid.yaml")
    assert compute_metrics(metrics, x, y, {}) == {"fid": pytest.approx(scipy_fid(x, y), rel=1e-6)}


def test_fid_is_keyword_only_and_checks_inputs():
    x = randn(5, 2, seed=11)
    with pytest.raises(TypeError):
        fid(x, x)
    with pytest.raises(UserError, match="same d"):
        fid(real=x, fake=randn(5, 3, seed=12))
    with pytest.raises(UserError, match="at least 2"):
        fid(real=x, fake=x[:1])
    with pytest.raises(UserError, match="one d"):
        frechet_distance(torch.zeros(2), torch.eye(2), torch.zeros(3), torch.eye(3))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_fid_on_cuda_matches_cpu():
    x, y = randn(500, 16, seed=13), randn(400, 16, seed=14) * 1.5 + 0.2
    # Same float64 formulas; only BLAS/eigensolver rounding differs.
    assert fid(real=x.cuda(), fake=y.cuda()) == pytest.approx(fid(real=x, fake=y), rel=1e-9)
