"""Small pieces shared by the networks: data_shape checks and the one place that maps a norm name to a layer.

The "layer" choice exists for WGAN-GP (Gulrajani et al. 2017, arXiv:1704.00028, Sec. 4): its gradient
penalty is taken per sample, so the critic must not couple samples in a batch the way batch norm does;
the paper suggests layer normalisation as the drop-in replacement.
"""

import torch
from torch import nn

from ganctl.errors import UserError

NORMS = ("none", "batch", "layer")


def check_norm(norm: str) -> str:
    """Return norm if it is one of NORMS, else raise a one-line UserError listing the choices."""
    if norm not in NORMS:
        raise UserError(f"unknown norm {norm!r}: choose one of {', '.join(NORMS)} (e.g. model.discriminator.norm=none)")
    return norm


def make_norm(norm: str, features: int, kind: str) -> nn.Module:
    """A normalisation layer over `features` units ("1d": a vector) or channels ("2d": a feature map).

    "none" is an Identity, so callers build the same layer list whatever the choice.
    """
    check_norm(norm)
    if kind not in ("1d", "2d"):
        raise ValueError(f"kind must be '1d' or '2d', got {kind!r}")  # a programming error, not user input
    if norm == "none":
        return nn.Identity()
    if norm == "batch":
        return nn.BatchNorm1d(features) if kind == "1d" else nn.BatchNorm2d(features)
    if kind == "1d":
        return nn.LayerNorm(features)
    # Layer norm of a feature map: GroupNorm with one group normalises each sample over all of (C, H, W),
    # exactly the statistics of LayerNorm([C, H, W]), but it needs only C at construction (so this helper
    # stays size-free) and keeps a per-channel affine like batch norm instead of one weight per pixel.
    return nn.GroupNorm(1, features)


def check_data_shape(data_shape) -> tuple[int, ...]:
    """Return data_shape as a tuple of positive ints: (d,) for points or (C, H, W) for images."""
    try:
        shape = tuple(int(s) for s in data_shape)
    except (TypeError, ValueError):
        shape = ()
    if len(shape) not in (1, 3) or min(shape) < 1:
        raise UserError(f"data_shape must be (d,) for points or (C, H, W) for images, got {data_shape!r}; check the data config")
    return shape


def is_image(data_shape: tuple[int, ...]) -> bool:
    return len(data_shape) == 3


def numel(data_shape: tuple[int, ...]) -> int:
    return torch.Size(data_shape).numel()


def check_outputs(outputs: int) -> int:
    if outputs < 1:
        raise UserError(f"a discriminator needs outputs >= 1, got {outputs}")
    return outputs


def squeeze_single(scores: torch.Tensor) -> torch.Tensor:
    """(B, 1) -> (B,): one score per sample, the shape every GAN loss expects; (B, k) stays as it is."""
    return scores.squeeze(1) if scores.shape[1] == 1 else scores
