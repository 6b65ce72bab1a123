"""Kernel maximum mean discrepancy (squared), MMD^2, between real and generated samples.

Gretton, Borgwardt, Rasch, Schoelkopf, Smola 2012, "A kernel two-sample test", JMLR 13:723-773 (eqs. 3 and 5);
as a GAN metric: Xu, Huang, Yuan, Guo, Sun, Wu, Weinberger 2018, "An empirical study on evaluation metrics of
generative adversarial networks", arXiv:1806.07755.

Real x_i (i = 1..n), fake y_j (j = 1..m), kernel k:
    kernel="gaussian" (default):  k(a, b) = exp(-||a - b||^2 / (2 sigma^2))
    kernel="polynomial":          k(a, b) = (a.b / d + 1)^3, d = the feature dimension; the kernel of KID
                                  (Binkowski et al. 2018, arXiv:1801.01401; see kid.py), not bandwidth-tuned
    unbiased (U-statistic, unbiased=True; needs n, m >= 2):
        MMD2_u = 1/(n(n-1)) sum_{i != i'} k(x_i, x_i') + 1/(m(m-1)) sum_{j != j'} k(y_j, y_j')
                 - 2/(n m) sum_{i, j} k(x_i, y_j)
    biased (V-statistic, unbiased=False; the diagonal terms k(x_i, x_i), 1 for the Gaussian, are included):
        MMD2_b = 1/n^2 sum_{i, i'} k(x_i, x_i') + 1/m^2 sum_{j, j'} k(y_j, y_j') - 2/(n m) sum_{i, j} k(x_i, y_j)
The value returned is MMD^2 (not its square root). Lower is better. The population MMD^2 is 0 iff the two
distributions are equal for the Gaussian kernel (it is characteristic); the cubic polynomial kernel only
compares moments up to the third. With the Gaussian kernel MMD2_b lies in [0, 2] and |MMD2_u| <= 2; MMD2_u is
an unbiased estimate, so it is about 0 (and can be slightly negative) when real and fake come from the same
distribution. The polynomial kernel's values scale with the data (unbounded).

Bandwidth (Gaussian kernel only; it must stay None with the polynomial kernel): `bandwidth` is sigma itself.
bandwidth=None uses the median heuristic (Gretton et al. 2012, sec. 8): sigma = the median (numpy's convention:
the mean of the two middle values for an even count) of the Euclidean distances ||z_a - z_b||, a < b, over the
pooled sample z = real U fake; when the pooled sample has more than 1000 points, over 1000 of them drawn without
replacement by torch.randperm with a CPU generator seeded 0 (a fixed seed, so the bandwidth and the metric are
deterministic).

Memory: the kernel matrices are never held whole; they are summed in blocks of chunk_size rows, so memory
is O(chunk_size * max(n, m)) and the result does not depend on chunk_size beyond float64 rounding. All
sums are accumulated in float64 on the inputs' device.
"""

from dataclasses import dataclass

import torch

from ganctl.errors import UserError

MEDIAN_POINTS = 1000  # the median heuristic looks at most at this many pooled points ...
MEDIAN_SEED = 0  # ... drawn with this seed
KERNELS = ("gaussian", "polynomial")


@dataclass(frozen=True)
class GaussianKernel:
    """k(a, b) = exp(-||a - b||^2 / (2 sigma^2)); k(a, a) = 1 exactly."""

    sigma: float

    def __call__(self, a, b):
        """(p, d), (q, d) -> (p, q) kernel values."""
        # ||a||^2 + ||b||^2 - 2 a.b: one matmul per block; rounding can make it slightly negative, hence the clamp.
        sq = ((a * a).sum(dim=1)[:, None] + (b * b).sum(dim=1)[None, :] - 2.0 * a @ b.T).clamp_min_(0.0)
        return torch.exp(-(1.0 / (2.0 * self.sigma**2)) * sq)

    def diag(self, a):
        return torch.ones(len(a), dtype=a.dtype, device=a.device)


@dataclass(frozen=True)
class PolynomialKernel:
    """k(a, b) = (a.b / d + coef0)^degree, d = the feature dimension (KID's kernel: degree 3, coef0 1)."""

    degree: int = 3
    coef0: float = 1.0

    def __call__(self, a, b):
        return (a @ b.T / a.shape[1] + self.coef0) ** self.degree  # (p, q)

    def diag(self, a):
        return ((a * a).sum(dim=1) / a.shape[1] + self.coef0) ** self.degree  # (p,) k(a_r, a_r)


