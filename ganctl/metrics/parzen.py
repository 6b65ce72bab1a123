"""Parzen-window (Gaussian kernel density) log-likelihood of held-out data under generated samples.

Breuleux, Bengio, Vincent 2011, "Quickly generating representative samples from an RBM-derived process",
Neural Computation 23(8):2053-2073; the GAN protocol of Goodfellow, Pouget-Abadie, Mirza, Xu, Warde-Farley,
Ozair, Courville, Bengio 2014, "Generative adversarial nets", arXiv:1406.2661 (Table 1), whose reference code
is https://github.com/goodfeli/adversarial/blob/master/parzen_ll.py (BSD 3-clause).

Generated samples s_i (i = 1..n), test points x_j (j = 1..m), all in R^d, bandwidth sigma:
    log p(x) = logsumexp_i(-||x - s_i||^2 / (2 sigma^2)) - log n - (d/2) log(2 pi sigma^2)
    log_likelihood = (1/m) sum_j log p(x_j)      in nats per point, higher is better, unbounded
    stderr = std_j(log p(x_j)) / sqrt(m)          (population std, ddof = 0, as the reference code)
p is the density of the mixture (1/n) sum_i N(s_i, sigma^2 I), so log_likelihood can exceed 0 for a
continuous density and depends on the data's scale (rescaling the data by c shifts it by -d log c).

Bandwidth: sigma=None selects sigma on `validation`, held-out real points that are not in `test`: the sigma of
the grid `sigmas` with the largest mean validation log-likelihood (on ties the first, i.e. the smallest if the
grid is increasing). This is the reference protocol (cross_validate_sigma: argmax of the validation mean over
numpy.logspace(-1, 0, 10), i.e. 10 values from 0.1 to 1 evenly spaced in log), and DEFAULT_SIGMAS is that
grid. It suits data scaled to [0, 1] (MNIST pixels, as in the paper); pass a grid in the units of other data.
A sigma picked at either end of the grid triggers a warning: the optimum may lie outside it.
Without validation data sigma must be given: choosing it on `test` itself would select the bandwidth on the
points it is then scored on (an optimistic number), and silently splitting `test` would change the set the
number is reported on. The caller holds the held-out split (the reference took 1000 MNIST training images,
50000..50999, as validation).

Caveats (Theis, van den Oord, Bethge 2016, "A note on the evaluation of generative models", arXiv:1511.01844):
in high dimension the estimate needs very many samples, can rank models differently from the true
log-likelihood, and is not a bound. It is best read as a comparison between models at equal n, d and grid.

Memory: the distances are computed in (chunk_size x chunk_size) blocks with a running logsumexp over sample
blocks, so memory is O(chunk_size^2 * len(sigmas)) whatever n and m; the result does not depend on chunk_size
beyond float64 rounding. Everything is computed in float64 on the samples' device.
"""

import math
import warnings
from dataclasses import dataclass

import torch

from ganctl.errors import UserError

DEFAULT_SIGMAS = tuple(10.0 ** (-1.0 + k / 9.0) for k in range(10))  # numpy.logspace(-1, 0, 10), the reference grid


@dataclass(frozen=True)
class ParzenResult:
    log_likelihood: float  # mean log p(x) over the test points, nats
    stderr: float  # its standard error, std (ddof = 0) / sqrt(m)
    sigma: float  # the bandwidth used (given, or chosen on the validation points)


def _check_points(name, x, d=None):
    x = torch.as_tensor(x)
    if x.ndim != 2 or len(x) == 0 or (d is not None and x.shape[1] != d):
        want = "(n, d)" if d is None else f"(m, {d})"
        raise UserError(
            f"parzen_log_likelihood needs non-empty {name} of shape {want}, got {tuple(x.shape)}; flatten images "
            f"to (N, C*H*W) and give samples and data the same d"
        )
    return x.detach()


