"""The bundled 8x8 digits: known pixel values, label counts and the seeded split."""

from collections import Counter

import pytest
import torch

from ganctl.data.digits import digits
from ganctl.errors import UserError

# Per-class counts of scikit-learn's digits (its documentation: ~180 per class, 1797 in all).
CLASS_COUNTS = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
# The first row of the first image (a 0), raw counts 0..16 from the UCI optdigits file.
FIRST_ROW = [0, 0, 5, 13, 9, 1, 0, 0]


def test_digits_shapes_split_and_label_counts():
    data = digits(test_fraction=0.2, seed=0)
    assert data.train.shape == (1438, 1, 8, 8) and data.test.shape == (359, 1, 8, 8)  # 359 = round(0.2 * 1797)
    assert data.train.dtype == torch.float32 and data.train.is_contiguous() and data.is_image
    labels = torch.cat([data.train_labels, data.test_labels])
    assert labels.dtype == torch.int64
    assert torch.bincount(labels).tolist() == CLASS_COUNTS


def test_digits_pixels_are_counts_scaled_to_minus_one_one():
    data = digits()
    images = torch.cat([data.train, data.test])
    labels = torch.cat([data.train_labels, data.test_labels])
    # Counts 0..16 map to c / 8 - 1: 17 values, -1 and 1 at the ends, all exact in float32.
    assert set(images.unique().tolist()) <= {c / 8 - 1 for c in range(17)}
    assert images.min() == -1.0 and images.max() == 1.0
    expected_row = [c / 16 * 2 - 1 for c in FIRST_ROW]
    matches = [k for k in range(len(images)) if images[k, 0, 0].tolist() == expected_row]
    assert matches and all(labels[k] == 0 for k in matches)


def test_digits_split_is_a_seeded_partition():
    first, again, other = digits(seed=1), digits(seed=1), digits(seed=2)
    assert torch.equal(first.train, again.train) and torch.equal(first.test_labels, again.test_labels)
    assert not torch.equal(first.test, other.test)

    def multiset(data):
        rows = torch.cat([data.train, data.test]).reshape(-1, 64).tolist()
        return Counter((tuple(row), int(label)) for row, label in
                       zip(rows, torch.cat([data.train_labels, data.test_labels])))

    assert multiset(first) == multiset(other)  # the same 1797 images, only divided differently


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, "half"])
def test_digits_rejects_a_test_fraction_outside_zero_one(fraction):
    with pytest.raises(UserError, match="data.test_fraction"):
        digits(test_fraction=fraction)
