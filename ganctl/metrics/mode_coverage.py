"""Mode coverage of a Gaussian mixture: modes captured, high-quality samples, reverse KL, and one number for both.

The VEEGAN / PacGAN toy-data metrics: Srivastava, Valkov, Russell, Gutmann, Sutton 2017, "VEEGAN: Reducing
mode collapse in GANs using implicit variational learning", arXiv:1705.07761; Lin, Khetan, Fanti, Oh 2018,
"PacGAN: The power of two samples in generative adversarial networks", arXiv:1712.04086 (Table 1: modes,
high quality samples, reverse KL on 2D-ring and 2D-grid).

For fake samples x_i (i = 1..n) and mode centres mu_k (k = 1..K), all with standard deviation std:
    dist_i  = min_k ||x_i - mu_k||_2 / std,   nearest_i = argmin_k ||x_i - mu_k||_2
    hq_i    = dist_i < threshold                              (a "high-quality" sample; threshold = 3)
    counts_k = #{i : hq_i and nearest_i = k}                  (only high-quality samples are binned)
    modes_captured   = #{k : counts_k >= 1}                   in [0, K], higher is better
    high_quality_pct = 100 * sum_k counts_k / n               in [0, 100], higher is better
    p_k = counts_k / sum_k counts_k
    reverse_kl = KL(p || uniform_K) = sum_k p_k log(K p_k) = log K - H(p)   in nats, in [0, log K],
                 lower is better; 0 iff the high-quality samples are spread evenly over all K modes.
    0 log 0 = 0 (a missed mode adds nothing to the sum; it shows up by raising the other p_k).
    With no high-quality sample at all p is undefined (0/0); we return reverse_kl = log K, the value of
    total collapse onto one mode and the largest value the sum can take, so the number stays finite and
    no better than the worst case it can be compared with.
    mode_tv = TV(q, u) = 1 - sum_k min(counts_k / n, 1 / K)    in [0, 1], lower is better (1: no sample on a mode)
                 the total variation distance between q, the samples' distribution over K + 1 bins (the K
                 modes' high-quality bins and one bin for every sample off all modes), and u, the mixture's
                 (1/K on each mode, 0 off them); 0 iff every mode holds exactly n/K high-quality samples.
                 ganctl's own addition, not in either paper: the three columns above each miss something
                 (modes_captured counts one sample as a mode, high_quality_pct rewards dropping modes, reverse_kl
                 ignores the samples off the modes), so a search on one of them alone optimises past the others.
                 TV charges both failures: an empty mode costs 1/K, an off-mode sample 1/n.

Which samples form the histogram: the PacGAN reference code, MetricLogger.do in
https://github.com/fjxmlzn/PacGAN/blob/master/synthetic_data_experiments/PacGAN/pacgan/extensions.py
(MIT licence), adds a sample to its nearest mode's bin only when its distance is below dis_thre = 3
(`if min_dis < self.dis_thre: detail_of_coverage[min_dis_j] += 1`), measures that distance in standard
deviations (sqrt(sum(diff^2 / variance)); the configs pass variances = std^2 * I), and logs
"mode coverage" = number of non-empty bins, "good points percentage" = binned / all samples (a fraction
there; a percentage here) and "entropy of coverage" = scipy.stats.entropy of the normalised bins (natural
log). The code logs that entropy rather than the KL; KL(p || uniform) = log K - H(p) turns one into the
other for Table 1's reverse KL to the (uniform) true mixture. (The paper's own sentence defining the column
could not be checked word for word when this was written; the code is the source followed.) We follow it:
the same high-quality-only histogram, strict "<", nearest mode by Euclidean distance. The reference code
divides by a per-coordinate variance; this function takes one isotropic std, as in the 2D-ring/2D-grid
settings. On exact ties between two nearest modes the lower mode index wins (as in the reference loop).
"""

import math

import torch

from ganctl.errors import UserError


def mode_coverage(*, fake, modes, std, threshold=3.0) -> dict:
    """Modes captured, high-quality sample percentage, reverse KL and mode_tv of `fake` (n, d) against the mixture
    with centres `modes` (K, d) and isotropic standard deviation `std` (see the module docstring).

    Returns {"modes_captured", "high_quality_pct", "reverse_kl", "mode_tv"} as floats. Runs on fake's device in float64.
    """
    fake = torch.as_tensor(fake)
    modes = torch.as_tensor(modes, device=fake.device)
    if fake.ndim != 2 or modes.ndim != 2 or fake.shape[1] != modes.shape[1] or len(fake) == 0 or len(modes) == 0:
        raise UserError(
            f"mode_coverage needs fake (n, d) and modes (K, d) with the same d, got {tuple(fake.shape)} and "
            f"{tuple(modes.shape)}; check that the data's mixture centres match the generator's output size"
        )
    std = float(std)  # the data set may hand over a 0-d tensor
    if not std > 0:
        raise UserError(f"mode_coverage needs a positive mixture std, got {std}; check the data config's std")
    fake, modes = fake.detach().double(), modes.detach().double()
    k = len(modes)

    # The direct (non-matmul) distance: it is exact to rounding, so samples near the threshold are classified
    # the same on every device and batch size.
    dist = torch.cdist(fake, modes, compute_mode="donot_use_mm_for_euclid_dist") / std  # (n, K)
    min_dist, nearest = dist.min(dim=1)
    hq = min_dist < threshold
    counts = torch.bincount(nearest[hq], minlength=k).double()  # (K,)

    n_hq = float(counts.sum())
    if n_hq == 0:
        reverse_kl = math.log(k)
    else:
        p = counts / n_hq
        nz = p > 0  # 0 log 0 = 0
        # Clamped: rounding can leave -1e-17 where the exact value is 0 (uniform coverage).
        reverse_kl = max(0.0, float((p[nz] * torch.log(k * p[nz])).sum()))
    return {
        "modes_captured": float((counts > 0).sum()),
        "high_quality_pct": 100.0 * n_hq / len(fake),
        "reverse_kl": reverse_kl,
        "mode_tv": 1.0 - float(torch.clamp(counts / len(fake), max=1.0 / k).sum()),
    }
