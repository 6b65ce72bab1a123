"""Frechet distance between Gaussians fitted to real and generated features (FID on Inception features).

Heusel, Ramsauer, Unterthiner, Nessler, Hochreiter 2017, "GANs trained by a two time-scale update rule converge
to a local Nash equilibrium", NeurIPS, arXiv:1706.08500; the distance itself: Dowson & Landau 1982, "The
Frechet distance between multivariate normal distributions", J. Multivariate Anal. 12(3):450-455.

Real features x_i (i = 1..n), fake y_j (j = 1..m), dimension d:
    mu_r = 1/n sum_i x_i,   cov_r = 1/(n-1) sum_i (x_i - mu_r)(x_i - mu_r)^T   (numpy.cov's n - 1; same for fake)
    FID = ||mu_r - mu_f||^2 + Tr(cov_r + cov_f - 2 (cov_r cov_f)^(1/2))
In squared feature units, >= 0, lower is better, 0 iff the two fitted Gaussians are equal. It is a biased
estimator (it decreases with n: Chong & Forsyth 2020, arXiv:1911.07023), so compare values at equal n; on
Inception pool3 features (d = 2048) it is the FID of the papers, on any other features the same distance on
those features.

Matrix square root: Tr((cov_r cov_f)^(1/2)) = sum_k sqrt(lambda_k(S cov_f S)), S = cov_r^(1/2). cov_r cov_f is
similar to the symmetric PSD matrix S cov_f S (cov_r cov_f = S (S cov_f S) S^-1 where S is invertible, and the
eigenvalues agree by continuity otherwise), so both have the same nonnegative eigenvalues. S comes from a
symmetric eigendecomposition (eigh) of cov_r with tiny negative eigenvalues (rounding) clamped to 0, and the
eigenvalues of S cov_f S from eigvalsh, also clamped at 0; everything in float64 on the inputs' device. Unlike
scipy.linalg.sqrtm of the non-symmetric product (pytorch-fid, TTUR), this never produces complex values.
With fewer samples than dimensions (n <= d) a covariance has rank <= n - 1 < d; the result is still a real,
finite number, but a poor estimate, so fid() warns (the "Imaginary component" failures of sqrtm in that
regime: pytorch-fid issue #13; the TTUR README asks for more samples than dimensions and recommends at least
10,000).
"""

import warnings

import torch

from ganctl.errors import UserError

DEFAULT_CHUNK = 4096  # rows converted to float64 at once by feature_statistics


def feature_statistics(feats, chunk_size=DEFAULT_CHUNK):
    """(mu (d,), cov (d, d)) of features (n, d) in float64 on their device; cov with 1/(n-1), as numpy.cov.

    Two passes over row chunks (mean, then centred cross-products), so only chunk_size rows are ever held in
    float64 beside the (d, d) result, whatever n; centring before the products avoids the cancellation of
    E[x x^T] - mu mu^T."""
    feats = torch.as_tensor(feats).detach()
    if feats.ndim != 2 or len(feats) < 2:
        raise UserError(f"feature statistics need features (n, d) with n >= 2, got shape {tuple(feats.shape)}")
    if chunk_size < 1:
        raise UserError(f"feature statistics need chunk_size >= 1, got {chunk_size}")
    n, d = feats.shape
    total = torch.zeros(d, dtype=torch.float64, device=feats.device)
    for start in range(0, n, chunk_size):
        total += feats[start : start + chunk_size].double().sum(dim=0)
    mu = total / n
    cov = torch.zeros(d, d, dtype=torch.float64, device=feats.device)
    for start in range(0, n, chunk_size):
        centred = feats[start : start + chunk_size].double() - mu  # (c, d)
        cov += centred.T @ centred
    return mu, cov / (n - 1)


def frechet_distance(mu1, cov1, mu2, cov2) -> float:
    """||mu1 - mu2||^2 + Tr(cov1 + cov2 - 2 (cov1 cov2)^(1/2)) for mu (d,) and symmetric PSD cov (d, d), in
    float64 on mu1's device (see the module docstring for the eigenvalue form of the square-root trace)."""
    mu1 = torch.as_tensor(mu1).double()
    device = mu1.device
    cov1, mu2, cov2 = (torch.as_tensor(t).to(device).double() for t in (cov1, mu2, cov2))
    d = mu1.shape[0] if mu1.ndim == 1 else -1
    if mu1.ndim != 1 or mu2.shape != (d,) or cov1.shape != (d, d) or cov2.shape != (d, d):
        raise UserError(f"frechet_distance needs means (d,) and covariances (d, d) of one d, got "
                        f"{tuple(mu1.shape)}, {tuple(cov1.shape)}, {tuple(mu2.shape)}, {tuple(cov2.shape)}")
    w, v = torch.linalg.eigh(cov1)
    s = (v * w.clamp_min(0).sqrt()) @ v.T  # S = cov1^(1/2), symmetric PSD
    m = s @ cov2 @ s
    m = (m + m.T) / 2  # symmetric in exact arithmetic; eigvalsh reads one triangle, so remove rounding asymmetry
    tr_covmean = torch.linalg.eigvalsh(m).clamp_min(0).sqrt().sum()
    value = float((mu1 - mu2).square().sum() + cov1.trace() + cov2.trace() - 2 * tr_covmean)
    # A distance: rounding can leave -1e-13 where the exact value is 0 (identical statistics).
    return max(0.0, value)


def fid(*, real=None, fake, chunk_size=DEFAULT_CHUNK, real_stats=None) -> float:
    """Frechet distance between Gaussians fitted to real (n, d) and fake (m, d) features (module docstring).
    Warns when either set has no more samples than dimensions (singular covariance).

    real_stats: (mu_r, cov_r, n) of the real features, as feature_statistics and len(real) give them (the
    engine's cache of the real set's statistics), used instead of `real`; give one of the two."""
    fake = torch.as_tensor(fake)
    if (real is None) == (real_stats is None):
        raise UserError("fid needs exactly one of the real features (real=) and their statistics (real_stats=)")
    if real is not None:
        real = torch.as_tensor(real)
        n, d = len(real), real.shape[1] if real.ndim == 2 else -1
        shape = tuple(real.shape)
    else:
        mu_r, cov_r, n = real_stats
        mu_r, cov_r = torch.as_tensor(mu_r).to(fake.device), torch.as_tensor(cov_r).to(fake.device)
        d = mu_r.shape[0] if mu_r.ndim == 1 else -1
        shape = (n, *mu_r.shape)
    if d < 0 or fake.ndim != 2 or fake.shape[1] != d:
        raise UserError(
            f"fid needs real (n, d) and fake (m, d) with the same d, got {shape} and {tuple(fake.shape)}; check "
            f"that generated samples have the data's shape"
        )
    m = len(fake)
    if min(n, m) < 2:
        raise UserError(f"fid needs at least 2 real and 2 generated samples (a covariance), got {n} and {m}")
    if min(n, m) <= d:
        warnings.warn(
            f"fid: {n} real and {m} generated samples for {d} feature dimensions; with n <= d a covariance has "
            f"rank <= n - 1 < d, so the FID is finite but a poor, strongly biased estimate; evaluate on more "
            f"samples than dimensions (set eval.n)",
            stacklevel=2,
        )
    if real is not None:
        mu_r, cov_r = feature_statistics(real, chunk_size)
    mu_f, cov_f = feature_statistics(fake.to(mu_r.device), chunk_size)
    return frechet_distance(mu_r, cov_r, mu_f, cov_f)
