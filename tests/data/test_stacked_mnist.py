"""Stacked MNIST from tiny hand-written IDX files: every channel is one source digit, the label is its triple."""

from pathlib import Path

import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from ganctl.data.idx import mnist
from ganctl.data.stacked_mnist import stacked_mnist
from ganctl.errors import UserError
from tests.data.formats import write_mnist_folder

CONF = Path(__file__).resolve().parents[2] / "conf" / "data" / "stacked_mnist.yaml"
TRAIN_LABELS = [3, 1, 4, 1, 5, 9, 2]
TEST_LABELS = [6, 0, 8]


def constant_images(values, side=28) -> np.ndarray:
    """Image k has every pixel equal to values[k]: a channel tells by its value which image it came from."""
    return np.broadcast_to(np.asarray(values, dtype=np.uint8)[:, None, None], (len(values), side, side)).copy()


@pytest.fixture
def folder(tmp_path):
    # Pixel values 0, 40, ..., 240 for training images and 10, 50, 90 for test images: all distinct.
    write_mnist_folder(tmp_path, constant_images([40 * k for k in range(7)]), TRAIN_LABELS,
                       constant_images([10 + 40 * k for k in range(3)]), TEST_LABELS, gzipped=("t10k-labels-idx1-ubyte",))
    return tmp_path


def source_indices(images: torch.Tensor, values: list[int]) -> np.ndarray:
    """(n, 3) index of the source image of every channel, found by its constant pixel value."""
    pixels = np.rint((images[:, :, 0, 0].numpy() + 1) * 127.5).astype(int)  # back from [-1, 1] to 0..255
    assert (images == images[:, :, :1, :1]).all(), "a channel is not one source image"
    lookup = {v: k for k, v in enumerate(values)}
    return np.vectorize(lookup.__getitem__)(pixels)


def test_stacked_mnist_channels_are_source_digits_and_labels_their_triple(folder):
    data = stacked_mnist(folder, n_train=200, n_test=50, seed=0)
    assert data.name == "stacked_mnist" and data.shape == (3, 28, 28) and data.is_image
    assert data.train.shape == (200, 3, 28, 28) and data.test.shape == (50, 3, 28, 28)
    assert data.train.dtype == torch.float32 and data.train_labels.dtype == torch.int64
    for images, labels, values, digit_of in ((data.train, data.train_labels, [40 * k for k in range(7)], TRAIN_LABELS),
                                             (data.test, data.test_labels, [10 + 40 * k for k in range(3)], TEST_LABELS)):
        sources = source_indices(images, values)  # fails if a test channel came from a training image
        digits = np.asarray(digit_of)[sources]  # (n, 3)
        assert labels.tolist() == (100 * digits[:, 0] + 10 * digits[:, 1] + digits[:, 2]).tolist()


def test_stacked_mnist_same_seed_same_data_and_test_set_independent_of_n_train(folder):
    a, b = stacked_mnist(folder, n_train=100, n_test=30, seed=4), stacked_mnist(folder, n_train=100, n_test=30, seed=4)
    assert torch.equal(a.train, b.train) and torch.equal(a.train_labels, b.train_labels)
    assert torch.equal(a.test, b.test)
    other = stacked_mnist(folder, n_train=100, n_test=30, seed=5)
    assert not torch.equal(a.train_labels, other.train_labels)
    longer = stacked_mnist(folder, n_train=300, n_test=30, seed=4)
    assert torch.equal(longer.test, a.test) and torch.equal(longer.test_labels, a.test_labels)


def test_stacked_mnist_draws_digits_uniformly_and_reaches_all_1000_modes(tmp_path):
    # Ten 2x2 images labelled 0..9: with 20,000 samples a given mode is missed with probability
    # (1 - 1/1000)^20000 ~ 2e-9, so all 1000 appear.
    write_mnist_folder(tmp_path, constant_images(range(10), side=2), list(range(10)),
                       constant_images([0], side=2), [0])
    data = stacked_mnist(tmp_path, n_train=20_000, n_test=1, seed=0)
    assert torch.unique(data.train_labels).tolist() == list(range(1000))
    digits = torch.stack([data.train_labels // 100, data.train_labels // 10 % 10, data.train_labels % 10], dim=1)
    for channel in range(3):
        counts = torch.bincount(digits[:, channel], minlength=10)
        # Binomial(20000, 0.1): mean 2000, std 42; 300 is seven standard deviations.
        assert (counts - 2000).abs().max() < 300, counts


def test_stacked_mnist_missing_folder_is_the_mnist_loaders_one_line(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(UserError) as stacked_error:
        stacked_mnist(missing, n_train=10, n_test=10)
    with pytest.raises(UserError) as mnist_error:
        mnist(missing)
    assert str(stacked_error.value) == str(mnist_error.value)
    assert "\n" not in str(stacked_error.value) and str(missing) in str(stacked_error.value)


def test_stacked_mnist_refuses_labels_that_are_not_digits_and_bad_sizes(tmp_path):
    write_mnist_folder(tmp_path, constant_images([0, 1], side=2), [3, 12], constant_images([0], side=2), [0])
    with pytest.raises(UserError, match="outside 0..9"):
        stacked_mnist(tmp_path, n_train=5, n_test=5)
    with pytest.raises(UserError, match="data.n_train"):
        stacked_mnist(tmp_path, n_train=0)


def test_stacked_mnist_config_instantiates_with_a_path_override(folder):
    node = OmegaConf.load(CONF)
    node.pop("defaults")  # Hydra's defaults list, not an argument of the loader
    config = OmegaConf.merge(node, OmegaConf.from_dotlist([f"path={folder}", "n_train=20",
                                                                          "n_test=10"]))
    data = instantiate(config)
    assert data.name == "stacked_mnist" and data.train.shape == (20, 3, 28, 28) and data.test_labels.max() < 1000
