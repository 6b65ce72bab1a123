""".npy / .npz arrays: image layouts, float points, key defaults and damaged files."""

import numpy as np
import pytest
import torch

from ganctl.data.arrays import array_file
from ganctl.errors import UserError


def gathered(data):
    """Train and test put back in label order (labels are 0..N-1 in these tests), to compare with the file."""
    samples = torch.cat([data.train, data.test])
    labels = torch.cat([data.train_labels, data.test_labels])
    return samples[torch.argsort(labels)]


def test_npz_channels_last_uint8_images_become_channels_first(tmp_path):
    x = np.zeros((5, 4, 6, 3), dtype=np.uint8)  # (N, H, W, C)
    x[:, 1, 2] = (255, 0, 51)
    np.savez(tmp_path / "data.npz", x=x, y=np.arange(5))
    data = array_file(str(tmp_path / "data.npz"), test_fraction=0.4)
    assert data.train.shape == (3, 3, 4, 6) and data.test.shape == (2, 3, 4, 6) and data.name == "array"
    assert data.train.dtype == torch.float32 and data.train.is_contiguous()
    images = gathered(data)
    assert images[:, :, 1, 2].tolist() == [[1.0, -1.0, pytest.approx(51 / 127.5 - 1, abs=1e-6)]] * 5
    assert (images[:, :, 0] == -1.0).all()


def test_npy_uint8_greyscale_images_gain_a_channel_axis(tmp_path):
    x = np.arange(2 * 3 * 5, dtype=np.uint8).reshape(2, 3, 5)
    x[1, 2, 4] = 255
    np.save(tmp_path / "grey.npy", x)
    data = array_file(tmp_path / "grey.npy", test_fraction=0.5)
    images = torch.cat([data.train, data.test])
    assert images.shape == (2, 1, 3, 5) and data.train_labels is None
    first = images[0] if images[0, 0, 0, 0] == -1.0 else images[1]  # x[0, 0, 0] == 0
    np.testing.assert_allclose(first[0].numpy(), x[0] / 255 * 2 - 1, rtol=0, atol=1e-6)
    assert images.max() == 1.0


def test_channels_first_uint8_images_are_kept(tmp_path):
    x = np.zeros((4, 3, 8, 8), dtype=np.uint8)  # (N, C, H, W): last axis 8 is not a channel count
    x[:, 2] = 255
    np.savez(tmp_path / "d.npz", x=x, y=np.arange(4))
    images = gathered(array_file(tmp_path / "d.npz"))
    assert images.shape == (4, 3, 8, 8) and (images[:, 2] == 1.0).all() and (images[:, :2] == -1.0).all()


def test_float_points_are_used_as_they_are(tmp_path):
    points = np.random.default_rng(0).normal(size=(20, 3)).astype(np.float64)
    np.savez(tmp_path / "points.npz", samples=points, classes=np.arange(20))
    data = array_file(tmp_path / "points.npz", key="samples", labels_key="classes", test_fraction=0.25)
    assert data.train.shape == (15, 3) and data.test.shape == (5, 3) and data.train.dtype == torch.float32
    assert torch.equal(gathered(data), torch.from_numpy(points.astype(np.float32)))


def test_npz_with_a_single_unnamed_array_uses_it(tmp_path):
    np.savez(tmp_path / "one.npz", np.ones((4, 2), dtype=np.float32))  # saved as "arr_0"
    data = array_file(tmp_path / "one.npz")
    assert (torch.cat([data.train, data.test]) == 1.0).all() and data.train_labels is None


def test_npz_with_y_and_one_other_array_uses_both(tmp_path):
    np.savez(tmp_path / "d.npz", images=np.zeros((4, 5, 5), dtype=np.uint8), y=np.arange(4))
    data = array_file(tmp_path / "d.npz")
    assert data.shape == (1, 5, 5)
    assert sorted(torch.cat([data.train_labels, data.test_labels]).tolist()) == [0, 1, 2, 3]


def test_ambiguous_npz_lists_its_keys(tmp_path):
    np.savez(tmp_path / "d.npz", a=np.zeros((4, 2)), b=np.zeros((4, 2)))
    with pytest.raises(UserError, match="a, b.*data.key"):
        array_file(tmp_path / "d.npz")


def test_unknown_key_lists_the_arrays(tmp_path):
    np.savez(tmp_path / "d.npz", x=np.zeros((4, 2)))
    with pytest.raises(UserError, match="no array 'images' .*arrays: x"):
        array_file(tmp_path / "d.npz", key="images")


@pytest.mark.parametrize("name, cut", [("d.npz", 40), ("d.npz", 400), ("d.npy", 10), ("d.npy", 150)])
def test_truncated_files_raise_user_error_naming_them(tmp_path, name, cut):
    file = tmp_path / name
    x = np.arange(200, dtype=np.uint8).reshape(2, 10, 10)
    np.savez(file, x=x) if name.endswith(".npz") else np.save(file, x)
    file.write_bytes(file.read_bytes()[:-cut])
    with pytest.raises(UserError, match="not a readable numpy file") as error:
        array_file(file)
    assert str(file) in str(error.value)


def test_object_arrays_are_not_unpickled(tmp_path):
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with pytest.raises(UserError, match="objects.npy"):
        array_file(tmp_path / "objects.npy")


def test_missing_file_names_the_path(tmp_path):
    missing = tmp_path / "none.npz"
    with pytest.raises(UserError) as error:
        array_file(missing)
    assert str(missing) in str(error.value) and ".npy" in str(error.value)


@pytest.mark.parametrize("x, problem", [
    (np.zeros((4, 2), dtype=np.int64), "dtype int64"),
    (np.full((4, 2), np.nan, dtype=np.float32), "NaN"),
    (np.zeros((4, 2), dtype=np.uint8), "uint8 array is read as images"),
    (np.zeros((4, 5, 5, 7), dtype=np.uint8), "uint8 array is read as images"),
    (np.zeros((4, 2, 3), dtype=np.float32), r"\(N, d\)"),
    (np.zeros((4,), dtype=np.float32), "shape"),
])
def test_arrays_of_unknown_meaning_are_refused(tmp_path, x, problem):
    np.save(tmp_path / "x.npy", x)
    with pytest.raises(UserError, match=problem):
        array_file(tmp_path / "x.npy")


def test_labels_must_be_one_integer_per_sample(tmp_path):
    np.savez(tmp_path / "d.npz", x=np.zeros((4, 2), dtype=np.float32), y=np.zeros(3, dtype=np.int64))
    with pytest.raises(UserError, match="4 non-negative integers"):
        array_file(tmp_path / "d.npz")


def test_key_on_an_npy_file_is_refused(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((4, 2), dtype=np.float32))
    with pytest.raises(UserError, match="data.key"):
        array_file(tmp_path / "x.npy", key="x")


def test_other_suffixes_are_refused(tmp_path):
    (tmp_path / "x.csv").write_text("1,2\n")
    with pytest.raises(UserError, match="neither .npy nor .npz"):
        array_file(tmp_path / "x.csv")


def test_an_npz_archive_named_npy_is_read_as_an_archive(tmp_path):
    np.savez(tmp_path / "d.npz", x=np.zeros((4, 2), dtype=np.float32), y=np.arange(4))
    (tmp_path / "d.npz").rename(tmp_path / "d.npy")
    data = array_file(tmp_path / "d.npy")
    assert data.shape == (2,) and data.train_labels is not None
