"""Density and coverage: precision and recall made robust to outliers, both from balls around real points only.

Naeem, Oh, Uh, Choi, Yoo 2020, "Reliable fidelity and diversity metrics for generative models", ICML,
arXiv:2002.09797.

Real x_i (i = 1..N), fake y_j (j = 1..M), B(x, r) the open ball of radius r around x, NND_k(x_i) the distance
from x_i to its k-th nearest neighbour among the other real points:
    density  = 1/(k M) sum_j sum_i 1[y_j in B(x_i, NND_k(x_i))]
    coverage = 1/N sum_i 1[exists j: y_j in B(x_i, NND_k(x_i))]
Density counts how many real neighbourhoods hold each generated sample: about 1 when fake matches real, above
1 when samples crowd into dense real regions, unbounded above; higher is better only up to ~1. Coverage is
the fraction of real neighbourhoods that hold at least one generated sample, in [0, 1], higher is better.
The paper recommends k = 5 with equally sized sets (N = M = 10,000 there).

Conventions follow the authors' code (https://github.com/clovaai/generative-evaluation-prdc, prdc/prdc.py,
MIT licence; nothing copied): the radius is the (k+1)-th smallest distance of each real row with the point
itself included, i.e. the k-th neighbour excluding self (a duplicate point counts, at distance 0), and the ball
test is strict, distance < radius (open balls, so a zero radius holds nothing). Squared distances are compared
with squared radii; sqrt is monotone, so the comparisons are the same.

Memory: distances are computed in blocks of chunk_size rows against all points of the other set (pairwise.py),
never as a whole N x M matrix; the result does not depend on chunk_size.
"""

import torch

from ganctl.errors import UserError
from ganctl.metrics.pairwise import DEFAULT_CHUNK, kth_neighbour_sq_distance, prepare_pair, sq_distance_blocks


def density_coverage(*, real, fake, k=5, chunk_size=DEFAULT_CHUNK) -> dict:
    """Density and coverage of fake (M, d) against real (N, d): {"density", "coverage"} as floats (see the
    module docstring). Runs on real's device in float64."""
    real, fake = prepare_pair("density_coverage", real, fake, chunk_size=chunk_size)
    if not 1 <= k < len(real):
        raise UserError(
            f"density_coverage needs 1 <= k < the number of real samples (the k-th neighbour of a real point "
            f"among the others), got k={k} with {len(real)} real samples; set metrics.density_coverage.k or "
            f"evaluate on more samples"
        )
    radii = kth_neighbour_sq_distance(real, k, chunk_size)  # (N,) squared NND_k of the real points
    in_balls = 0  # sum over (i, j) of 1[y_j in B(x_i, NND_k(x_i))]
    covered = torch.zeros(len(real), dtype=torch.bool, device=real.device)
    for _, block in sq_distance_blocks(fake, real, chunk_size):  # (c, N): a chunk of generated rows
        inside = block < radii[None, :]
        in_balls += int(inside.sum())
        covered |= inside.any(dim=0)
    return {"density": in_balls / (k * len(fake)), "coverage": float(covered.double().mean())}
