"""Chunked pairwise Euclidean distances, shared by the nearest-neighbour metrics (nn1, precision_recall,
density_coverage). Not a metric itself.

Memory: the full n x m distance matrix is never held. Distances are produced one block at a time, a chunk of
`chunk_size` rows of x against all m rows of y, computed in place in one (chunk_size, m) float64 buffer, so
peak memory is about chunk_size * m * 8 bytes beside the inputs, plus a boolean or index result of the same
shape at most in the callers (0.4 GB per block for chunk_size = 1024 against 50,000 columns, 0.8 GB against
100,000), on the inputs' device; the time is one (chunk_size, d) x (d, m) matmul per block. That is what lets
50k x 50k sets (100k pooled points for 1-NN) run on one GPU.

Squared distances, computed as ||a||^2 + ||b||^2 - 2 a.b in float64 and clamped at 0 (rounding can make the
expansion slightly negative). The metrics compare squared distances with squared radii: sqrt is monotone, so
every comparison and every nearest neighbour is the same as with distances, and no sqrt is spent. The callers
centre both sets on their pooled mean first (prepare_pair), which changes no distance but keeps the
expansion's cancellation error small when the data sit far from the origin (pixels, Inception features).
"""

import torch

from ganctl.errors import UserError

DEFAULT_CHUNK = 1024  # rows per distance block (see the module docstring for the memory it takes)


def prepare_pair(name: str, real, fake, min_size: int = 1, chunk_size: int = DEFAULT_CHUNK, center: bool = True):
    """real (n, d) and fake (m, d) as float64 on real's device, centred on their pooled mean (center=True: for
    distances, which centring leaves unchanged); UserError on wrong shapes, fewer than min_size samples in
    either set, or chunk_size < 1."""
    real, fake = torch.as_tensor(real), torch.as_tensor(fake)
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise UserError(
            f"{name} needs real (n, d) and fake (m, d) with the same d, got {tuple(real.shape)} and "
            f"{tuple(fake.shape)}; check that generated samples have the data's shape"
        )
    if min(len(real), len(fake)) < min_size:
        raise UserError(
            f"{name} needs at least {min_size} real and {min_size} generated samples, got {len(real)} and "
            f"{len(fake)}; evaluate on more samples"
        )
    if chunk_size < 1:
        raise UserError(f"{name} needs chunk_size >= 1, got {chunk_size}; set metrics.{name}.chunk_size")
    real = real.detach().double()
    fake = fake.detach().to(real.device).double()
    if not center:
        return real, fake
    mean = torch.cat([real, fake]).mean(dim=0)
    return real - mean, fake - mean


def sq_distance_blocks(x, y, chunk_size: int = DEFAULT_CHUNK, exclude_self: bool = False):
    """Yield (start, block): block (c, m) holds ||x_r - y_c||^2 for rows r = start .. start + c - 1 of x and
    every row of y. exclude_self=True (x is y) sets each point's distance to itself to +inf, so a point is
    never its own neighbour; a duplicate of it still counts, at distance 0."""
    y_sq = (y * y).sum(dim=1)  # (m,)
    for start in range(0, len(x), chunk_size):
        x_c = x[start : start + chunk_size]  # (c, d)
        block = x_c @ y.T  # (c, m); then in place, so that one (c, m) buffer is all a block costs
        block.mul_(-2.0).add_((x_c * x_c).sum(dim=1)[:, None]).add_(y_sq[None, :]).clamp_min_(0.0)
        if exclude_self:
            rows = torch.arange(len(x_c), device=x.device)
            block[rows, start + rows] = float("inf")
        yield start, block


def kth_neighbour_sq_distance(x, k: int, chunk_size: int = DEFAULT_CHUNK):
    """(n,) squared distance from each x_i to its k-th nearest neighbour among the other points of x
    (k = 1: the nearest; the point itself is excluded by index, not by distance)."""
    radii = torch.empty(len(x), dtype=x.dtype, device=x.device)
    for start, block in sq_distance_blocks(x, x, chunk_size, exclude_self=True):
        radii[start : start + len(block)] = block.topk(k, dim=1, largest=False).values[:, -1]
    return radii


def nearest_neighbour(x, chunk_size: int = DEFAULT_CHUNK):
    """(n,) index of each x_i's nearest neighbour among the other points of x; on exact ties the lowest index
    wins (torch's argmin returns the first minimum)."""
    index = torch.empty(len(x), dtype=torch.long, device=x.device)
    for start, block in sq_distance_blocks(x, x, chunk_size, exclude_self=True):
        index[start : start + len(block)] = block.argmin(dim=1)
    return index
