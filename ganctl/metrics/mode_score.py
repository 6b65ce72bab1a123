"""MODE score: the Inception Score with a penalty for a label marginal that differs from the real data's.

Che, Li, Jacob, Bengio, Li 2017, "Mode regularized generative adversarial networks", ICLR, arXiv:1612.02136;
compared with other metrics by Xu, Huang, Yuan, Guo, Sun, Wu, Weinberger 2018, arXiv:1806.07755.

p(y|x_j): a classifier's class probabilities for generated sample x_j (j = 1..m, `probs`), p(y) = 1/m sum_j
p(y|x_j) their marginal; p*(y) = 1/n sum_i p(y|x*_i), the marginal over real samples x*_i (i = 1..n,
`real_probs`):
    MODE = exp(1/m sum_j KL(p(y|x_j) || p(y)) - KL(p*(y) || p(y)))
Higher is better. The first term is log IS (one chunk, no splits); the penalty is 0 iff the generated label
marginal equals the real one and grows as classes of the real data become rare in the generated set (+inf,
so MODE = 0, when a class present in the real data never appears). MODE lies in [0, number of classes].
0 log 0 = 0 (torch.xlogy). Computed in float64 on the inputs' device.

Direction of the penalty: KL(p*(y) || p(y)), real marginal first, as ganctl's issue 5 specifies it. Xu
et al.'s code (https://github.com/xuqiantong/GAN-Metrics, framework/metric.py, mode_score) subtracts the reverse,
KL(p(y) || p*(y)), and adds 1e-20 inside its logarithms; the two agree when the marginals are equal and differ
otherwise.

The inputs are class probabilities, not feature matrices, hence their names: the engine passes `probs` and
`real_probs` (the softmax of ganctl's classifier or of the Inception network) when metrics.features is
classifier or inception, and skips the metric with raw features. Keyword-only, so the two sets cannot be swapped.
"""

import math

import torch

from ganctl.errors import UserError
from ganctl.metrics.inception_score import check_probs, mean_kl_to_marginal


def mode_score(*, real_probs, probs) -> float:
    """MODE score of generated class probabilities `probs` (m, K) against real ones `real_probs` (n, K) (module
    docstring)."""
    real, fake = check_probs("mode_score", real_probs), check_probs("mode_score", probs)
    if real.shape[1] != fake.shape[1]:
        raise UserError(f"mode_score needs real and fake probabilities over the same K classes, got "
                        f"{real.shape[1]} and {fake.shape[1]}")
    p_fake, p_real = fake.mean(dim=0), real.to(fake.device).mean(dim=0)  # (K,) marginals p(y), p*(y)
    penalty = float((torch.xlogy(p_real, p_real) - torch.xlogy(p_real, p_fake)).sum())  # KL(p* || p), maybe inf
    return math.exp(float(mean_kl_to_marginal(fake, p_fake)) - penalty)
