"""Class coverage: how the generated samples spread over a labelled data set's classes, read by a classifier.

For a single-label data set with K classes (Fashion-MNIST, digits, CIFAR-10), mode collapse shows as classes the
generator rarely or never produces. With p(y|x_i) the classifier's probabilities for generated sample x_i
(i = 1..n) and y_i = argmax_y p(y|x_i) its label:
    share_k = #{i : y_i = k} / n                              (k = 1..K)
    classes_covered   = #{k : share_k > 0}                    in [0, K], higher is better
    class_min_pct     = 100 min_k share_k                     in [0, 100 / K]; 100 / K when the classes are even
    class_kl          = KL(share || uniform_K) = sum_k share_k log(K share_k)   in nats, in [0, log K], lower is
                        better; 0 iff every class holds n / K samples. 0 log 0 = 0.
The single-label form of the Stacked MNIST count (stacked_mnist_modes.py: argmax labels, KL to uniform, as in
PacGAN's reference code) and of the Mode Score's marginal term (mode_score.py, which uses the probabilities'
mean instead of argmax counts). It assumes the real classes are even, as in Fashion-MNIST, MNIST and CIFAR-10;
on an uneven set compare with the real test set's own figures. The classifier's errors count as the
generator's: score the real test set the same way for the reference.
"""

import math

import torch

from ganctl.metrics.inception_score import check_probs


def class_coverage(*, probs) -> dict:
    """{"classes_covered", "class_min_pct", "class_kl"} of class probabilities `probs` (n, K) (module docstring)."""
    probs = check_probs("class_coverage", probs)
    n, k = probs.shape
    share = torch.bincount(probs.argmax(dim=1), minlength=k).double() / n  # (K,)
    kl = float(torch.xlogy(share, k * share).sum())
    return {"classes_covered": float((share > 0).sum()), "class_min_pct": 100 * float(share.min()),
            "class_kl": min(max(kl, 0.0), math.log(k))}  # rounding can leave -1e-17 for an exactly even share
