"""CIFAR-10 batches pickled as the real (Python 2) files are; tampered pickles are refused without running."""

import os
import pickle

import numpy as np
import pytest
import torch

from ganctl.data.cifar import cifar10, read_pickle
from ganctl.errors import UserError
from tests.data.formats import cifar_batch, python2_pickle, write_cifar_folder


def solid_rows(colours) -> np.ndarray:
    """One (3072,) row per (r, g, b): 1024 red values, then 1024 green, then 1024 blue (the CIFAR layout)."""
    return np.array([np.repeat(np.array(colour, dtype=np.uint8), 1024) for colour in colours])


def write_small_cifar(folder, numpy_module="numpy.core.multiarray"):
    train = [(solid_rows([(255, 0, 128), (10 * k, 20 * k, 30 * k)]), [k, 9 - k]) for k in range(5)]
    test = (solid_rows([(0, 255, 1)]), [6])
    write_cifar_folder(folder, train, test)
    if numpy_module != "numpy.core.multiarray":
        for file in folder.iterdir():
            file.write_bytes(file.read_bytes().replace(b"cnumpy.core.multiarray\n", f"c{numpy_module}\n".encode()))


@pytest.mark.parametrize("numpy_module", ["numpy.core.multiarray", "numpy._core.multiarray"])
def test_cifar10_reads_planes_as_channels_and_labels(tmp_path, numpy_module):
    write_small_cifar(tmp_path / "cifar-10-batches-py", numpy_module)
    data = cifar10(str(tmp_path / "cifar-10-batches-py"))
    assert data.name == "cifar10"
    assert data.train.shape == (10, 3, 32, 32) and data.test.shape == (1, 3, 32, 32)
    assert data.train.dtype == torch.float32 and data.train.is_contiguous()
    # image 0 of batch 1 is solid (255, 0, 128): red plane 1, green plane -1, blue 128 / 127.5 - 1
    assert (data.train[0, 0] == 1.0).all() and (data.train[0, 1] == -1.0).all()
    assert torch.allclose(data.train[0, 2], torch.tensor(128 / 127.5 - 1), rtol=0, atol=1e-6)
    # image 1 of batch 5 (index 9) is (40, 80, 120)
    expected = torch.tensor([40, 80, 120]) / 255 * 2 - 1
    assert torch.allclose(data.train[9].mean(dim=(1, 2)), expected, rtol=0, atol=1e-6)
    assert (data.test[0, 1] == 1.0).all()
    assert data.train_labels.tolist() == [0, 9, 1, 8, 2, 7, 3, 6, 4, 5] and data.test_labels.tolist() == [6]
    assert data.train_labels.dtype == torch.int64


def test_cifar10_reads_pixel_order_within_a_plane(tmp_path):
    pixels = np.zeros((1, 3072), dtype=np.uint8)
    pixels[0, 1024 + 32 * 2 + 5] = 255  # green plane, row 2, column 5
    write_cifar_folder(tmp_path, [(pixels, [1])] * 5, (pixels, [1]))
    data = cifar10(tmp_path)
    assert data.train[0, 1, 2, 5] == 1.0 and (data.train[0] == 1.0).sum() == 1


def test_cifar10_accepts_the_parent_folder(tmp_path):
    write_small_cifar(tmp_path / "cifar-10-batches-py")
    assert cifar10(tmp_path).train.shape == (10, 3, 32, 32)


def test_cifar10_reads_python3_pickles_with_str_keys(tmp_path):
    for protocol in (4, 5):  # 4: _reconstruct with raw bytes; 5: numpy's _frombuffer
        batch = {"data": solid_rows([(255, 255, 255)]), "labels": np.array([3])}
        for name in [f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]:
            (tmp_path / name).write_bytes(pickle.dumps(batch, protocol=protocol))
        assert (cifar10(tmp_path).train == 1.0).all()


def test_missing_folder_names_the_path(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(UserError) as error:
        cifar10(missing)
    assert str(missing) in str(error.value) and "data_batch_1" in str(error.value)


def test_missing_batch_names_its_full_path(tmp_path):
    write_small_cifar(tmp_path)
    (tmp_path / "test_batch").unlink()
    with pytest.raises(UserError) as error:
        cifar10(tmp_path)
    assert str(tmp_path / "test_batch") in str(error.value)


class RunsAShellCommand:
    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


class CallsEval:
    def __reduce__(self):
        return eval, ("__import__('pathlib').Path('EVAL_RAN').touch()",)


@pytest.mark.parametrize("make_payload, refused", [
    (lambda marker: RunsAShellCommand(f"touch {marker}"), ".system"),  # posix.system / nt.system
    (lambda marker: {b"data": RunsAShellCommand(f"touch {marker}"), b"labels": [0]}, ".system"),
    (lambda marker: CallsEval(), "builtins.eval"),
], ids=["os.system", "nested-in-dict", "eval"])
def test_malicious_pickle_is_refused_without_running(tmp_path, monkeypatch, make_payload, refused):
    monkeypatch.chdir(tmp_path)  # where the eval payload would write
    marker = tmp_path / "SYSTEM_RAN"
    write_small_cifar(tmp_path)
    # Protocol 4 stores bytes natively, so the first global the unpickler meets is the payload's own.
    (tmp_path / "data_batch_3").write_bytes(pickle.dumps(make_payload(marker), protocol=4))
    with pytest.raises(UserError, match="refusing") as error:
        cifar10(tmp_path)
    assert str(tmp_path / "data_batch_3") in str(error.value) and refused in str(error.value)
    assert not marker.exists() and not (tmp_path / "EVAL_RAN").exists()


def test_truncated_pickle_raises_user_error_naming_it(tmp_path):
    write_small_cifar(tmp_path)
    file = tmp_path / "data_batch_2"
    file.write_bytes(file.read_bytes()[:-100])
    with pytest.raises(UserError, match="not a readable CIFAR-10 batch") as error:
        cifar10(tmp_path)
    assert str(file) in str(error.value)


@pytest.mark.parametrize("batch, problem", [
    ([1, 2, 3], "not the dict"),
    ({b"labels": [0]}, "no 'data' entry"),
    ({b"data": np.zeros((1, 3072), dtype=np.uint8)}, "no 'labels' entry"),
    ({b"data": np.zeros((1, 1024), dtype=np.uint8), b"labels": [0]}, r"\(N, 3072\)"),
    ({b"data": np.zeros((2, 3072), dtype=np.uint8), b"labels": [0]}, "2 integers"),
])
def test_wrong_batch_contents_are_reported(tmp_path, batch, problem):
    write_small_cifar(tmp_path)
    (tmp_path / "test_batch").write_bytes(python2_pickle(batch))
    with pytest.raises(UserError, match=problem):
        cifar10(tmp_path)


def test_read_pickle_returns_the_python2_dict_with_bytes_keys(tmp_path):
    file = tmp_path / "batch"
    file.write_bytes(python2_pickle(cifar_batch(solid_rows([(1, 2, 3)]), [4])))
    batch = read_pickle(file)
    assert batch[b"labels"] == [4] and batch[b"filenames"] == [b"img_0.png"]
    assert batch[b"data"].dtype == np.uint8 and batch[b"data"][0, [0, 1024, 2048]].tolist() == [1, 2, 3]
