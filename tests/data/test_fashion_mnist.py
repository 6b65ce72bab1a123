"""data=fashion_mnist and data=stacked_fashion_mnist read Debian's dataset-fashion-mnist package by default, and say
how to get it when it is missing."""

from pathlib import Path

import numpy as np
import pytest
import torch

from ganctl.engine import build
from ganctl.errors import UserError
from tests.conftest import make_config
from tests.data.formats import write_mnist_folder

DEBIAN = Path("/usr/share/datasets/fashion-mnist")
needs_package = pytest.mark.skipif(not (DEBIAN / "train-images-idx3-ubyte.gz").is_file(),
                                   reason="Debian's dataset-fashion-mnist is not installed (make data)")


@pytest.mark.parametrize("data", ["fashion_mnist", "stacked_fashion_mnist"])
def test_missing_set_names_the_package_and_data_path(data, tmp_path):
    with pytest.raises(UserError, match="dataset-fashion-mnist.*data.path") as raised:
        build.dataset(make_config(f"data={data}", f"data.path={tmp_path / 'nowhere'}"))
    assert "\n" not in str(raised.value)


def test_a_truncated_or_wrong_file_is_one_line_naming_it(tmp_path):
    """The Debian package's .gz files, made by the test: a download cut short, and a labels file where the test
    images should be; each is one line that names the file as it lies on disk."""
    images = np.zeros((4, 28, 28), dtype=np.uint8)
    files = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
    write_mnist_folder(tmp_path, images, [0, 1, 2, 3], images, [0, 1, 2, 3], gzipped=files)
    whole = (tmp_path / "train-images-idx3-ubyte.gz").read_bytes()
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(whole[: len(whole) // 2])
    cfg = make_config("data=fashion_mnist", f"data.path={tmp_path}")
    with pytest.raises(UserError, match=f"^{tmp_path}/train-images-idx3-ubyte.gz is a damaged gzip file") as raised:
        build.dataset(cfg)
    assert "\n" not in str(raised.value)
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(whole)
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes((tmp_path / "t10k-labels-idx1-ubyte.gz").read_bytes())
    with pytest.raises(UserError, match=f"^{tmp_path}/t10k-images-idx3-ubyte.gz should hold uint8 images.*is it an "
                                        "images file"):
        build.dataset(cfg)


@needs_package
@pytest.mark.slow
def test_fashion_mnist_is_read_from_the_debian_package():
    data = build.dataset(make_config("data=fashion_mnist"))
    assert data.name == "fashion_mnist"
    assert data.train.shape == (60_000, 1, 28, 28) and data.test.shape == (10_000, 1, 28, 28)
    assert data.train.min() == -1.0 and data.train.max() == 1.0
    # Fashion-MNIST's published split: 6,000 training and 1,000 test images of each of the 10 classes
    assert torch.bincount(data.train_labels).tolist() == [6000] * 10
    assert torch.bincount(data.test_labels).tolist() == [1000] * 10


@needs_package
@pytest.mark.slow
def test_stacked_fashion_mnist_stacks_three_clothes_into_1000_classes():
    data = build.dataset(make_config("data=stacked_fashion_mnist", "data.n_train=3000", "data.n_test=100"))
    assert data.name == "stacked_fashion_mnist"
    assert data.train.shape == (3000, 3, 28, 28)
    assert 0 <= int(data.train_labels.min()) and int(data.train_labels.max()) <= 999
    assert len(torch.unique(data.train_labels)) > 900  # 3,000 uniform draws of 1,000 triples leave ~50 unseen
