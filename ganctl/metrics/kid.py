"""Kernel Inception Distance: unbiased polynomial-kernel MMD^2 between feature sets, averaged over random subsets.

Binkowski, Sutherland, Arbel, Gretton 2018, "Demystifying MMD GANs", ICLR, arXiv:1801.01401.

Real x_i (i = 1..n), fake y_j (j = 1..m), features of dimension d, kernel k(a, b) = (a.b / d + 1)^3.
For s = 1..S (S = `subsets`), draw index sets I_s of the real and J_s of the generated samples, each of size
q = `subset_size`, without replacement, and take the unbiased MMD^2 (U-statistic within each set):
    KID_s = 1/(q(q-1)) [sum_{i != i' in I_s} k(x_i, x_i') + sum_{j != j' in J_s} k(y_j, y_j')]
            - 2/q^2 sum_{i in I_s, j in J_s} k(x_i, y_j)
    kid_mean = 1/S sum_s KID_s,   kid_std = sqrt(1/S sum_s (KID_s - kid_mean)^2)   (ddof = 0)
kid_mean is an unbiased estimate of the population MMD^2: lower is better, about 0 (possibly slightly negative)
when the two sets come from one distribution; kid_std is the spread over subsets, not a standard error. Papers
often report KID x 1000. On Inception pool3 features (d = 2048) it is KID; on any other features (raw pixels, as
ganctl's engine passes them) it is the same statistic on those features.

Conventions follow torch-fidelity (https://github.com/toshas/torch-fidelity, torch_fidelity/metric_kid.py,
Apache 2.0, itself adapted from https://github.com/mbinkowski/MMD-GAN; nothing copied): degree 3, gamma 1/d,
coef0 1, the XY term averaged over all q^2 pairs, np.std (ddof = 0) over subsets, 100 subsets of 1000, and the
subsets drawn by numpy's RandomState(seed).choice(size, q, replace=False), first from its input1 (the generated
set) then from input2 (the real set) for each subset. So kid(real=r, fake=f, seed=s) reproduces torch-fidelity's
kid with input1=f, input2=r, rng_seed=s (its default seed is 2020, ours 0) on the same features, up to
torch-fidelity's float32 arithmetic (ganctl computes in float64). Deviation: torch-fidelity stops when a set has
fewer than subset_size samples (the error reported in torch-fidelity issue #45, answered there with "use a
smaller kid_subset_size"); here the subset size shrinks to the smaller set's size, with a warning. Then every
subset of that set is the whole set, and kid_std only reflects the other set's subsampling (0 when both are
whole).
"""

import warnings

import numpy as np
import torch

from ganctl.errors import UserError
from ganctl.metrics.mmd import PolynomialKernel, mmd2
from ganctl.metrics.pairwise import prepare_pair


def kid(*, real, fake, subsets=100, subset_size=1000, seed=0, chunk_size=4096) -> dict:
    """KID of fake (m, d) against real (n, d): {"kid_mean", "kid_std"} as floats over `subsets` random subsets of
    `subset_size` samples per set (see the module docstring). Runs on real's device in float64."""
    if subsets < 1 or subset_size < 2:
        raise UserError(f"kid needs subsets >= 1 and subset_size >= 2, got {subsets} and {subset_size}; set "
                        f"metrics.kid.subsets / metrics.kid.subset_size")
    # Not centred: unlike a distance, the polynomial kernel changes under translation.
    real, fake = prepare_pair("kid", real, fake, min_size=2, chunk_size=chunk_size, center=False)
    q = min(subset_size, len(real), len(fake))
    if q < subset_size:
        warnings.warn(
            f"kid: {len(real)} real and {len(fake)} generated samples, fewer than subset_size={subset_size}; using "
            f"subsets of {q} (KID values from different subset sizes are not comparable)",
            stacklevel=2,
        )
    rng = np.random.RandomState(seed)
    kernel = PolynomialKernel(degree=3, coef0=1.0)
    values = np.empty(subsets)
    for s in range(subsets):
        j = torch.from_numpy(rng.choice(len(fake), q, replace=False)).to(fake.device)
        i = torch.from_numpy(rng.choice(len(real), q, replace=False)).to(real.device)
        values[s] = mmd2(real[i], fake[j], kernel, unbiased=True, chunk_size=chunk_size)
    return {"kid_mean": float(values.mean()), "kid_std": float(values.std())}
