"""Seeded float64 samples shared by the metric tests."""

import math

import torch


def randn(*shape, seed):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def ring_samples(n, modes, seed, radius=2.0, std=0.05):
    """n samples spread evenly over the listed modes of an 8-Gaussian ring."""
    idx = torch.tensor(modes).repeat(n // len(modes) + 1)[:n]
    angle = 2 * math.pi * idx.double() / 8
    return radius * torch.stack([angle.cos(), angle.sin()], dim=1) + std * randn(n, 2, seed=seed)
