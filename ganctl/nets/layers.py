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


class ImageOutputConvTranspose2d(nn.ConvTranspose2d):
    """nn.ConvTranspose2d for a generator's last layer, made fast on the CPU for a one-channel image.

    The same function and parameters as nn.ConvTranspose2d (state dicts are interchangeable), computed as
        columns = W^T x          (kH * kW, C_in) @ (B, C_in, H * W) -> (B, kH * kW, H * W), per image
        y = fold(columns) + b    col2im: each input pixel's kH x kW patch, summed where patches overlap
    Why: on the CPU, PyTorch hands a transposed convolution to oneDNN, whose kernel into one channel is slow. On
    the DCGAN generator's 64 -> 1 layer at 14 -> 28, batch 64 (AMD EPYC, 2 threads, torch 2.13.0+cpu) it took
    6.7 ms forward and 10.7 ms forward and backward, against 0.7 and 2.8 ms for the products and fold here
    (`benchmarks/train_speed.py --layers`; docs/performance.md). Into 3 channels (64 -> 3 at 16 -> 32) oneDNN's
    forward and backward were as fast or faster, so colour images, other devices, groups, dilation and output
    padding take nn.ConvTranspose2d's own path.
    """

    def forward(self, x: torch.Tensor, output_size=None) -> torch.Tensor:
        plain = (self.groups, self.dilation, self.output_padding) == (1, (1, 1), (0, 0)) and self.padding_mode == "zeros"
        if x.device.type != "cpu" or x.dim() != 4 or self.out_channels != 1 or output_size is not None or not plain:
            return super().forward(x, output_size)
        batch, _, height, width = x.shape
        (k_h, k_w), (s_h, s_w), (p_h, p_w) = self.kernel_size, self.stride, self.padding
        size = ((height - 1) * s_h - 2 * p_h + k_h, (width - 1) * s_w - 2 * p_w + k_w)
        # One small product per image (bmm of W^T broadcast over the batch): torch.matmul would fold the batch
        # into rows and hand back transposed columns, whose gradient then crawls through the layers before.
        weight_t = self.weight.flatten(1).t().unsqueeze(0).expand(batch, -1, -1)  # (B, kH*kW, C_in)
        columns = torch.bmm(weight_t, x.flatten(2))  # (B, kH*kW, H*W)
        y = nn.functional.fold(columns, size, self.kernel_size, padding=self.padding, stride=self.stride)
        return y if self.bias is None else y + self.bias.view(1, -1, 1, 1)
