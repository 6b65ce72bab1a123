"""Improved precision and recall: how much of the generated set lies on the real manifold, and vice versa.

Kynkaanniemi, Karras, Laine, Lehtinen, Aila 2019, "Improved precision and recall metric for assessing
generative models", NeurIPS, arXiv:1904.06991.

Each set's manifold is the union of balls around its points, each ball's radius the distance to the point's
k-th nearest neighbour in its own set (the point itself excluded). Real x_i (i = 1..n), fake y_j (j = 1..m):
    NND_k(x_i) = distance from x_i to its k-th nearest neighbour among the other real points (same for y_j)
    precision = 1/m sum_j 1[exists i: ||y_j - x_i|| <= NND_k(x_i)]   (generated samples inside the real manifold)
    recall    = 1/n sum_i 1[exists j: ||x_i - y_j|| <= NND_k(y_j)]   (real samples inside the generated manifold)
Both lie in [0, 1], higher is better: precision measures fidelity, recall coverage (diversity). The paper
uses k = 3 and equally sized sets (50,000 Inception/VGG-16 features).

Conventions follow the authors' code (https://github.com/kynkaat/improved-precision-and-recall-metric,
precision_recall.py, CC BY-NC 4.0; nothing copied): the radius is entry k of each row's sorted distances with the
point itself at entry 0, i.e. the k-th neighbour excluding self (a duplicate point counts, at distance 0), and
the ball test is `<=` (a point on a ball's boundary is inside). Note that the PRDC code
(https://github.com/clovaai/generative-evaluation-prdc) tests `<` for its precision and recall; the two differ
only on exact distance ties. Squared distances are compared with squared radii, as in the authors' code.

Memory: distances are computed in blocks of chunk_size rows against all points of the other set (pairwise.py),
never as a whole n x m matrix; the result does not depend on chunk_size.
"""

from ganctl.errors import UserError
from ganctl.metrics.pairwise import DEFAULT_CHUNK, kth_neighbour_sq_distance, prepare_pair, sq_distance_blocks


def _fraction_inside(points, centres, sq_radii, chunk_size):
    """Fraction of `points` within distance sqrt(sq_radii[c]) (boundary included) of some centre c."""
    inside = 0
    for _, block in sq_distance_blocks(points, centres, chunk_size):  # (c, len(centres))
        inside += int((block <= sq_radii[None, :]).any(dim=1).sum())
    return inside / len(points)


def precision_recall(*, real, fake, k=3, chunk_size=DEFAULT_CHUNK) -> dict:
    """k-NN precision and recall of fake (m, d) against real (n, d): {"precision", "recall"} as floats in
    [0, 1] (see the module docstring). Runs on real's device in float64."""
    real, fake = prepare_pair("precision_recall", real, fake, chunk_size=chunk_size)
    if not 1 <= k < min(len(real), len(fake)):
        raise UserError(
            f"precision_recall needs 1 <= k < the size of each set (the k-th neighbour of a point among the "
            f"others), got k={k} with {len(real)} real and {len(fake)} generated samples; set "
            f"metrics.precision_recall.k or evaluate on more samples"
        )
    real_radii = kth_neighbour_sq_distance(real, k, chunk_size)  # (n,) squared NND_k
    fake_radii = kth_neighbour_sq_distance(fake, k, chunk_size)  # (m,)
    return {
        "precision": _fraction_inside(fake, real, real_radii, chunk_size),
        "recall": _fraction_inside(real, fake, fake_radii, chunk_size),
    }
