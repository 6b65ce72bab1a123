"""A data set saved by numpy itself: one .npy array, or an .npz archive with samples and optionally labels.

The dtype says what the array is:
- uint8 arrays are images with values 0..255, scaled to [-1, 1]: (N, H, W) -> (N, 1, H, W); (N, H, W, C) with
  C in {1, 3} -> (N, C, H, W); otherwise (N, C, H, W) with C in {1, 3} is kept. The last axis is tried first,
  so an ambiguous (N, 3, W, 3) array is read as channels-last (N, H=3, W, C=3).
- floating arrays are used as they are (cast to float32): (N, d) points or (N, C, H, W) images, which should
  already lie in [-1, 1].
In an .npz the samples are `key` (default: "x", else the only array that is not the labels), the labels
`labels_key` (default: "y" if present). Files are loaded with allow_pickle=False, so they cannot run code, and
checked beyond what numpy checks: a .npy must end where its header says, an .npz must pass every member's CRC.
The formats have no test split: a seeded permutation holds out `test_fraction`.
"""

from __future__ import annotations

import os
import struct
import zipfile
from pathlib import Path

import numpy as np
import torch

from ganctl.data.base import Dataset
from ganctl.data.prepare import pixels_to_unit_range, require_fraction, seeded_split
from ganctl.errors import UserError, one_line

# The zip end-of-central-directory record (PKWARE APPNOTE 4.3.16): signature, disk numbers, member counts on this
# disk and in all, directory size and offset, comment length.
ZIP_END = struct.Struct("<4s4H2LH")
_EXPECTED = ("a .npy or .npz file of uint8 images (N, H, W), (N, H, W, C) or (N, C, H, W), "
             "or float points (N, d) or images (N, C, H, W)")


def array_file(
    path: str | Path,
    key: str | None = None,
    labels_key: str | None = None,
    test_fraction: float = 0.1,
    seed: int = 0,
) -> Dataset:
    """Samples (and labels) from a .npy or .npz file; images come back (N, C, H, W) in [-1, 1]."""
    test_fraction = require_fraction(test_fraction)
    samples, labels = read_array(path, key, labels_key)
    file = Path(path).expanduser().absolute()
    train, test, train_labels, test_labels = seeded_split(samples, labels, test_fraction, seed, str(file))
    return Dataset(name="array", train=train, test=test, train_labels=train_labels, test_labels=test_labels)


def read_array(path: str | Path, key: str | None = None, labels_key: str | None = None):
    """(samples, labels or None) of a .npy or .npz file, every sample in file order, not split (see the module
    docstring for the dtypes and shapes)."""
    file = Path(path).expanduser().absolute()
    if not file.is_file():
        raise UserError(f"array file {file} does not exist; expected {_EXPECTED}; set data.path=/path/to/file.npz")
    if file.suffix.lower() not in (".npy", ".npz"):
        raise UserError(f"{file} is neither .npy nor .npz; expected {_EXPECTED} (numpy.save or numpy.savez)")
    values, labels = _load(file, lambda loaded: _pick_arrays(loaded, key, labels_key, file))
    samples = _to_samples(values, file)
    if labels is not None:
        labels = _to_labels(labels, len(samples), file)
    return samples, labels


def _load(file: Path, pick):
    """np.load(file) handed to `pick` while the archive is open; a damaged file becomes a UserError."""
    try:
        # Our own handle: np.load(path) leaks its file when the zip directory is unreadable.
        with open(file, "rb") as handle:
            loaded = np.load(handle, allow_pickle=False)
            # numpy reads what the header declares and never looks further, so one damaged byte in a header (its
            # length, a size) would misread the file silently: check what numpy does not.
            if isinstance(loaded, np.ndarray):
                extra = os.fstat(handle.fileno()).st_size - handle.tell()
                if extra:
                    raise UserError(f"{file} is damaged: {extra} bytes follow the {loaded.dtype} array of shape "
                                    f"{loaded.shape} its header declares; save it again with numpy.save")
            else:
                _check_archive(handle, loaded.zip, file)
            # For an .npz the members are decompressed inside `pick`, so their damage is caught here too.
            return pick(loaded)
    except UserError:
        raise
    # numpy and zipfile report a truncated or damaged file as any of ValueError, OSError, EOFError,
    # zipfile.BadZipFile, zlib.error ...; all mean the same to the user.
    except Exception as error:
        detail = one_line(error)
        raise UserError(f"{file} is not a readable numpy file ({detail}); "
                        "save it again with numpy.save or numpy.savez") from None