def parzen_log_density(samples, points, sigmas, chunk_size=512):
    """log p(x_j) of every point (m, d) under the Gaussian KDE of `samples` (n, d), for each bandwidth in
    `sigmas` -> (len(sigmas), m) float64 (formula in the module docstring)."""
    samples = samples.detach().double()
    points = points.detach().to(samples.device).double()
    n, d = samples.shape
    sig = torch.as_tensor(sigmas, dtype=torch.float64, device=samples.device).reshape(-1, 1, 1)  # (G, 1, 1)
    # Distances are shift-invariant: centring on the samples' mean shrinks the cancellation in the
    # ||x||^2 + ||s||^2 - 2 x.s expansion for data far from the origin (pixels in [0, 1]).
    center = samples.mean(dim=0)
    samples, points = samples - center, points - center
    s_sq = samples.square().sum(dim=1)  # (n,)
    out = []
    for p_start in range(0, len(points), chunk_size):
        x = points[p_start : p_start + chunk_size]  # (c, d)
        x_sq = x.square().sum(dim=1)
        acc = torch.full((len(sig), len(x)), -math.inf, dtype=torch.float64, device=samples.device)  # (G, c)
        for s_start in range(0, n, chunk_size):
            s = samples[s_start : s_start + chunk_size]
            # Rounding can make the expansion slightly negative for coincident points, hence the clamp.
            sq = (x_sq[:, None] + s_sq[None, s_start : s_start + len(s)] - 2.0 * x @ s.T).clamp_min_(0.0)  # (c, b)
            # logsumexp over sample blocks, merged with logaddexp: never exp of a large negative exponent alone,
            # so a point far from every sample gets a finite (very negative) log-density, not log 0.
            acc = torch.logaddexp(acc, torch.logsumexp(-sq / (2.0 * sig.square()), dim=2))  # (G, c, b) -> (G, c)
        out.append(acc)
    log_norm = math.log(n) + 0.5 * d * torch.log(2.0 * math.pi * sig[:, :, 0].square())  # (G, 1)
    return torch.cat(out, dim=1) - log_norm


def parzen_log_likelihood(*, samples, test, sigma=None, validation=None, sigmas=DEFAULT_SIGMAS,
                          chunk_size=512) -> ParzenResult:
    """Mean Parzen-window log-likelihood of `test` (m, d) under the Gaussian KDE centred on generated `samples`
    (n, d), with its standard error and the bandwidth used. sigma=None picks the bandwidth from `sigmas` on
    `validation` (held-out real points, required then); see the module docstring. Higher is better."""
    samples = _check_points("samples", samples)
    test = _check_points("test", test, samples.shape[1])
    if chunk_size < 1:
        raise UserError(f"parzen_log_likelihood needs chunk_size >= 1, got {chunk_size}")
    if sigma is None:
        if validation is None:
            raise UserError(
                "parzen_log_likelihood: sigma=None selects the bandwidth on held-out validation points, but none "
                "were given; pass validation= (real points not in test) or a fixed sigma="
            )
        validation = _check_points("validation", validation, samples.shape[1])
        grid = [float(s) for s in sigmas]
        if not grid or not all(s > 0 and math.isfinite(s) for s in grid):
            raise UserError(f"parzen_log_likelihood needs a non-empty grid of positive sigmas, got {grid}")
        valid_ll = parzen_log_density(samples, validation, grid, chunk_size).mean(dim=1)  # (G,)
        best = int(torch.argmax(valid_ll))  # first maximum on ties, as numpy.argmax in the reference
        sigma = grid[best]
        if len(grid) > 1 and sigma in (min(grid), max(grid)):
            warnings.warn(
                f"parzen_log_likelihood: the selected sigma={sigma:g} is at the edge of the grid "
                f"[{min(grid):g}, {max(grid):g}]; the best bandwidth may lie outside it, widen sigmas=",
                stacklevel=2,
            )
    sigma = float(sigma)
    if not (sigma > 0 and math.isfinite(sigma)):
        raise UserError(f"parzen_log_likelihood needs a positive bandwidth sigma, got {sigma}")
    ll = parzen_log_density(samples, test, [sigma], chunk_size)[0]  # (m,)
    stderr = ll.std(correction=0) / math.sqrt(len(ll))
    return ParzenResult(log_likelihood=float(ll.mean()), stderr=float(stderr), sigma=sigma)
