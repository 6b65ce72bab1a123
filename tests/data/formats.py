"""Writers of tiny files in the real on-disk formats, written byte by byte from the format specifications
(not with the readers under test), so that the tests check the readers against the formats themselves."""

from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np

# IDX type codes (http://yann.lecun.com/exdb/mnist/, bottom of the page)
IDX_TYPE_CODES = {np.dtype("u1"): 0x08, np.dtype("i1"): 0x09, np.dtype("i2"): 0x0B, np.dtype("i4"): 0x0C,
                  np.dtype("f4"): 0x0D, np.dtype("f8"): 0x0E}


def idx_bytes(array: np.ndarray) -> bytes:
    """magic (0, 0, type code, n dims), n big-endian uint32 sizes, then the values big-endian, row-major."""
    code = IDX_TYPE_CODES[array.dtype.newbyteorder("=")]
    header = struct.pack(">BBBB", 0, 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=array.dtype.newbyteorder(">")).tobytes()


def write_mnist_folder(folder: Path, train_images, train_labels, test_images, test_labels, gzipped=()) -> None:
    """The four MNIST files; the file names listed in `gzipped` are written gzip-compressed with a .gz suffix."""
    folder.mkdir(parents=True, exist_ok=True)
    contents = {
        "train-images-idx3-ubyte": idx_bytes(np.asarray(train_images, dtype=np.uint8)),
        "train-labels-idx1-ubyte": idx_bytes(np.asarray(train_labels, dtype=np.uint8)),
        "t10k-images-idx3-ubyte": idx_bytes(np.asarray(test_images, dtype=np.uint8)),
        "t10k-labels-idx1-ubyte": idx_bytes(np.asarray(test_labels, dtype=np.uint8)),
    }
    for name, data in contents.items():
        if name in gzipped:
            (folder / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (folder / name).write_bytes(data)


class Python2Pickler(pickle._Pickler):
    """Protocol 2 as Python 2's cPickle wrote the CIFAR-10 files: every `str` (dict keys, numpy's dtype
    arguments) and every byte string is a Python 2 `str`, i.e. a SHORT_BINSTRING/BINSTRING opcode. Python 3's
    own protocol 2 would write bytes as calls to _codecs.encode instead, which real files never contain."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2_str(self, obj):
        data = obj.encode("latin-1") if isinstance(obj, str) else bytes(obj)
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    dispatch[str] = save_py2_str
    dispatch[bytes] = save_py2_str


def python2_pickle(obj, numpy_module: str = "numpy.core.multiarray") -> bytes:
    """`obj` pickled like a 2009 CIFAR-10 batch; numpy 2 writes numpy._core, the real files say numpy.core."""
    import io

    buffer = io.BytesIO()
    Python2Pickler(buffer, protocol=2).dump(obj)
    # Protocol 2 names globals as text lines ("c<module>\n<name>\n"), so the module can be swapped in place.
    return buffer.getvalue().replace(b"cnumpy._core.multiarray\n", f"c{numpy_module}\n".encode())


def cifar_batch(pixels: np.ndarray, labels: list[int]) -> dict:
    """The dict of one CIFAR-10 batch, with the keys the real files have."""
    return {
        b"batch_label": b"training batch 1 of 5",
        b"labels": list(labels),
        b"data": np.asarray(pixels, dtype=np.uint8),
        b"filenames": [f"img_{k}.png".encode() for k in range(len(labels))],
    }


def write_cifar_folder(folder: Path, train_batches: list[tuple[np.ndarray, list[int]]], test_batch) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for k, (pixels, labels) in enumerate(train_batches, start=1):
        (folder / f"data_batch_{k}").write_bytes(python2_pickle(cifar_batch(pixels, labels)))
    (folder / "test_batch").write_bytes(python2_pickle(cifar_batch(*test_batch)))
