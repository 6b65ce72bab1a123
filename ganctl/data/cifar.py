"""CIFAR-10, python version (Krizhevsky 2009, https://www.cs.toronto.edu/~kriz/cifar.html), read without
letting the pickle files run code.

The unpacked cifar-10-python.tar.gz is a folder `cifar-10-batches-py/` holding data_batch_1 ... data_batch_5
(10,000 training images each) and test_batch (10,000). Each is a Python 2 pickle of a dict whose b"data" is a
(10000, 3072) uint8 array, each row the 1024 red, then green, then blue pixels of a 32x32 image in row-major
order, and whose b"labels" is a list of 10,000 ints in 0..9.

Plain `pickle.load` on a downloaded file executes whatever callable the file names. `NumpyOnlyUnpickler`
resolves only the few numpy constructors an array needs and refuses every other global with UserError, so a
tampered file fails before anything runs.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np
import torch

from ganctl.data.base import Dataset
from ganctl.data.prepare import pixels_to_unit_range
from ganctl.errors import UserError, one_line

TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
FOLDER_NAME = "cifar-10-batches-py"  # what the official archive unpacks to
CLASSES = 10

_EXPECTED = (f"a CIFAR-10 folder ({FOLDER_NAME}, unpacked from cifar-10-python.tar.gz at "
             f"https://www.cs.toronto.edu/~kriz/cifar.html) holds {', '.join(TRAIN_BATCHES)} and {TEST_BATCH}")


def _numpy_array_constructors() -> dict[tuple[str, str], object]:
    """(module, name) -> object for every global a pickled ndarray may name, under numpy 1 or 2 spellings."""
    try:
        from numpy._core import multiarray, numeric
    except ImportError:  # older numpy has only numpy.core
        from numpy.core import multiarray, numeric
    allowed = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}
    # numpy 2 renamed numpy.core to numpy._core; the real CIFAR files (2009) say numpy.core.
    for package in ("numpy.core", "numpy._core"):
        allowed[(f"{package}.multiarray", "_reconstruct")] = multiarray._reconstruct
        # Under pickle protocol 5 (Python 3.14's default) numpy stores a contiguous array as
        # _frombuffer(bytes, dtype, shape, order) instead; it only views bytes, as harmless as _reconstruct.
        if hasattr(numeric, "_frombuffer"):
            allowed[(f"{package}.numeric", "_frombuffer")] = numeric._frombuffer
    return allowed


class NumpyOnlyUnpickler(pickle.Unpickler):
    """An unpickler that can rebuild numpy arrays, dicts, lists, strings and numbers, and nothing else."""

    ALLOWED = _numpy_array_constructors()

    def __init__(self, file, source: str):
        # encoding="bytes": Python 2 `str` (the dict keys and the array payloads) becomes bytes, unchanged.
        super().__init__(file, encoding="bytes")
        self.source = source

    def find_class(self, module: str, name: str):
        try:
            return self.ALLOWED[(module, name)]
        except KeyError:
            raise UserError(f"{self.source} asks to load {module}.{name}, which a CIFAR-10 batch never needs; "
                            "refusing to unpickle it (the file may be tampered with): download it again") from None


def cifar10(path: str | Path) -> Dataset:
    """The 50,000 training and 10,000 test images, (N, 3, 32, 32) in [-1, 1], with int64 labels 0..9.

    `path` is the cifar-10-batches-py folder itself or a folder that contains it.
    """
    folder = Path(path).expanduser().absolute()
    if not folder.is_dir():
        raise UserError(f"data folder {folder} does not exist; {_EXPECTED}; set data.path=/path/to/{FOLDER_NAME}")
    if not (folder / TRAIN_BATCHES[0]).exists() and (folder / FOLDER_NAME).is_dir():
        folder = folder / FOLDER_NAME
    train_batches = [_read_batch(folder / name) for name in TRAIN_BATCHES]
    test_images, test_labels = _read_batch(folder / TEST_BATCH)
    train_images = np.concatenate([images for images, _ in train_batches])
    train_labels = np.concatenate([labels for _, labels in train_batches])
    return Dataset(
        name="cifar10",
        train=_to_images(train_images),
        test=_to_images(test_images),
        train_labels=torch.from_numpy(train_labels),
        test_labels=torch.from_numpy(test_labels),
    )


def read_pickle(file: Path) -> object:
    """Unpickle `file` with `NumpyOnlyUnpickler`; any failure is a UserError naming the file."""
    try:
        data = file.read_bytes()
    except FileNotFoundError:
        raise UserError(f"{file} not found; {_EXPECTED}; set data.path to that folder") from None
    except OSError as error:
        raise UserError(f"cannot read {file}: {error.strerror or error}") from None
    try:
        return NumpyOnlyUnpickler(io.BytesIO(data), source=str(file)).load()
    except UserError:
        raise
    # A corrupt or truncated pickle can fail in many ways (EOFError, UnpicklingError, ValueError from numpy,
    # TypeError from a constructor fed wrong arguments ...); all mean the same thing to the user.
    except Exception as error:
        detail = one_line(error)
        raise UserError(f"{file} is not a readable CIFAR-10 batch ({detail}); download it again") from None


def _read_batch(file: Path) -> tuple[np.ndarray, np.ndarray]:
    """(N, 3072) uint8 pixels and (N,) int64 labels of one batch file."""
    batch = read_pickle(file)
    if not isinstance(batch, dict):
        raise UserError(f"{file} holds a {type(batch).__name__}, not the dict of a CIFAR-10 batch; "
                        "download it again")
    pixels, labels = _entry(batch, "data", file), _entry(batch, "labels", file)
    if not (isinstance(pixels, np.ndarray) and pixels.dtype == np.uint8 and pixels.shape[1:] == (3072,)):
        raise UserError(f"{file}: 'data' should be a uint8 array of shape (N, 3072), "
                        f"got {_describe(pixels)}; is this the python version of CIFAR-10?")
    try:
        labels = np.asarray(labels)
    except Exception:  # ragged or odd objects: reported below like any other wrong labels
        labels = np.asarray([])
    if labels.dtype.kind not in "iu" or labels.shape != (len(pixels),):
        raise UserError(f"{file}: 'labels' should be {len(pixels)} integers, one per image, "
                        f"got {_describe(labels)}")
    # Checked here because a negative label only fails later, deep inside training a classifier.
    if len(labels) and (labels.min() < 0 or labels.max() >= CLASSES):
        raise UserError(f"{file}: 'labels' should be CIFAR-10 classes 0..{CLASSES - 1}, got values from "
                        f"{labels.min()} to {labels.max()}; download it again")
    return pixels, labels.astype(np.int64)


def _entry(batch: dict, key: str, file: Path):
    # Real files have bytes keys (Python 2 str read with encoding="bytes"); files re-pickled by Python 3 may
    # have str keys.
    for candidate in (key.encode(), key):
        if candidate in batch:
            return batch[candidate]
    keys = ", ".join(repr(k) for k in batch)
    raise UserError(f"{file} has no '{key}' entry (keys: {keys}); is this the python version of CIFAR-10?")


def _describe(value) -> str:
    if isinstance(value, np.ndarray):
        return f"{value.dtype.name} array of shape {value.shape}"
    return type(value).__name__


def _to_images(pixels: np.ndarray) -> torch.Tensor:
    return pixels_to_unit_range(pixels.reshape(-1, 3, 32, 32))  # (N, 3072) -> (N, 3, 32, 32): R, G, B planes
