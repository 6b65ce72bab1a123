"""Mixtures of isotropic 2-D Gaussians: the ring and the grid, the standard mode-collapse benchmarks.

Ring: K modes equally spaced on a circle, mode k at radius * (cos(2 pi k / K), sin(2 pi k / K)).
Grid: side x side modes centred on the origin, spacing apart; side=5, spacing=2 gives {-4, -2, 0, 2, 4}^2.
A sample picks a mode k uniformly, then x = mu_k + std * eps, eps ~ N(0, I_2); its label is k.

The defaults (ring: radius 1, std 0.01; grid: 25 modes, spacing 2, std 0.05) are those of VEEGAN
(Srivastava et al. 2017, arXiv:1705.07761) and PacGAN (Lin et al. 2018, arXiv:1712.04086), whose mode-coverage
metric counts a sample as high-quality within 3 std of a mode; `modes` and `mode_std` carry what it needs.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ganctl.data.base import Dataset
from ganctl.data.prepare import (
    require_non_negative_float,
    require_positive_float,
    require_positive_int,
    require_seed,
)


def ring(
    n_modes: int = 8,
    radius: float = 1.0,
    std: float = 0.01,
    n_train: int = 100_000,
    n_test: int = 10_000,
    seed: int = 0,
) -> Dataset:
    """`n_modes` Gaussians on a circle of `radius`; name "ring<n_modes>"."""
    n_modes = require_positive_int("n_modes", n_modes)
    radius = require_positive_float("radius", radius)
    # Angles and cos/sin in float64, rounded once to float32: the centres are as exact as float32 allows.
    angles = 2 * math.pi * np.arange(n_modes) / n_modes
    centres = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)  # (K, 2)
    return _mixture(f"ring{n_modes}", torch.from_numpy(centres).to(torch.float32), std, n_train, n_test, seed)


def grid(
    side: int = 5,
    spacing: float = 2.0,
    std: float = 0.05,
    n_train: int = 100_000,
    n_test: int = 10_000,
    seed: int = 0,
) -> Dataset:
    """`side` x `side` Gaussians on a square grid centred on the origin; name "grid<side*side>".

    Mode k = i * side + j sits at (c_i, c_j), c_i = (i - (side - 1) / 2) * spacing.
    """
    side = require_positive_int("side", side)
    spacing = require_positive_float("spacing", spacing)
    coordinates = (torch.arange(side, dtype=torch.float64) - (side - 1) / 2) * spacing
    x, y = torch.meshgrid(coordinates, coordinates, indexing="ij")
    centres = torch.stack([x.reshape(-1), y.reshape(-1)], dim=1).to(torch.float32)  # (side*side, 2)
    return _mixture(f"grid{side * side}", centres, std, n_train, n_test, seed)


def _mixture(name: str, centres: torch.Tensor, std, n_train, n_test, seed) -> Dataset:
    std = require_non_negative_float("std", std)
    n_train = require_positive_int("n_train", n_train)
    n_test = require_positive_int("n_test", n_test)
    seed = require_seed(seed)
    # Train and test come from two generators seeded from (seed, 0) and (seed, 1): independent samples, and
    # the test set does not change when n_train does (drawing both from one stream would shift it).
    train, train_labels = _sample(centres, std, n_train, _generator(seed, stream=0))
    test, test_labels = _sample(centres, std, n_test, _generator(seed, stream=1))
    return Dataset(name=name, train=train, test=test, train_labels=train_labels, test_labels=test_labels,
                   modes=centres, mode_std=std)


def _generator(seed: int, stream: int) -> torch.Generator:
    # SeedSequence hashes (seed, stream) into one 64-bit seed. Seeding the streams with seed and seed + 1
    # instead would make seed=0's test set the training set of seed=1.
    state = np.random.SeedSequence([int(seed) % 2**64, stream]).generate_state(1, dtype=np.uint64)[0]
    return torch.Generator().manual_seed(int(state))


def _sample(centres: torch.Tensor, std: float, n: int, generator: torch.Generator):
    labels = torch.randint(len(centres), (n,), generator=generator, dtype=torch.int64)
    noise = torch.randn(n, centres.shape[1], generator=generator, dtype=torch.float32)
    return (centres[labels] + std * noise).contiguous(), labels
