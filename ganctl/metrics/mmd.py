"""Kernel maximum mean discrepancy (squared), MMD^2, between real and generated samples.

Gretton, Borgwardt, Rasch, Schoelkopf, Smola 2012, "A kernel two-sample test", JMLR 13:723-773 (eqs. 3 and 5);
as a GAN metric: Xu, Huang, Yuan, Guo, Sun, Wu, Weinberger 2018, "An empirical study on evaluation metrics of
generative adversarial networks", arXiv:1806.07755.

Real x_i (i = 1..n), fake y_j (j = 1..m), Gaussian kernel k(a, b) = exp(-||a - b||^2 / (2 sigma^2)):
    unbiased (U-statistic, unbiased=True; needs n, m >= 2):
        MMD2_u = 1/(n(n-1)) sum_{i != i'} k(x_i, x_i') + 1/(m(m-1)) sum_{j != j'} k(y_j, y_j')
                 - 2/(n m) sum_{i, j} k(x_i, y_j)
    biased (V-statistic, unbiased=False; the diagonal terms k(x_i, x_i) = 1 are included):
        MMD2_b = 1/n^2 sum_{i, i'} k(x_i, x_i') + 1/m^2 sum_{j, j'} k(y_j, y_j') - 2/(n m) sum_{i, j} k(x_i, y_j)
The value returned is MMD^2 (not its square root). Lower is better. The population MMD^2 is 0 iff the two
distributions are equal (the Gaussian kernel is characteristic). MMD2_b lies in [0, 2]; MMD2_u is an
unbiased estimate, so it is about 0 (and can be slightly negative) when real and fake come from the same
distribution; |MMD2_u| <= 2.

Bandwidth: `bandwidth` is sigma itself. bandwidth=None uses the median heuristic (Gretton et al. 2012, sec. 8):
sigma = the median (numpy's convention: the mean of the two middle values for an even count) of the
Euclidean distances ||z_a - z_b||, a < b, over the pooled sample z = real U fake; when the pooled sample has
more than 1000 points, over 1000 of them drawn without replacement by torch.randperm with a CPU generator
seeded 0 (a fixed seed, so the bandwidth and the metric are deterministic).

Memory: the kernel matrices are never held whole; they are summed in blocks of chunk_size rows, so memory
is O(chunk_size * max(n, m)) and the result does not depend on chunk_size beyond float64 rounding. All
sums are accumulated in float64 on the inputs' device.
"""

import torch

from ganctl.errors import UserError

MEDIAN_POINTS = 1000  # the median heuristic looks at most at this many pooled points ...
MEDIAN_SEED = 0  # ... drawn with this seed


def median_bandwidth(z) -> float:
    """Median-heuristic sigma of the pooled sample z (N, d), as stated in the module docstring."""
    if len(z) > MEDIAN_POINTS:
        gen = torch.Generator().manual_seed(MEDIAN_SEED)
        z = z[torch.randperm(len(z), generator=gen)[:MEDIAN_POINTS].to(z.device)]
    i, j = torch.triu_indices(len(z), len(z), offset=1, device=z.device)
    dist = torch.cdist(z, z)[i, j]  # (N(N-1)/2,) distances a < b
    return float(torch.quantile(dist, 0.5))  # linear interpolation = numpy's median


def _kernel_sum(a, b, gamma, chunk_size, same):
    """sum_{r, c} exp(-gamma ||a_r - b_c||^2) over row blocks of a; with same=True (a is b) the diagonal
    r = c is left out, so the caller adds its exact value exp(0) = 1 where it wants it."""
    b_sq = (b * b).sum(dim=1)  # (m,)
    total = torch.zeros((), dtype=torch.float64, device=a.device)
    for start in range(0, len(a), chunk_size):
        a_c = a[start : start + chunk_size]  # (c, d)
        # ||a||^2 + ||b||^2 - 2 a.b: one matmul per block; rounding can make it slightly negative, hence the clamp.
        sq = ((a_c * a_c).sum(dim=1)[:, None] + b_sq[None, :] - 2.0 * a_c @ b.T).clamp_min_(0.0)  # (c, m)
        k = torch.exp(-gamma * sq)
        if same:
            rows = torch.arange(len(a_c), device=a.device)
            k[rows, start + rows] = 0.0
        total += k.sum()
    return float(total)


def mmd(*, real, fake, kernel="gaussian", bandwidth=None, unbiased=True, chunk_size=4096) -> float:
    """MMD^2 between real (n, d) and fake (m, d) with a Gaussian kernel of width `bandwidth` (sigma; None =
    median heuristic); unbiased U-statistic or biased V-statistic (see the module docstring)."""
    real, fake = torch.as_tensor(real), torch.as_tensor(fake)
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise UserError(
            f"mmd needs real (n, d) and fake (m, d) with the same d, got {tuple(real.shape)} and "
            f"{tuple(fake.shape)}; check that generated samples have the data's shape"
        )
    n, m = len(real), len(fake)
    need = 2 if unbiased else 1
    if min(n, m) < need:
        raise UserError(
            f"mmd ({'unbiased' if unbiased else 'biased'}) needs at least {need} real and {need} generated samples, "
            f"got {n} and {m}; evaluate on more samples"
        )
    if kernel != "gaussian":
        raise UserError(f"mmd: unknown kernel {kernel!r}; the supported kernel is 'gaussian' (set metrics.mmd.kernel)")
    if chunk_size < 1:
        raise UserError(f"mmd needs chunk_size >= 1, got {chunk_size}; set metrics.mmd.chunk_size")

    real = real.detach().double()
    fake = fake.detach().to(real.device).double()
    # The kernel depends only on differences, so centring on the pooled mean changes nothing exactly but
    # shrinks the cancellation in the ||a||^2 + ||b||^2 - 2 a.b expansion (data far from the origin, e.g. pixels).
    center = torch.cat([real, fake]).mean(dim=0)
    real, fake = real - center, fake - center

    sigma = median_bandwidth(torch.cat([real, fake])) if bandwidth is None else float(bandwidth)
    if not sigma > 0:
        raise UserError(
            f"mmd bandwidth is {sigma}: it must be positive (with bandwidth=None more than half of the pooled "
            f"pairs coincide); set metrics.mmd.bandwidth to a positive sigma"
        )
    gamma = 1.0 / (2.0 * sigma**2)

    k_xx = _kernel_sum(real, real, gamma, chunk_size, same=True)  # off-diagonal only
    k_yy = _kernel_sum(fake, fake, gamma, chunk_size, same=True)
    k_xy = _kernel_sum(real, fake, gamma, chunk_size, same=False)
    if unbiased:
        return k_xx / (n * (n - 1)) + k_yy / (m * (m - 1)) - 2.0 * k_xy / (n * m)
    return (k_xx + n) / n**2 + (k_yy + m) / m**2 - 2.0 * k_xy / (n * m)
