"""Pictures of samples: a grid for images, a density image for 2-D points. Plain numpy + Pillow."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image


def image_grid(images: torch.Tensor, columns: int | None = None, pad: int = 2, min_side: int = 32) -> np.ndarray:
    """(N, C, H, W) in [-1, 1] -> (rows*(H+pad)+pad, cols*(W+pad)+pad, 3) uint8. Images smaller than
    `min_side` are enlarged by pixel repetition (8x8 digits are otherwise too small to see)."""
    images = images.detach().float().cpu().clamp(-1, 1)
    if images.shape[-1] < min_side:
        scale = math.ceil(min_side / images.shape[-1])
        images = images.repeat_interleave(scale, dim=-2).repeat_interleave(scale, dim=-1)
    n, c, h, w = images.shape
    columns = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    pixels = ((images + 1) * 127.5).round().to(torch.uint8)
    if c == 1:
        pixels = pixels.expand(n, 3, h, w)
    grid = np.zeros((rows * (h + pad) + pad, columns * (w + pad) + pad, 3), dtype=np.uint8)
    for i in range(n):
        r, col = divmod(i, columns)
        top, left = pad + r * (h + pad), pad + col * (w + pad)
        grid[top : top + h, left : left + w] = pixels[i].permute(1, 2, 0).numpy()  # (C, H, W) -> (H, W, C)
    return grid


def density_image(points: torch.Tensor, modes: torch.Tensor | None = None, size: int = 400,
                  extent: float | None = None) -> np.ndarray:
    """A 2-D histogram of the points on a square around the origin, returned as (size, size, 3) uint8.

    Any occupied pixel is at least mid-grey and the rest is log-scaled, so that a few stray samples between
    modes stay visible next to dense modes. True mode centres are ringed in red (rings, not crosses, so the
    samples on a mode stay visible).
    """
    xy = points.detach().double().cpu().numpy()[:, :2]
    if extent is None:
        reference = modes.double().cpu().numpy() if modes is not None else xy
        extent = 1.25 * float(np.abs(reference).max()) + 0.25
    counts, _, _ = np.histogram2d(xy[:, 1], xy[:, 0], bins=size, range=[[-extent, extent], [-extent, extent]])
    counts = counts[::-1]  # row 0 is the top of the picture: largest y
    level = np.where(counts > 0, 0.45 + 0.55 * np.log1p(counts) / max(np.log1p(counts).max(), 1e-12), 0.0)
    gray = (255 * (1 - level)).astype(np.uint8)  # white background, black where samples are densest
    picture = np.stack([gray, gray, gray], axis=-1)
    if modes is not None:
        rows, cols = np.mgrid[0:size, 0:size]
        for mx, my in modes.double().cpu().numpy()[:, :2]:
            col = (mx + extent) / (2 * extent) * (size - 1)
            row = (extent - my) / (2 * extent) * (size - 1)
            ring = np.abs(np.hypot(rows - row, cols - col) - 7) < 0.8
            picture[ring] = (220, 30, 30)
    return picture


def sample_picture(samples: torch.Tensor, modes: torch.Tensor | None = None) -> np.ndarray:
    """The picture that fits the data: a grid of at most 64 images, or a 2-D density image."""
    if samples.dim() == 4:
        return image_grid(samples[:64])
    return density_image(samples, modes)


def save_png(picture: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(picture).save(path)
