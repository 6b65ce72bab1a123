"""One set of samples from a path, whatever its format, for `ganctl evaluate --real PATH --fake PATH`.

The format is told by the path: a folder is a folder of images (image_folder.read_images; greyscale when every
file is, else RGB), a .npy/.npz file an array (arrays.read_array), anything else an IDX file such as MNIST's
t10k-images-idx3-ubyte[.gz] (idx.idx_images). Every sample is kept, in file order, with no train/test split;
labels are not read.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ganctl.data.arrays import read_array
from ganctl.data.idx import idx_images
from ganctl.data.image_folder import read_images
from ganctl.errors import UserError

FORMATS = "a folder of images, a .npy/.npz array or an IDX file (e.g. MNIST's t10k-images-idx3-ubyte)"


def read_samples(path: str | Path) -> torch.Tensor:
    """Every sample at `path` (module docstring): images (N, C, H, W) in [-1, 1], or float points (N, d)."""
    target = Path(path).expanduser().absolute()
    if target.is_dir():
        return read_images(target, channels=None, data_keys=False)[0]
    if not target.is_file():
        raise UserError(f"{target} does not exist; expected {FORMATS}")
    if target.suffix.lower() in (".npy", ".npz"):
        return read_array(target)[0]
    try:
        return idx_images(target)
    except UserError as error:
        raise UserError(f"{target} is not {FORMATS}: {error}") from None
