"""Gradient penalties shared by methods: WGAN-GP interpolates real and fake, DRAGAN perturbs real data."""

import torch
from torch import Tensor, nn


def gradient_penalty(d: nn.Module, points: Tensor, target_norm: float = 1.0) -> Tensor:
    """E[(||grad_x D(x)||_2 - target_norm)^2] over the given points, differentiable w.r.t. D's parameters."""
    points = points.detach().requires_grad_(True)
    scores = d(points)
    (grad,) = torch.autograd.grad(scores.sum(), points, create_graph=True)
    # One norm per score: per sample, or per pack of m samples when D judges packs (model.pack=m)
    norms = grad.reshape(scores.shape[0], -1).norm(2, dim=1)  # (B, ...) -> (B,)
    return (norms - target_norm).square().mean()


def interpolates(real: Tensor, fake: Tensor) -> Tensor:
    """x_hat = eps * x + (1 - eps) * G(z), eps ~ U[0, 1] once per sample (Gulrajani et al. 2017)."""
    eps = torch.rand((real.shape[0],) + (1,) * (real.dim() - 1), device=real.device, dtype=real.dtype)
    return eps * real + (1 - eps) * fake


def perturbed(real: Tensor, scale: float = 0.5) -> Tensor:
    """x_p = x + scale * std(x) * u, u ~ U[0, 1) per element: DRAGAN's noisy copy of the real batch.

    Kodali et al. 2017 (arXiv:1705.07215), as the authors' code does it (kodalinaveen3/DRAGAN, DRAGAN.ipynb:
    `minibatch + 0.5 * minibatch.std() * np.random.random(minibatch.shape)`): std(x) is ONE number, the
    population std (numpy's default ddof=0) over every element of the batch tensor, not a per-dimension std.
    """
    std = real.detach().std(correction=0)  # () over all of (B, ...): numpy's x.std() with no axis
    return real + scale * std * torch.rand_like(real)
