"""Earth mover's (1-Wasserstein) distance between real and generated samples: exact, and sliced.

Exact W1 between empirical distributions, as used to evaluate GANs by Xu, Huang, Yuan, Guo, Sun, Wu,
Weinberger 2018, "An empirical study on evaluation metrics of generative adversarial networks",
arXiv:1806.07755; computed as the optimal-transport linear programme (Peyre & Cuturi 2019, "Computational
Optimal Transport", arXiv:1803.00567, ch. 3) with POT's network simplex `ot.emd2` (Flamary et al. 2021, JMLR
22(78)). Sliced W1: Rabin, Peyre, Delon, Bernot 2011 and Bonneel, Rabin, Peyre, Pfister 2015, "Sliced and
Radon Wasserstein barycenters of measures", J. Math. Imaging Vis. 51(1):22-45.

Exact, real x_i (i = 1..n), fake y_j (j = 1..m), a = 1/n, b = 1/m, M_ij = ||x_i - y_j||_2:
    W1 = min_T sum_ij T_ij M_ij   over T >= 0 with T 1_m = a 1_n and T^T 1_n = b 1_m.
Sliced, L = projections directions theta_l drawn uniformly on the unit sphere S^(d-1):
    SW1 = (1/L) sum_l W1_1d(x . theta_l, y . theta_l),
    W1_1d(u, v) = int_0^1 |F_u^-1(t) - F_v^-1(t)| dt   (quantile functions of the two empirical
    distributions; piecewise constant, so the integral is an exact finite sum for any n, m).
Both are in the units of the data, >= 0, 0 iff the two empirical distributions are equal (for SW1: equal
in every sampled direction); lower is better. W1 is the exact LP optimum of the empirical problem (a
biased, consistent estimator of the population W1; the bias shrinks slowly with n in high d). SW1 is a
Monte Carlo average over L directions with a fixed seed, and SW1 <= W1 up to that Monte Carlo error.
Cost: exact W1 needs O(n m) memory and super-quadratic time (about 5 s at n = m = 5000 in 2-D on one
CPU core), hence max_size; SW1 needs O((n + m) L) memory and O((n + m) L log(n + m)) time.
"""

import warnings

import numpy as np
import ot
import torch

from ganctl.errors import UserError


def _check_pair(name, real, fake):
    real, fake = torch.as_tensor(real), torch.as_tensor(fake)
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1] or len(real) == 0 or len(fake) == 0:
        raise UserError(
            f"{name} needs non-empty real (n, d) and fake (m, d) with the same d, got {tuple(real.shape)} and "
            f"{tuple(fake.shape)}; check that generated samples have the data's shape"
        )
    return real.detach().double(), fake.detach().to(real.device).double()


def wasserstein(*, real, fake, max_size=5000) -> float:
    """Exact W1 between the empirical distributions of real (n, d) and fake (m, d), uniform weights,
    Euclidean ground cost (see the module docstring). Raises UserError if n or m exceeds max_size."""
    real, fake = _check_pair("wasserstein", real, fake)
    n, m = len(real), len(fake)
    if max(n, m) > max_size:
        raise UserError(
            f"wasserstein: {n} real and {m} generated samples, more than metrics.wasserstein.max_size={max_size} "
            f"(exact optimal transport costs O(n*m) memory); raise metrics.wasserstein.max_size or use "
            f"sliced_wasserstein"
        )
    # Ground cost on the inputs' device, float64. cdist's matmul expansion ||x||^2 + ||y||^2 - 2 x.y is ~10x
    # faster than exact differences for image-sized d; centring first keeps its cancellation error small. Its
    # sqrt still turns a rounding-level squared distance into ~1e-8 x the data's scale, so W1 carries an
    # absolute error of that order (W1 of a set with itself is ~1e-8, not 0.0).
    center = torch.cat([real, fake]).mean(dim=0)
    cost = torch.cdist(real - center, fake - center).cpu().numpy()  # (n, m); POT's simplex runs on the CPU
    a = np.full(n, 1.0 / n)
    b = np.full(m, 1.0 / m)
    # POT's default cap of 1e5 pivots is reached before the optimum at n = m = 5000 (2-D normals, measured);
    # the cap is only a safety net, so it is set far above the pivots the simplex needs on an n x m problem.
    num_iter_max = max(100_000, 100 * n * m)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # POT warns on a non-optimal result; we raise instead, below
        w1, log = ot.emd2(a, b, cost, numItermax=num_iter_max, log=True)
    if log["result_code"] != 1:  # 1 = OPTIMAL; 0 infeasible, 2 unbounded, 3 numItermax reached
        code, why = log["result_code"], log["warning"]
        raise RuntimeError(f"POT's network simplex returned no optimal plan (code {code}): {why}")
    return float(w1)


def _w1_1d_sorted(xs, ys):
    """Exact 1-D W1 between each column of xs (n, L) and of ys (m, L), both sorted along dim 0 -> (L,).

    The quantile function of xs is xs[i] on (i/n, (i+1)/n], that of ys is ys[j] on (j/m, (j+1)/m]. On the
    common grid t = u / (n m) the breakpoints are the integers i*m and j*n, so the merged intervals, their
    lengths and the quantile index on each (floor(t n) at the interval's midpoint) are exact integer arithmetic.
    """
    n, m = len(xs), len(ys)
    dev = xs.device
    cuts = torch.cat([torch.arange(n + 1, device=dev) * m, torch.arange(1, m, device=dev) * n]).unique()  # sorted
    lo, hi = cuts[:-1], cuts[1:]
    ix = (lo + hi) // (2 * m)  # floor(n * midpoint), midpoint = (lo + hi) / (2 n m)
    iy = (lo + hi) // (2 * n)
    width = (hi - lo).double() / (n * m)  # (K,) interval lengths, K <= n + m - 1
    return (width[:, None] * (xs[ix] - ys[iy]).abs()).sum(dim=0)


def sliced_wasserstein(*, real, fake, projections=128, seed=0) -> float:
    """Sliced W1 between real (n, d) and fake (m, d): the mean over `projections` random unit directions
    (seeded) of the exact 1-D W1 of the projected samples (see the module docstring)."""
    real, fake = _check_pair("sliced_wasserstein", real, fake)
    if projections < 1:
        raise UserError(
            f"sliced_wasserstein needs projections >= 1, got {projections}; set metrics.sliced_wasserstein.projections"
        )
    # Directions are drawn on the CPU so a seed gives the same directions on every device. A normalised
    # standard Gaussian vector is uniform on the sphere.
    gen = torch.Generator().manual_seed(seed)
    theta = torch.randn(real.shape[1], projections, generator=gen, dtype=torch.float64)
    theta = (theta / theta.norm(dim=0, keepdim=True)).to(real.device)  # (d, L)
    xs = (real @ theta).sort(dim=0).values  # (n, L)
    ys = (fake @ theta).sort(dim=0).values  # (m, L)
    return float(_w1_1d_sorted(xs, ys).mean())
