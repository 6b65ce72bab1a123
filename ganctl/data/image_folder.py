"""Any folder of image files (.png, .jpg, .jpeg, .bmp, .webp), searched recursively, as one image data set.

Labels follow torchvision's ImageFolder convention: when every image sits inside a sub-folder, the top-level
sub-folder names, sorted, are the classes 0, 1, ...; images directly in the folder carry no labels.
Every image is converted to RGB (channels=3) or greyscale (channels=1) and, when `size` is set, resized to
size x size (aspect ratio not kept). Files are read in sorted path order, then a seeded permutation holds out
`test_fraction` as the test set.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ganctl.data.base import Dataset
from ganctl.data.prepare import pixels_to_unit_range, require_fraction, require_positive_int, seeded_split
from ganctl.errors import UserError

EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
PIL_MODES = {1: "L", 3: "RGB"}
GREY_MODES = ("1", "L", "LA", "I", "I;16", "F")  # one channel of intensity (LA: plus alpha, which is dropped)


def image_folder(
    path: str | Path,
    size: int | None = None,
    channels: int = 3,
    test_fraction: float = 0.1,
    seed: int = 0,
) -> Dataset:
    """Images under `path` -> (N, channels, H, W) in [-1, 1], labels from sub-folder names where present."""
    if size is not None:
        size = require_positive_int("size", size)
    if isinstance(channels, bool) or channels not in (1, 3):
        raise UserError(f"data.channels must be 1 (greyscale) or 3 (RGB), got {channels!r}")
    test_fraction = require_fraction(test_fraction)
    images, labels = read_images(path, size, channels)
    folder = Path(path).expanduser().absolute()
    train, test, train_labels, test_labels = seeded_split(images, labels, test_fraction, seed, str(folder))
    return Dataset(name="image_folder", train=train, test=test, train_labels=train_labels, test_labels=test_labels)


def read_images(path: str | Path, size: int | None = None, channels: int | None = 3, data_keys: bool = True):
    """(images (N, C, H, W) in [-1, 1], labels or None) of every image under `path`, in sorted path order, not
    split. channels=None: 1 if every file is greyscale (PIL modes 1, L, LA, I, I;16, F), else 3.
    data_keys=False: the path did not come from data.path (e.g. `ganctl evaluate --real`), so error messages do
    not suggest setting data.path or data.size."""
    folder = Path(path).expanduser().absolute()
    accepted = ", ".join(EXTENSIONS)
    if not folder.is_dir():
        raise UserError(f"image folder {folder} does not exist; put {accepted} files there (one sub-folder per "
                        "class for labels) or set data.path=/path/to/images")
    files = _image_files(folder)
    if not files:
        fix = "set data.path=/path/to/images" if data_keys else "give a folder that holds some"
        raise UserError(f"{folder} holds no {accepted} files (searched recursively); add images or {fix}")
    labels = _labels_from_subfolders(folder, files)
    if channels is None:
        channels = 1 if all(_mode(file) in GREY_MODES for file in files) else 3
    pixels = _read_images(files, PIL_MODES[channels], size, data_keys)  # (N, H, W) or (N, H, W, 3)
    # (N, H, W) -> (N, 1, H, W); (N, H, W, 3) -> (N, 3, H, W)
    pixels = pixels[:, None] if channels == 1 else pixels.transpose(0, 3, 1, 2)
    return pixels_to_unit_range(pixels), labels


def _mode(file: Path) -> str | None:
    """The PIL mode of an image file, read from its header only; None if unreadable (_read_images says why)."""
    try:
        with Image.open(file) as image:
            return image.mode
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None


def _image_files(folder: Path) -> list[Path]:
    """Image files under `folder`, sorted by their path relative to it (the same order on every machine)."""
    files = []
    for file in folder.rglob("*"):
        relative = file.relative_to(folder)
        # Hidden entries are tool droppings (macOS "._x.jpg" resource forks, .ipynb_checkpoints), not data.
        if any(part.startswith(".") for part in relative.parts):
            continue
        if file.suffix.lower() in EXTENSIONS and file.is_file():
            files.append(file)
    return sorted(files, key=lambda file: file.relative_to(folder).as_posix())


def _labels_from_subfolders(folder: Path, files: list[Path]) -> torch.Tensor | None:
    top_levels = [file.relative_to(folder).parts[0] if file.parent != folder else None for file in files]
    if all(top is None for top in top_levels):
        return None
    if any(top is None for top in top_levels):
        loose = next(file for file, top in zip(files, top_levels) if top is None)
        raise UserError(f"{folder} mixes images at its top level ({loose.name}) with images in sub-folders; "
                        "move them into class sub-folders (labels) or all to one level (no labels)")
    classes = sorted(set(top_levels))
    index = {name: k for k, name in enumerate(classes)}
    return torch.tensor([index[top] for top in top_levels], dtype=torch.int64)


def _read_images(files: list[Path], mode: str, size: int | None, data_keys: bool = True) -> np.ndarray:
    """Decode every file to uint8 in PIL `mode`, resized to size x size if given, stacked along a new axis 0."""
    arrays, first_size = [], None
    for file in files:
        try:
            with Image.open(file) as image:
                image = image.convert(mode)
                if size is not None:
                    # Bilinear with Pillow's antialiasing when shrinking: torchvision's Resize default.
                    image = image.resize((size, size), Image.Resampling.BILINEAR)
                arrays.append(np.asarray(image, dtype=np.uint8))
        # Pillow reports unreadable files as OSError (UnidentifiedImageError, truncated data), SyntaxError
        # (broken PNG chunks), ValueError or DecompressionBombError.
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
            detail = " ".join(str(error).split()) or type(error).__name__
            raise UserError(f"{file} is not a readable image ({detail}); fix or remove it") from None
        if first_size is None:
            first_size = (files[0], arrays[0].shape)
        elif arrays[-1].shape != first_size[1]:
            (first, first_shape), shape = first_size, arrays[-1].shape
            side = min(first_shape[0], first_shape[1], shape[0], shape[1])
            fix = (f"set data.size={side} to resize every image to {side}x{side}" if data_keys else
                   f"resize them all to one size first, e.g. {side}x{side}")
            raise UserError(f"images differ in size ({first.name} is {first_shape[1]}x{first_shape[0]}, "
                            f"{file.name} is {shape[1]}x{shape[0]}); {fix}")
    return np.stack(arrays)