def _check_archive(handle, archive: zipfile.ZipFile, file: Path) -> None:
    """UserError unless every member of the .npz passes its CRC and the archive lists as many members as its end
    record counts. Both cover all members, not only those picked: a damaged name or directory entry could
    otherwise hide the labels without a word."""
    bad = archive.testzip()
    if bad is not None:
        raise UserError(f"{file} is damaged: its member {bad} fails the zip checksum; save it again with numpy.savez")
    handle.seek(-ZIP_END.size, os.SEEK_END)
    signature, *_, entries, _, _, comment_length = ZIP_END.unpack(handle.read(ZIP_END.size))
    # numpy writes no archive comment, so the end record is the last 22 bytes; 0xFFFF defers to zip64.
    if signature == b"PK\x05\x06" and comment_length == 0 and entries not in (0xFFFF, len(archive.infolist())):
        raise UserError(f"{file} is damaged: its zip directory lists {len(archive.infolist())} arrays, its end "
                        f"record counts {entries}; save it again with numpy.savez")


def _pick_arrays(archive, key: str | None, labels_key: str | None, file: Path):
    """(samples, labels or None) from what np.load returned, by the defaulting rules in the module docstring.

    Decided by content, not suffix: numpy itself reads an .npz named .npy as an archive and vice versa.
    """
    if isinstance(archive, np.ndarray):
        if key is not None or labels_key is not None:
            raise UserError(f"data.key and data.labels_key apply to .npz archives only, {file} holds one array; "
                            "set them to null")
        return archive, None
    names = list(archive.files)
    listing = ", ".join(names) or "none"
    for setting, name in (("key", key), ("labels_key", labels_key)):
        if name is not None and name not in names:
            raise UserError(f"{file} has no array '{name}' (arrays: {listing}); set data.{setting} to one of them")
    labels_name = labels_key if labels_key is not None else ("y" if "y" in names and key != "y" else None)
    if key is None:
        candidates = ["x"] if "x" in names else [name for name in names if name != labels_name]
        if len(candidates) != 1:
            raise UserError(f"{file} holds arrays {listing}; set data.key to the one holding the samples "
                            "(and data.labels_key to the labels, if any)")
        key = candidates[0]
    if key == labels_name:
        raise UserError(f"data.key and data.labels_key both name '{key}' in {file}; they must differ")
    return archive[key], (archive[labels_name] if labels_name is not None else None)


def _to_samples(values: np.ndarray, file: Path) -> torch.Tensor:
    if values.ndim < 2 or 0 in values.shape:
        raise UserError(f"{file}: the samples array has shape {values.shape}; expected {_EXPECTED} with N > 0")
    if values.dtype == np.uint8:
        if values.ndim == 3:
            pixels = values[:, None]  # (N, H, W) -> (N, 1, H, W)
        elif values.ndim == 4 and values.shape[3] in (1, 3):
            pixels = values.transpose(0, 3, 1, 2)  # (N, H, W, C) -> (N, C, H, W)
        elif values.ndim == 4 and values.shape[1] in (1, 3):
            pixels = values
        else:
            raise UserError(f"{file}: a uint8 array is read as images, but shape {values.shape} is none of "
                            "(N, H, W), (N, H, W, C) or (N, C, H, W) with C = 1 or 3; store points as float")
        return pixels_to_unit_range(pixels)
    if values.dtype.kind == "f":
        if values.ndim not in (2, 4):
            raise UserError(f"{file}: a float array should be points (N, d) or images (N, C, H, W), "
                            f"got shape {values.shape}")
        samples = torch.from_numpy(np.ascontiguousarray(values, dtype=np.float32))
        if not torch.isfinite(samples).all():
            raise UserError(f"{file}: the samples contain NaN or infinity; clean the array before training")
        return samples
    raise UserError(f"{file}: samples of dtype {values.dtype} are not understood; use uint8 for images "
                    "(0..255) or float32 for points or [-1, 1] images, e.g. x.astype(np.float32)")


def _to_labels(labels: np.ndarray, n_samples: int, file: Path) -> torch.Tensor:
    if labels.dtype.kind not in "iu" or labels.shape != (n_samples,) or (labels < 0).any():
        raise UserError(f"{file}: labels should be {n_samples} non-negative integers, one per sample, got "
                        f"{labels.dtype} of shape {labels.shape}; fix them or set data.labels_key to another "
                        "array")
    return torch.from_numpy(labels.astype(np.int64))
