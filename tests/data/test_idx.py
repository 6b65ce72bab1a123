"""IDX reader and MNIST loader on hand-written IDX bytes, plain and gzipped; malformed input -> UserError."""

import gzip
import struct

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ganctl.data.idx import MNIST_FILES, mnist, parse_idx, read_idx
from ganctl.errors import UserError
from tests.data.formats import IDX_TYPE_CODES, idx_bytes, write_mnist_folder


def mnist_like(n: int, height: int = 28, width: int = 28, offset: int = 0) -> np.ndarray:
    """n images, pixel (k, h, w) = (offset + 7 k + 3 h + 11 w) mod 256: every value known, 0 and 255 occur."""
    k, h, w = np.meshgrid(np.arange(n), np.arange(height), np.arange(width), indexing="ij")
    return ((offset + 7 * k + 3 * h + 11 * w) % 256).astype(np.uint8)


@pytest.mark.parametrize("gzipped", [(), MNIST_FILES, MNIST_FILES[::2]], ids=["plain", "gz", "mixed"])
def test_mnist_reads_pixels_and_labels(tmp_path, gzipped):
    train_images, test_images = mnist_like(4), mnist_like(2, offset=100)
    train_images[0, 0, 0], train_images[0, 0, 1] = 0, 255
    write_mnist_folder(tmp_path, train_images, [3, 1, 4, 1], test_images, [5, 9], gzipped=gzipped)
    data = mnist(str(tmp_path))
    assert data.name == "mnist"
    assert data.train.shape == (4, 1, 28, 28) and data.test.shape == (2, 1, 28, 28)
    assert data.train.dtype == torch.float32 and data.train.is_contiguous()
    assert data.train[0, 0, 0, 0] == -1.0 and data.train[0, 0, 0, 1] == 1.0  # 0 -> -1, 255 -> 1 exactly
    # pixel p -> p / 255 * 2 - 1; 1e-6 covers float32 rounding of values in [-1, 1]
    np.testing.assert_allclose(data.train[:, 0].numpy(), train_images / 255 * 2 - 1, rtol=0, atol=1e-6)
    np.testing.assert_allclose(data.test[:, 0].numpy(), test_images / 255 * 2 - 1, rtol=0, atol=1e-6)
    assert data.train_labels.tolist() == [3, 1, 4, 1] and data.test_labels.tolist() == [5, 9]
    assert data.train_labels.dtype == torch.int64


def test_mnist_takes_image_size_from_the_header_and_a_name(tmp_path):
    write_mnist_folder(tmp_path, mnist_like(3, 5, 7), [0, 1, 2], mnist_like(1, 5, 7), [2])
    data = mnist(tmp_path, name="fashion_mnist")
    assert data.train.shape == (3, 1, 5, 7) and data.name == "fashion_mnist"


def test_read_idx_header_fields_by_hand(tmp_path):
    # magic 0x00000803: uint8, 3 dims; sizes 2, 2, 3; then 12 values
    raw = bytes([0, 0, 0x08, 3]) + struct.pack(">3I", 2, 2, 3) + bytes(range(12))
    (tmp_path / "a-idx3-ubyte.gz").write_bytes(gzip.compress(raw))
    array = read_idx(tmp_path / "a-idx3-ubyte.gz")
    assert array.dtype == np.uint8 and array.shape == (2, 2, 3)
    assert array[1, 0, 2] == 8  # row-major: 1 * 6 + 0 * 3 + 2
    # int32 big-endian: 0x00000100 is 256, not 65536 as little-endian would read it
    assert parse_idx(bytes([0, 0, 0x0C, 1]) + struct.pack(">I", 1) + b"\x00\x00\x01\x00").tolist() == [256]


def test_missing_folder_names_the_path_and_the_files(tmp_path):
    missing = tmp_path / "no" / "mnist"
    with pytest.raises(UserError) as error:
        mnist(str(missing))
    assert str(missing) in str(error.value) and "train-images-idx3-ubyte" in str(error.value)


def test_missing_file_names_its_full_path(tmp_path):
    write_mnist_folder(tmp_path, mnist_like(2), [0, 1], mnist_like(1), [0])
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(UserError) as error:
        mnist(tmp_path)
    assert str(tmp_path / "t10k-labels-idx1-ubyte") in str(error.value) and ".gz" in str(error.value)