def median_bandwidth(z) -> float:
    """Median-heuristic sigma of the pooled sample z (N, d), as stated in the module docstring."""
    if len(z) > MEDIAN_POINTS:
        gen = torch.Generator().manual_seed(MEDIAN_SEED)
        z = z[torch.randperm(len(z), generator=gen)[:MEDIAN_POINTS].to(z.device)]
    i, j = torch.triu_indices(len(z), len(z), offset=1, device=z.device)
    dist = torch.cdist(z, z)[i, j]  # (N(N-1)/2,) distances a < b
    return float(torch.quantile(dist, 0.5))  # linear interpolation = numpy's median


def _kernel_sum(a, b, kernel, chunk_size, same):
    """sum_{r, c} kernel(a_r, b_c) over row blocks of a; with same=True (a is b) the diagonal r = c is left
    out, so the caller adds its exact value kernel.diag where it wants it."""
    total = torch.zeros((), dtype=torch.float64, device=a.device)
    for start in range(0, len(a), chunk_size):
        k = kernel(a[start : start + chunk_size], b)  # (c, m)
        if same:
            rows = torch.arange(len(k), device=a.device)
            k[rows, start + rows] = 0.0
        total += k.sum()
    return float(total)


def mmd2(x, y, kernel, *, unbiased=True, chunk_size=4096) -> float:
    """The MMD^2 estimator of the module docstring on prepared float64 tensors x (n, d), y (m, d) on one device,
    with any kernel that has __call__(a, b) -> (p, q) and diag(a) -> (p,); no input checks (kid.py uses it)."""
    n, m = len(x), len(y)
    k_xx = _kernel_sum(x, x, kernel, chunk_size, same=True)  # off-diagonal only
    k_yy = _kernel_sum(y, y, kernel, chunk_size, same=True)
    k_xy = _kernel_sum(x, y, kernel, chunk_size, same=False)
    if unbiased:
        return k_xx / (n * (n - 1)) + k_yy / (m * (m - 1)) - 2.0 * k_xy / (n * m)
    d_xx, d_yy = float(kernel.diag(x).sum()), float(kernel.diag(y).sum())
    return (k_xx + d_xx) / n**2 + (k_yy + d_yy) / m**2 - 2.0 * k_xy / (n * m)


def mmd(*, real, fake, kernel="gaussian", bandwidth=None, unbiased=True, chunk_size=4096) -> float:
    """MMD^2 between real (n, d) and fake (m, d) with a Gaussian kernel of width `bandwidth` (sigma; None =
    median heuristic) or KID's cubic polynomial kernel; unbiased U-statistic or biased V-statistic (see the
    module docstring)."""
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
    if kernel not in KERNELS:
        raise UserError(f"mmd: unknown kernel {kernel!r}; the supported kernels are {', '.join(map(repr, KERNELS))} "
                        f"(set metrics.mmd.kernel)")
    if chunk_size < 1:
        raise UserError(f"mmd needs chunk_size >= 1, got {chunk_size}; set metrics.mmd.chunk_size")

    real = real.detach().double()
    fake = fake.detach().to(real.device).double()
    if kernel == "polynomial":
        if bandwidth is not None:
            raise UserError(f"mmd: the polynomial kernel has no bandwidth, got bandwidth={bandwidth}; set "
                            f"metrics.mmd.bandwidth=null or use kernel=gaussian")
        # No centring here: unlike the Gaussian, the polynomial kernel is not translation invariant.
        return mmd2(real, fake, PolynomialKernel(), unbiased=unbiased, chunk_size=chunk_size)

    # The Gaussian kernel depends only on differences, so centring on the pooled mean changes nothing exactly but
    # shrinks the cancellation in the ||a||^2 + ||b||^2 - 2 a.b expansion (data far from the origin, e.g. pixels).
    center = torch.cat([real, fake]).mean(dim=0)
    real, fake = real - center, fake - center

    sigma = median_bandwidth(torch.cat([real, fake])) if bandwidth is None else float(bandwidth)
    if not sigma > 0:
        raise UserError(
            f"mmd bandwidth is {sigma}: it must be positive (with bandwidth=None more than half of the pooled "
            f"pairs coincide); set metrics.mmd.bandwidth to a positive sigma"
        )
    return mmd2(real, fake, GaussianKernel(sigma), unbiased=unbiased, chunk_size=chunk_size)
