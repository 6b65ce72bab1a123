"""read_samples: one path in any of the three formats gives every sample, in file order, as the loaders scale it."""

import gzip

import numpy as np
import pytest
import torch
from PIL import Image

from ganctl.data.files import read_samples
from ganctl.errors import UserError
from tests.data.formats import idx_bytes


def test_read_samples_gives_the_same_images_from_idx_array_and_folder(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, (5, 6, 7), dtype=np.uint8)  # (N, H, W)
    expected = torch.from_numpy(pixels[:, None].astype(np.float32)) / 127.5 - 1  # (N, 1, H, W) in [-1, 1]
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(pixels)))
    np.savez(tmp_path / "x.npz", x=pixels)
    (tmp_path / "grey").mkdir()
    (tmp_path / "rgb").mkdir()
    for i, image in enumerate(pixels):
        Image.fromarray(image, mode="L").save(tmp_path / "grey" / f"{i}.png")
        Image.fromarray(np.stack([image] * 3, axis=-1), mode="RGB").save(tmp_path / "rgb" / f"{i}.png")
    for name in ("t10k-images-idx3-ubyte.gz", "x.npz", "grey"):
        assert torch.equal(read_samples(tmp_path / name), expected), name
    assert torch.equal(read_samples(tmp_path / "rgb"), expected.expand(-1, 3, -1, -1))  # RGB files: 3 channels


def test_read_samples_names_the_formats_for_a_foreign_or_missing_path(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    for path, message in ((tmp_path / "notes.txt", "is not a folder of images"), (tmp_path / "none", "does not exist")):
        with pytest.raises(UserError, match=message) as error:
            read_samples(path)
        assert ".npy/.npz" in str(error.value) and "IDX" in str(error.value)
