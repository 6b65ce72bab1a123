"""MNIST and Fashion-MNIST from their IDX files, plain or gzipped, and a strict reader for the IDX format.

IDX (LeCun et al., http://yann.lecun.com/exdb/mnist/): a 4-byte magic number (two zero bytes, a type code,
the number of dimensions n), then n big-endian uint32 sizes, then the values in row-major order, big-endian.
Type codes: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64.
Every malformed file (short header, unknown type, a payload that is not exactly the declared size) raises
UserError naming the file, so a half-finished download is reported instead of read as garbage.
"""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from pathlib import Path

import numpy as np
import torch

from ganctl.data.base import Dataset
from ganctl.data.prepare import pixels_to_unit_range
from ganctl.errors import UserError, one_line

IDX_TYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
MNIST_FILES = (  # the same four names for MNIST and Fashion-MNIST
    "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
GZIP_MAGIC = b"\x1f\x8b"
MAX_DIMS = 32  # numpy 1.x's limit on array dimensions (numpy 2 allows 64); real IDX files have 1 to 4

_EXPECTED = f"an MNIST-style folder holds {', '.join(MNIST_FILES)} (each plain or .gz)"


def mnist(path: str | Path, name: str = "mnist", missing: str = "") -> Dataset:
    """The four IDX files in folder `path` -> (N, 1, H, W) images in [-1, 1] with int64 labels.

    MNIST and Fashion-MNIST share file names and format; `name` tells them apart in run names. `missing`: how to get
    the set when the folder does not exist (data=fashion_mnist names Debian's package).
    """
    folder = Path(path).expanduser().absolute()
    if not folder.is_dir():
        how = missing or f"{_EXPECTED}: download them there or set data.path=/path/to/that/folder"
        raise UserError(f"data folder {folder} does not exist; {how}")
    files = [_find(folder, stem) for stem in MNIST_FILES]  # each as found: plain or .gz, named so in any error
    train_images, train_labels, test_images, test_labels = (read_idx(file) for file in files)
    train = _images(train_images, files[0])
    test = _images(test_images, files[2])
    return Dataset(
        name=name,
        train=train,
        test=test,
        train_labels=_labels(train_labels, len(train), files[1]),
        test_labels=_labels(test_labels, len(test), files[3]),
    )


def idx_images(file: str | Path) -> torch.Tensor:
    """One IDX images file (uint8 (N, H, W), plain or gzipped) -> (N, 1, H, W) in [-1, 1]."""
    return _images(read_idx(file), Path(file).absolute())


def read_idx(file: str | Path) -> np.ndarray:
    """One IDX file, plain or gzipped (recognised by content, not name), as an array in native byte order."""
    file = Path(file)
    try:
        data = file.read_bytes()
    except FileNotFoundError:
        raise UserError(f"IDX file {file.absolute()} does not exist") from None
    except OSError as error:
        raise UserError(f"cannot read IDX file {file.absolute()}: {error.strerror or error}") from None
    if data.startswith(GZIP_MAGIC):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as error:
            raise UserError(f"{file.absolute()} is a damaged gzip file ({one_line(error)}); "
                            "download it again") from None
    return parse_idx(data, str(file.absolute()))


def parse_idx(data: bytes, source: str = "IDX data") -> np.ndarray:
    """Decode the bytes of an (uncompressed) IDX file; `source` names it in error messages."""
    if len(data) < 4:
        raise UserError(f"{source} is not an IDX file: {len(data)} bytes is shorter than the 4-byte header")
    if data[0] != 0 or data[1] != 0:
        raise UserError(f"{source} is not an IDX file: it starts with 0x{data[:2].hex()}, "
                        "not the two zero bytes of the IDX magic number")
    type_code, n_dims = data[2], data[3]
    if type_code not in IDX_TYPES:
        raise UserError(f"{source} has unknown IDX type code 0x{type_code:02x}; "
                        "expected 0x08 (uint8), 0x09, 0x0b, 0x0c, 0x0d or 0x0e")
    if not 1 <= n_dims <= MAX_DIMS:
        raise UserError(f"{source} declares {n_dims} dimensions; an IDX array has 1 to {MAX_DIMS}")
    header_length = 4 + 4 * n_dims
    if len(data) < header_length:
        raise UserError(f"{source} is truncated: its header needs {header_length} bytes for {n_dims} sizes, "
                        f"the file has {len(data)}; download it again")
    shape = struct.unpack(f">{n_dims}I", data[4:header_length])
    dtype = IDX_TYPES[type_code]
    expected = math.prod(shape) * dtype.itemsize
    actual = len(data) - header_length
    if actual != expected:
        problem = "is truncated" if actual < expected else "has trailing bytes"
        raise UserError(f"{source} {problem}: its header declares shape {shape} of {dtype.name} "
                        f"({expected} bytes) but {actual} bytes follow it; download it again")
    try:
        array = np.frombuffer(data, dtype=dtype, count=math.prod(shape), offset=header_length).reshape(shape)
    except ValueError as error:  # e.g. a zero-size shape whose other sizes overflow numpy's index type
        raise UserError(f"{source} declares an unusable shape {shape}: {one_line(error)}") from None
    # astype copies: the result is writable, owns its memory and is in native byte order.
    return array.astype(dtype.newbyteorder("="))


def _find(folder: Path, stem: str) -> Path:
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    raise UserError(f"{folder / stem} (or .gz) not found; {_EXPECTED}; set data.path to the folder holding them")


def _images(array: np.ndarray, file: Path) -> torch.Tensor:
    if array.dtype != np.uint8 or array.ndim != 3 or 0 in array.shape:
        raise UserError(f"{file} should hold uint8 images of shape (N, H, W), none of them 0, "
                        f"it holds {array.dtype.name} of shape {array.shape}; is it an images file?")
    return pixels_to_unit_range(array[:, None])  # (N, H, W) -> (N, 1, H, W)


def _labels(array: np.ndarray, n_images: int, file: Path) -> torch.Tensor:
    if array.dtype.kind not in "iu" or array.shape != (n_images,):
        raise UserError(f"{file} should hold {n_images} integer labels, one per image, "
                        f"it holds {array.dtype.name} of shape {array.shape}")
    # A signed IDX type (0x09, 0x0b, 0x0c) can hold a negative label, which would only fail later, deep inside
    # training a classifier.
    if array.min() < 0:  # _images refused N = 0, so min() is defined
        raise UserError(f"{file} holds a negative label ({array.min()}); labels are class numbers 0, 1, ...")
    return torch.from_numpy(array.astype(np.int64))