@pytest.mark.parametrize("cut", [1, 784, 790])  # mid-payload, a whole image, into the header
def test_truncated_images_file_raises_user_error_naming_it(tmp_path, cut):
    write_mnist_folder(tmp_path, mnist_like(1), [7], mnist_like(1), [7])
    file = tmp_path / "train-images-idx3-ubyte"
    file.write_bytes(file.read_bytes()[:-cut])
    with pytest.raises(UserError, match="truncated") as error:
        mnist(tmp_path)
    assert str(file) in str(error.value)


def test_truncated_gzip_raises_user_error(tmp_path):
    write_mnist_folder(tmp_path, mnist_like(2), [0, 1], mnist_like(1), [0], gzipped=MNIST_FILES)
    file = tmp_path / "train-images-idx3-ubyte.gz"
    file.write_bytes(file.read_bytes()[:-20])
    with pytest.raises(UserError, match="gzip") as error:
        mnist(tmp_path)
    assert str(file) in str(error.value)


def test_label_count_must_match_image_count(tmp_path):
    write_mnist_folder(tmp_path, mnist_like(3), [0, 1], mnist_like(1), [0])
    with pytest.raises(UserError, match="3 integer labels"):
        mnist(tmp_path)


def test_swapped_images_and_labels_files_are_reported(tmp_path):
    write_mnist_folder(tmp_path, mnist_like(2), [0, 1], mnist_like(1), [0])
    images, labels = tmp_path / "train-images-idx3-ubyte", tmp_path / "train-labels-idx1-ubyte"
    swapped = images.read_bytes()
    images.write_bytes(labels.read_bytes())
    labels.write_bytes(swapped)
    with pytest.raises(UserError, match=r"\(N, H, W\)"):
        mnist(tmp_path)


@pytest.mark.parametrize("raw, problem", [
    (b"", "shorter than the 4-byte header"),
    (b"\x01\x00\x08\x01" + struct.pack(">I", 0), "magic"),
    (b"\x00\x00\x07\x01" + struct.pack(">I", 0), "type code 0x07"),
    (b"\x00\x00\x08\x00", "0 dimensions"),
    (b"\x00\x00\x08\x02" + struct.pack(">I", 3), "header needs 12 bytes"),
    (b"\x00\x00\x08\x01" + struct.pack(">I", 2) + b"\x01\x02\x03", "trailing bytes"),
    (b"\x00\x00\x08\x21" + bytes(4 * 33), "declares 33 dimensions"),
    # zero elements, so no payload, but the other sizes overflow numpy's index type
    (b"\x00\x00\x08\x20" + struct.pack(">32I", 0, *[0xFFFFFFFF] * 31), "unusable shape"),
])
def test_malformed_headers_say_what_is_wrong(raw, problem):
    with pytest.raises(UserError, match=problem):
        parse_idx(raw, "some-file")


@settings(max_examples=300)
@given(st.binary(max_size=64) | st.builds(lambda head, tail: head + tail,
                                          st.sampled_from([b"\x00\x00\x08\x01", b"\x00\x00\x0d\x02",
                                                           b"\x00\x00\x0e\x03", b"\x00\x00\x08\xff"]),
                                          st.binary(max_size=64)))
def test_arbitrary_bytes_never_raise_anything_but_user_error(raw):
    try:
        array = parse_idx(raw, "fuzzed")
    except UserError as error:
        assert "\n" not in str(error)
    else:
        assert isinstance(array, np.ndarray)


@settings(max_examples=50, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(raw=st.binary(max_size=64))
def test_arbitrary_gzip_like_files_never_raise_anything_but_user_error(tmp_path, raw):
    file = tmp_path / "fuzzed.gz"  # same file rewritten each example: the fixture's reuse is harmless here
    file.write_bytes(b"\x1f\x8b" + raw)
    try:
        read_idx(file)
    except UserError as error:
        assert str(file) in str(error)


idx_arrays = st.sampled_from(sorted(IDX_TYPE_CODES, key=str)).flatmap(
    lambda dtype: hnp.arrays(dtype, hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=5),
                             elements={"allow_nan": False} if dtype.kind == "f" else None))


@settings(max_examples=200)
@given(idx_arrays)
def test_valid_idx_files_round_trip(array):
    parsed = parse_idx(idx_bytes(array))
    assert parsed.dtype == array.dtype and parsed.shape == array.shape
    assert np.array_equal(parsed, array)
    assert parsed.flags.writeable and parsed.dtype.isnative


@settings(max_examples=100)
@given(idx_arrays.filter(lambda array: array.size > 0), st.integers(min_value=1, max_value=200))
def test_any_cut_of_a_valid_file_is_reported(array, cut):
    raw = idx_bytes(array)
    with pytest.raises(UserError, match="truncated|shorter than"):
        parse_idx(raw[:max(len(raw) - cut, 0)])
