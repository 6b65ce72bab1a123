"""Steps shared by every loader between reading a file and returning a `Dataset`: argument checks that fail
with a one-line `UserError`, uint8 pixels to [-1, 1] float32, and the seeded train/test split for formats that
ship no test set."""

from __future__ import annotations

import numbers

import numpy as np
import torch

from ganctl.errors import UserError


def require_positive_int(name: str, value) -> int:
    """`value` as an int >= 1, else a UserError naming the config key `data.<name>`."""
    # bool is an int subclass: `data.n_train=true` is a typo, not 1
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise UserError(f"data.{name} must be a positive integer, got {value!r}; set e.g. data.{name}=1000")
    return int(value)


def require_non_negative_float(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0 or value == float("inf"):
        raise UserError(f"data.{name} must be a finite number >= 0, got {value!r}; set e.g. data.{name}=0.05")
    return float(value)


def require_positive_float(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0 or value == float("inf"):
        raise UserError(f"data.{name} must be a finite number > 0, got {value!r}; set e.g. data.{name}=1.0")
    return float(value)


def require_seed(value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise UserError(f"data.seed must be an integer, got {value!r}; set e.g. data.seed=0")
    return int(value)


def require_fraction(value) -> float:
    """The share of samples held out for the test set, strictly between 0 and 1."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value < 1:
        raise UserError(f"data.test_fraction must be strictly between 0 and 1, got {value!r}; "
                        "set e.g. data.test_fraction=0.1")
    return float(value)


def pixels_to_unit_range(pixels: np.ndarray) -> torch.Tensor:
    """uint8 pixels (any shape) -> contiguous float32 tensor in [-1, 1], x / 127.5 - 1.

    Exact at the ends (0 -> -1, 255 -> 1) because 255 / 127.5 = 2 is exact in float32.
    """
    if pixels.dtype != np.uint8:
        raise TypeError(f"expected uint8 pixels, got {pixels.dtype}")  # a bug in the caller, not user input
    return (torch.from_numpy(np.ascontiguousarray(pixels)).to(torch.float32) / 127.5 - 1.0).contiguous()


def seeded_split(
    x: torch.Tensor, labels: torch.Tensor | None, test_fraction: float, seed: int, source: str
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """Split N samples into (train, test, train_labels, test_labels) by a permutation drawn from `seed`.

    The test set gets round(N * test_fraction) samples, at least 1, and leaves at least 1 for training, so
    both halves are usable whatever the fraction. The same seed and N give the same split on every machine
    (torch's CPU generator is platform independent).
    """
    seed = require_seed(seed)
    n = x.shape[0]
    if n < 2:
        raise UserError(f"{source} holds {n} sample(s); a train/test split needs at least 2")
    n_test = min(max(round(n * test_fraction), 1), n - 1)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    test_index, train_index = order[:n_test], order[n_test:]
    train, test = x[train_index].contiguous(), x[test_index].contiguous()
    if labels is None:
        return train, test, None, None
    return train, test, labels[train_index].contiguous(), labels[test_index].contiguous()
