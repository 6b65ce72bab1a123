"""Gradient penalties shared by methods (WGAN-GP here; DRAGAN perturbs real data instead of interpolating)."""

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
