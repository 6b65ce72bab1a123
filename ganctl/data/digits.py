"""scikit-learn's bundled 8x8 handwritten digits (1,797 images, UCI optdigits test set): a real image data set
that needs no download, small enough for a CPU run or a test.

Pixels are counts 0..16 (how many of a 4x4 block's bits were set in the original 32x32 bitmap), scaled to
[-1, 1] as x / 16 * 2 - 1. The format has no test split, so a seeded permutation holds out `test_fraction`.
"""

from __future__ import annotations

import torch
from sklearn.datasets import load_digits

from ganctl.data.base import Dataset
from ganctl.data.prepare import require_fraction, seeded_split


def digits(test_fraction: float = 0.2, seed: int = 0) -> Dataset:
    """(N, 1, 8, 8) images in [-1, 1] with their digit labels 0..9."""
    test_fraction = require_fraction(test_fraction)
    bunch = load_digits()
    counts = torch.from_numpy(bunch.images).to(torch.float32)  # (1797, 8, 8), values 0..16
    images = (counts / 8.0 - 1.0).unsqueeze(1).contiguous()  # (N, 8, 8) -> (N, 1, 8, 8); x/8 - 1 = x/16*2 - 1
    labels = torch.from_numpy(bunch.target).to(torch.int64)
    train, test, train_labels, test_labels = seeded_split(images, labels, test_fraction, seed, "digits")
    return Dataset(name="digits", train=train, test=test, train_labels=train_labels, test_labels=test_labels)
