"""Inception Score: how confidently and how evenly a classifier labels the generated samples.

Salimans, Goodfellow, Zaremba, Cheung, Radford, Chen 2016, "Improved techniques for training GANs", NeurIPS,
arXiv:1606.03498 (sec. 4).

p(y|x_i) (i = 1..n): a classifier's class probabilities for generated sample x_i (softmax outputs, not logits;
Inception-v3 on ImageNet's 1000 classes for the IS of the papers). The n rows are split into `splits`
consecutive chunks C_k (rows floor(k n / splits) .. floor((k+1) n / splits) - 1, k = 0..splits-1), and per chunk
    p_k(y) = 1/|C_k| sum_{i in C_k} p(y|x_i)                          (the chunk's marginal)
    IS_k = exp(1/|C_k| sum_{i in C_k} KL(p(y|x_i) || p_k(y)))
         = exp(1/|C_k| sum_{i in C_k} sum_y p(y|x_i) (log p(y|x_i) - log p_k(y)))
    is_mean = 1/splits sum_k IS_k,   is_std = sqrt(1/splits sum_k (IS_k - is_mean)^2)   (numpy std, ddof = 0)
Higher is better; each IS_k lies in [1, number of classes]: 1 when every prediction equals the marginal (no
confident label, or one label for all), the number of classes K when predictions are one-hot and spread evenly
over all K classes. is_std is the spread over chunks, not a standard error.

Conventions follow the reference code (https://github.com/openai/improved-gan, inception_score/model.py,
get_inception_score, MIT licence; nothing copied): consecutive chunks split as above, splits = 10, numpy's mean
and std over chunks. Deviation: 0 log 0 = 0 here (torch.xlogy), where the reference's part * log(part) gives nan
for a probability of exactly 0 (one-hot predictions); softmax outputs are never exactly 0 in practice, so real
Inception outputs score the same. Computed in float64 on the inputs' device.

The input is class probabilities, not a feature matrix: `metrics=[is]` (conf/metrics/is.yaml) selects it, and
the engine passes `probs` (the softmax of ganctl's classifier or of the Inception network, see
ganctl/engine/features.py) when metrics.features is classifier or inception; with raw features it is skipped.
"""

import torch

from ganctl.errors import UserError


def check_probs(name: str, probs) -> torch.Tensor:
    """probs (n, K) as float64: nonnegative rows summing to 1 (within 1e-3, float32 softmax rounding); else a
    UserError naming the likely cause (logits passed instead of probabilities)."""
    probs = torch.as_tensor(probs).detach().double()
    if probs.ndim != 2 or probs.numel() == 0:
        raise UserError(f"{name} needs class probabilities of shape (n, K), got {tuple(probs.shape)}")
    if bool((probs < 0).any()) or not torch.allclose(probs.sum(dim=1), torch.ones_like(probs[:, 0]), atol=1e-3):
        raise UserError(f"{name} needs class probabilities (nonnegative rows summing to 1); apply softmax to "
                        f"the classifier's logits first")
    return probs


def mean_kl_to_marginal(probs, marginal) -> torch.Tensor:
    """1/n sum_i KL(probs_i || marginal) with 0 log 0 = 0, as a 0-d float64 tensor."""
    return (torch.xlogy(probs, probs) - torch.xlogy(probs, marginal[None, :])).sum(dim=1).mean()


def inception_score(*, probs, splits=10) -> dict:
    """Inception Score of class probabilities probs (n, K) of generated samples, over `splits` consecutive
    chunks: {"is_mean", "is_std"} as floats (see the module docstring)."""
    probs = check_probs("inception_score", probs)
    n = len(probs)
    if not 1 <= splits <= n:
        raise UserError(f"inception_score needs 1 <= splits <= the number of samples, got splits={splits} and "
                        f"{n} samples")
    scores = []
    for k in range(splits):
        part = probs[k * n // splits : (k + 1) * n // splits]  # (|C_k|, K)
        scores.append(torch.exp(mean_kl_to_marginal(part, part.mean(dim=0))))
    scores = torch.stack(scores)
    return {"is_mean": float(scores.mean()), "is_std": float(scores.std(correction=0))}
