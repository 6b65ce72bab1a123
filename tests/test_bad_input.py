"""Bad input, systematically: every reader under hypothesis (files cut short, random bytes, one byte changed),
image folders that cannot be one data set, and the CLI fed unknown config, wrong types, bad sizes, missing or
damaged data and weights of the wrong network.

The contract (ganctl/errors.py): bad input raises UserError, whose one-line message names the file; the CLI
prints it as one `error: ...` line on stderr with exit code 2, never a traceback, and changes nothing that is
already under outputs/.
"""

from __future__ import annotations

import gzip
import io
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image
from torch import nn

from ganctl.data.arrays import read_array
from ganctl.data.cifar import cifar10
from ganctl.data.files import read_samples
from ganctl.data.idx import mnist, read_idx
from ganctl.data.image_folder import read_images
from ganctl.errors import UserError
from ganctl.metrics.classifier import Classifier, classifier_state, load_classifier
from tests.conftest import run_cli
from tests.data.formats import cifar_batch, idx_bytes, python2_pickle, write_cifar_folder, write_mnist_folder

# Small example counts, no deadline: file writes on a busy CI machine vary, and the whole module must stay quick.
FUZZ = settings(max_examples=40, deadline=None)

PIXELS = np.random.default_rng(0).integers(0, 256, (3, 4, 5), dtype=np.uint8)  # (N, H, W), 0 and 255 likely
LABELS = np.array([2, 0, 1], dtype=np.int64)
CIFAR_PIXELS = np.random.default_rng(1).integers(0, 256, (2, 3072), dtype=np.uint8)  # (N, 3*32*32)
CIFAR_LABELS = [7, 3]


def unit_range(pixels: np.ndarray) -> torch.Tensor:
    """uint8 pixels -> [-1, 1] as the readers document it, x / 127.5 - 1 in float32, computed here by numpy."""
    return torch.from_numpy(pixels.astype(np.float32) / np.float32(127.5) - np.float32(1))


# ---- the readers: one table of formats, three properties over all of them ---------------------------------------

def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def npz_bytes(compressed: bool, **arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buffer, **arrays)
    return buffer.getvalue()


def png_bytes(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


@dataclass
class Format:
    """One reader and one valid file for it: `read(file)` gives a tuple of arrays/tensors equal to `expected`."""

    name: str
    file_name: str  # the fuzzed file, inside a folder of its own
    valid: bytes
    read: Callable[[Path], tuple]
    expected: tuple
    folder_files: dict[str, bytes] | None = None  # other, valid files the reader needs beside it
    # Pillow, like any viewer, does not check the CRC of PNG pixel data (and JPEG has none), so one changed byte
    # there may change many pixels of that image: only its size and the other images are then checked.
    damage_may_change_pixels: bool = False


def read_cifar_test_batch(file: Path) -> tuple:
    data = cifar10(file.parent)  # the fuzzed file is test_batch; the five training batches beside it are valid
    return data.test, data.test_labels


def read_png_folder(file: Path) -> tuple:
    return (read_images(file.parent, channels=None)[0],)


FORMATS = [
    # read_idx: the raw array in native byte order
    Format("idx", "t10k-images-idx3-ubyte", idx_bytes(PIXELS), lambda f: (read_idx(f),), (PIXELS,)),
    # read_samples on a gzipped IDX file: images (N, 1, H, W) in [-1, 1]
    Format("idx.gz", "t10k-images-idx3-ubyte.gz", gzip.compress(idx_bytes(PIXELS), mtime=0),
           lambda f: (read_samples(f),), (unit_range(PIXELS[:, None]),)),
    Format("npy", "x.npy", npy_bytes(PIXELS), lambda f: (read_samples(f),), (unit_range(PIXELS[:, None]),)),
    Format("npz", "d.npz", npz_bytes(False, x=PIXELS, y=LABELS), read_array,
           (unit_range(PIXELS[:, None]), torch.from_numpy(LABELS))),
    Format("npz-compressed", "d.npz", npz_bytes(True, x=PIXELS, y=LABELS), read_array,
           (unit_range(PIXELS[:, None]), torch.from_numpy(LABELS))),
    Format("cifar", "test_batch", python2_pickle(cifar_batch(CIFAR_PIXELS, CIFAR_LABELS)), read_cifar_test_batch,
           (unit_range(CIFAR_PIXELS.reshape(2, 3, 32, 32)), torch.tensor(CIFAR_LABELS)),
           folder_files={f"data_batch_{k}": python2_pickle(cifar_batch(CIFAR_PIXELS, CIFAR_LABELS))
                         for k in range(1, 6)}),
    # a folder of two greyscale PNGs, the second one fuzzed
    Format("png", "b.png", png_bytes(PIXELS[1]), read_png_folder, (unit_range(PIXELS[:2, None]),),
           folder_files={"a.png": png_bytes(PIXELS[0])}, damage_may_change_pixels=True),
]


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("scratch")


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    """A folder per format holding its valid companion files; each example rewrites only the fuzzed file."""
    made = {}
    for fmt in FORMATS:
        folder = tmp_path_factory.mktemp(fmt.name)
        for name, data in (fmt.folder_files or {}).items():
            (folder / name).write_bytes(data)
        made[fmt.name] = folder
    return made


def read_or_refuse(fmt: Format, folder: Path, data: bytes) -> tuple | None:
    """fmt.read on `data` written as its file; None if refused with a UserError, whose message must be one line
    naming the file. Any other exception is a bug and fails the test."""
    file = folder / fmt.file_name
    file.write_bytes(data)
    try:
        return fmt.read(file)
    except UserError as error:
        assert str(file) in str(error), str(error)
        assert "\n" not in str(error), str(error)
        return None


def differing_values(result: tuple, expected: tuple) -> int:
    """How many stored values differ; the shapes and dtypes must be the original ones."""
    assert len(result) == len(expected)
    total = 0
    for got, want in zip(result, expected):
        got, want = torch.as_tensor(got), torch.as_tensor(want)
        assert got.dtype == want.dtype and got.shape == want.shape, (got.dtype, got.shape, want.dtype, want.shape)
        total += int((got != want).sum())
    return total


FORMAT_IDS = [fmt.name for fmt in FORMATS]


@pytest.mark.parametrize("fmt", FORMATS, ids=FORMAT_IDS)
def test_valid_file_reads_back_exactly(folders, fmt):
    result = read_or_refuse(fmt, folders[fmt.name], fmt.valid)
    assert result is not None and differing_values(result, fmt.expected) == 0


@FUZZ
@given(pixels=hnp.arrays(np.uint8, hnp.array_shapes(min_dims=3, max_dims=3, max_side=6)),
       points=hnp.arrays(np.float32, hnp.array_shapes(min_dims=2, max_dims=2, max_side=6),
                         elements=st.floats(-1e6, 1e6, width=32)))
def test_numpy_files_of_any_shape_read_back_exactly(scratch, pixels, points):
    # uint8 (N, H, W) are images scaled to [-1, 1] with a channel axis; float (N, d) points are kept as they are.
    np.savez(scratch / "any.npz", x=pixels, y=np.arange(len(pixels)))
    samples, labels = read_array(scratch / "any.npz")
    assert torch.equal(samples, unit_range(pixels[:, None])) and labels.tolist() == list(range(len(pixels)))
    np.save(scratch / "points.npy", points)
    assert torch.equal(read_samples(scratch / "points.npy"), torch.from_numpy(points))


@pytest.mark.parametrize("fmt", FORMATS, ids=FORMAT_IDS)
@FUZZ
@given(data=st.data())
def test_a_file_cut_short_is_refused_or_read_whole(folders, fmt, data):
    # Every format here records its own length (IDX sizes, gzip's trailer, zip's directory, pickle's STOP, PNG's
    # IEND), so a cut file must be refused, unless only a part the reader never needs was cut (then: exact).
    cut = data.draw(st.integers(0, len(fmt.valid) - 1), label="cut")
    result = read_or_refuse(fmt, folders[fmt.name], fmt.valid[:cut])
    assert result is None or differing_values(result, fmt.expected) == 0


@pytest.mark.parametrize("fmt", FORMATS, ids=FORMAT_IDS)
@FUZZ
@given(data=st.data())
def test_one_changed_byte_is_refused_or_changes_at_most_one_value(folders, fmt, data):
    position = data.draw(st.integers(0, len(fmt.valid) - 1), label="position")
    flip = data.draw(st.integers(1, 255), label="xor")
    damaged = bytearray(fmt.valid)
    damaged[position] ^= flip
    result = read_or_refuse(fmt, folders[fmt.name], bytes(damaged))
    if result is None:
        return
    if fmt.name == "idx":  # a changed type code may re-type the array: then its bytes must be the file's
        assert idx_bytes(result[0]) == bytes(damaged)
    elif fmt.damage_may_change_pixels:  # (N, C, H, W) kept, a.png (sorted first) untouched
        assert differing_values((result[0][:1],), (fmt.expected[0][:1],)) == 0
        assert result[0].shape == fmt.expected[0].shape
    else:  # one byte is one pixel or one label (or nothing the reader uses); never a misread shape
        assert differing_values(result, fmt.expected) <= 1


@pytest.mark.parametrize("fmt", FORMATS, ids=FORMAT_IDS)
@FUZZ
@given(data=st.data())
def test_arbitrary_bytes_are_refused_or_well_formed(folders, fmt, data):
    # Start most examples with the format's own magic bytes, so that the fuzz reaches past the first check.
    head = data.draw(st.sampled_from([0, 2, 4, 8, 16]), label="kept head")
    raw = fmt.valid[:head] + data.draw(st.binary(max_size=200), label="tail")
    result = read_or_refuse(fmt, folders[fmt.name], raw)
    if result is None:
        return
    if fmt.name == "idx":
        assert idx_bytes(result[0]) == raw
    else:
        samples = result[0]
        assert samples.dtype == torch.float32 and samples.ndim in (2, 4) and len(samples) > 0
        assert bool(torch.isfinite(samples).all())


# ---- a classifier file for the wrong network -------------------------------------------------------------------

MISSING = object()  # a key left out of the file


def small_classifier() -> Classifier:
    torch.manual_seed(0)
    return Classifier(1, 8, 3).eval()


STATE_DICTS = {  # name -> the file's state_dict, made from the valid weights
    "valid": lambda weights: weights,
    "float64": lambda weights: {k: v.double() for k, v in weights.items()},
    "other net": lambda weights: nn.Linear(4, 2).state_dict(),
    "one tensor short": lambda weights: dict(list(weights.items())[:-1]),
    "a list": lambda weights: [1, 2],
    "None": lambda weights: None,
}
CLASSIFIER_VALUES = {  # the first value of each list is the valid one
    "state_dict": [*STATE_DICTS, MISSING],
    "in_channels": [1, 3, 0, True, 1.0, "1", MISSING],
    "side": [8, 16, 2, 10**5, None],
    "classes": [3, 10, 1, MISSING],
    "data": ["digits", 3, MISSING],
    "test_accuracy": [0.75, "high", None, True, MISSING],
}


def classifier_file_state(choice: dict) -> dict:
    state = dict(choice)
    if state["state_dict"] is not MISSING:
        weights = {k: v.detach().clone() for k, v in small_classifier().state_dict().items()}
        state["state_dict"] = STATE_DICTS[state["state_dict"]](weights)
    return {key: value for key, value in state.items() if value is not MISSING}


@FUZZ
@given(choice=st.fixed_dictionaries({key: st.sampled_from(values) for key, values in CLASSIFIER_VALUES.items()}))
@example(choice={"state_dict": "valid", "in_channels": 1, "side": 10**5, "classes": 3, "data": "digits",
                 "test_accuracy": 0.75})  # a size that would allocate ~20 TB before the weights are checked
def test_classifier_file_is_refused_or_computes_the_saved_network(scratch, choice):
    file = scratch / "classifier.pt"
    torch.save(classifier_file_state(choice), file)
    try:
        loaded = load_classifier(file)
    except UserError as error:
        assert str(file) in str(error) and "\n" not in str(error), str(error)
        return
    # Loaded: the sizes must have fit the weights, so they are the valid ones; logits equal the saved net's (a
    # float32 -> float64 -> float32 round trip is exact).
    assert (choice["in_channels"], choice["side"], choice["classes"]) == (1, 8, 3)
    x = torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(1)) * 2 - 1
    with torch.no_grad():
        assert torch.equal(loaded(x), small_classifier()(x))
    assert loaded.test_accuracy == 0.75


# ---- image folders that cannot be one data set -----------------------------------------------------------------

def save_png(path: Path, pixels: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png_bytes(np.ascontiguousarray(pixels, dtype=np.uint8)))


def test_mixed_sizes_name_both_files_and_a_fix_that_applies(tmp_path):
    save_png(tmp_path / "a.png", PIXELS[0])  # 5x4 (width x height)
    save_png(tmp_path / "b.png", np.zeros((6, 5), dtype=np.uint8))  # 5x6
    with pytest.raises(UserError) as error:
        read_images(tmp_path, channels=1)
    assert str(error.value).endswith("(a.png is 5x4, b.png is 5x6); set data.size=4 to resize every image to 4x4")
    # `evaluate --real/--fake` reads folders through read_samples and has no data.size to set
    with pytest.raises(UserError) as error:
        read_samples(tmp_path)
    assert str(error.value).endswith("(a.png is 5x4, b.png is 5x6); resize them all to one size first, e.g. 4x4")


def test_empty_folder_and_text_named_png_through_read_samples(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError) as error:
        read_samples(tmp_path / "empty")
    assert str(error.value).startswith(f"{tmp_path / 'empty'} holds no .png") and "data.path" not in str(error.value)
    (tmp_path / "text").mkdir()
    (tmp_path / "text" / "notes.png").write_text("not an image\n")
    with pytest.raises(UserError, match="is not a readable image") as error:
        read_samples(tmp_path / "text")
    assert str(tmp_path / "text" / "notes.png") in str(error.value)


@pytest.mark.parametrize("train_labels, test_labels, problem", [
    ([0, -1], [1, 2], "data_batch_1: 'labels' should be CIFAR-10 classes 0..9, got values from -1 to 0"),
    ([0, 1], [10, 2], "test_batch: 'labels' should be CIFAR-10 classes 0..9, got values from 2 to 10"),
], ids=["negative", "ten"])
def test_cifar_labels_outside_the_ten_classes_are_refused(tmp_path, train_labels, test_labels, problem):
    # A label of -1 used to load, then fail inside `ganctl classifier` with IndexError "Target -1 is out of bounds".
    write_cifar_folder(tmp_path, [(CIFAR_PIXELS, train_labels)] * 5, (CIFAR_PIXELS, test_labels))
    with pytest.raises(UserError) as error:
        cifar10(tmp_path)
    assert problem in str(error.value) and str(tmp_path) in str(error.value)


def test_negative_idx_labels_are_refused(tmp_path):
    write_mnist_folder(tmp_path, PIXELS, [0, 1, 2], PIXELS[:1], [3])
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(np.array([-1], dtype=np.int8)))  # signed type 0x09
    with pytest.raises(UserError, match=r"negative label \(-1\)") as error:
        mnist(tmp_path)
    assert str(tmp_path / "t10k-labels-idx1-ubyte") in str(error.value)


# ---- the CLI: one line on stderr, exit code 2, nothing already there changed -----------------------------------

HISTORY = {  # a working folder's outputs/ before the bad command
    "outputs/2020-01-01/10-00-00_done/.hydra/config.yaml": b"seed: 0\n",
    "outputs/2020-01-01/10-00-00_done/ganctl.log": b"done\n",
    "outputs/2020-01-01/10-00-00_done/checkpoints/last.pt": bytes(range(256)),
    "outputs/2020-01-01/10-00-00_done/metrics.json": b'{"metrics": {"mmd": 0.01}}\n',
    # A run that so far holds only Hydra's files, as a refused run does before ganctl removes it: this one is
    # someone else's (say, just starting in another shell) and must survive.
    "outputs/2020-01-01/11-00-00/.hydra/config.yaml": b"seed: 1\n",
    "outputs/2020-01-01/11-00-00/ganctl.log": b"",
    "outputs/classifiers/digits.pt": b"weights",
    "outputs/cache/fid_stats/ring8.npz": b"statistics",
}


def files_state(root: Path) -> dict[str, tuple[int, int]]:
    """Every file in the working folder (outputs/, the data, a metrics.json) with its size and modification time.
    Wider than tests/cli/test_cli.py's snapshot (outputs/ only): a refused `evaluate` must not write
    ./metrics.json either."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


def folders_in(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_dir()}


def write_truncated_mnist(root: Path) -> None:
    write_mnist_folder(root / "mnist", PIXELS, LABELS, PIXELS[:1], [3])
    file = root / "mnist" / "train-images-idx3-ubyte"
    file.write_bytes(file.read_bytes()[:-7])


def write_truncated_cifar(root: Path) -> None:
    write_cifar_folder(root / "cifar", [(CIFAR_PIXELS, CIFAR_LABELS)] * 5, (CIFAR_PIXELS, CIFAR_LABELS))
    file = root / "cifar" / "data_batch_3"
    file.write_bytes(file.read_bytes()[:-100])


def write_mixed_sizes(root: Path) -> None:
    save_png(root / "images" / "a.png", PIXELS[0])
    save_png(root / "images" / "b.png", np.zeros((6, 5), dtype=np.uint8))


def write_text_png(root: Path) -> None:
    (root / "images").mkdir()
    (root / "images" / "notes.png").write_text("not an image\n")


def write_samples_and_wrong_weights(root: Path) -> None:
    np.save(root / "x.npy", PIXELS)  # (3, 4, 5) uint8: three 1x4x5 images
    torch.save(nn.Linear(4, 2).state_dict(), root / "linear.pt")  # a valid state dict of another network
    torch.manual_seed(0)
    torch.save(classifier_state(Classifier(3, 32, 10), "cifar10", 0.5), root / "cifar10.pt")  # for 3x32x32 images


@dataclass
class CliCase:
    id: str
    args: list[str]
    message: list[str]  # parts of the one stderr line; {root} is the case's working folder
    setup: Callable[[Path], None] | None = None


TRAIN = ["train", "train.steps=2", "train.progress=false"]
EVALUATE = ["evaluate", "--real", "x.npy", "--fake", "x.npy", "metrics=[fid]"]
# Not repeated here, tested in tests/cli/test_cli.py (BAD_TRAIN): method=foo, data=nope, train.stepz=3,
# train.steps=abc, train.steps=-5, a missing MNIST folder.
CLI_CASES = [
    # config: unknown group choice or key, wrong types (Hydra composes, no torch import: about a second each)
    CliCase("model=nope", [*TRAIN, "model=nope"],
            ["unknown model 'nope'; choose one of: dcgan, dcgan_cpu, mlp, pacgan_mlp"]),
    CliCase("foo=1", [*TRAIN, "foo=1"], ["Key 'foo' not in 'Config'", "+foo=1"]),
    CliCase("batch_size=1.5", [*TRAIN, "train.batch_size=1.5"],
            ["Value '1.5' of type 'float' could not be converted to Integer", "train.batch_size"]),
    CliCase("progress=maybe", [*TRAIN, "train.progress=maybe"],
            ["Value 'maybe' is not a valid bool", "train.progress"]),
    CliCase("seed=abc", [*TRAIN, "seed=abc"], ["Value 'abc' of type 'str' could not be converted to Integer", "seed"]),
    # sizes
    CliCase("batch_size=0", [*TRAIN, "train.batch_size=0"], ["train.batch_size=0 must be a positive integer"]),
    CliCase("n_train=-3", [*TRAIN, "data.n_train=-3"], ["data.n_train must be a positive integer, got -3"]),
    CliCase("minutes=0", [*TRAIN, "train.minutes=0"],
            ["train.minutes=0.0 must be a positive number of minutes, or null for no time limit"]),
    CliCase("eval.n=-1", [*TRAIN, "data.n_train=256", "data.n_test=64", "eval.n=-1"], ["eval.n=-1 must be positive"]),
    # missing data: the message names the path it looked at
    CliCase("cifar10 missing", [*TRAIN, "data=cifar10", "data.path=nowhere/cifar"],
            ["data folder {root}/nowhere/cifar does not exist", "cifar-10-batches-py"]),
    CliCase("array missing", [*TRAIN, "data=array", "data.path=nowhere/d.npz"],
            ["array file {root}/nowhere/d.npz does not exist"]),
    CliCase("image_folder missing", [*TRAIN, "data=image_folder", "data.path=nowhere/images"],
            ["image folder {root}/nowhere/images does not exist"]),
    # damaged data
    CliCase("mnist truncated", [*TRAIN, "data=mnist", "data.path=mnist"],
            ["{root}/mnist/train-images-idx3-ubyte is truncated"], write_truncated_mnist),
    CliCase("cifar10 truncated", [*TRAIN, "data=cifar10", "data.path=cifar"],
            ["{root}/cifar/data_batch_3 is not a readable CIFAR-10 batch"], write_truncated_cifar),
    CliCase("array truncated", [*TRAIN, "data=array", "data.path=d.npz"], ["{root}/d.npz is not a readable numpy file"],
            lambda root: (root / "d.npz").write_bytes(npz_bytes(False, x=PIXELS)[:-30])),
    # image folders
    CliCase("image_folder mixed sizes", [*TRAIN, "data=image_folder", "data.path=images"],
            ["images differ in size (a.png is 5x4, b.png is 5x6); set data.size=4"], write_mixed_sizes),
    CliCase("image_folder empty", [*TRAIN, "data=image_folder", "data.path=images"],
            ["{root}/images holds no .png"], lambda root: (root / "images").mkdir()),
    CliCase("image_folder text as png", [*TRAIN, "data=image_folder", "data.path=images"],
            ["{root}/images/notes.png is not a readable image"], write_text_png),
    # weights of the wrong network
    CliCase("inception weights of another net",
            [*EVALUATE, "metrics.features=inception", "metrics.inception_weights=linear.pt"],
            ["linear.pt does not hold the FID Inception's weights", "unexpected weight, bias",
             "metrics.inception_weights=PATH"], write_samples_and_wrong_weights),
    CliCase("classifier file of another net",
            [*EVALUATE, "metrics.features=classifier", "metrics.classifier=linear.pt"],
            ["linear.pt is not a ganctl classifier", "ganctl classifier data="], write_samples_and_wrong_weights),
    CliCase("classifier for other images",
            [*EVALUATE, "metrics.features=classifier", "metrics.classifier=cifar10.pt"],
            ["the classifier cifar10.pt (trained on cifar10) reads images of shape (3, 32, 32), got a batch of shape "
             "(3, 1, 4, 5)"], write_samples_and_wrong_weights),
]
# `+foo=1` is Hydra's explicit "add this key": accepted, and shown in the composed config (see the test below).
APPEND = CliCase("+foo=1", ["train", "--cfg", "job", "+foo=1"], [])


@dataclass
class CliRun:
    root: Path
    result: subprocess.CompletedProcess
    files_before: dict
    files_after: dict
    new_folders: set[str]


def run_case(base: Path, case: CliCase) -> CliRun:
    root = base / case.id.replace(" ", "_")
    for name, data in HISTORY.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    if case.setup is not None:
        case.setup(root)
    files_before, folders_before = files_state(root), folders_in(root)
    result = run_cli(*case.args, cwd=root)
    return CliRun(root, result, files_before, files_state(root), folders_in(root) - folders_before)


@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory):
    """Every CLI case, each in a working folder of its own, two at a time: each is a fresh Python process that
    spends most of its 1-7 s of CPU importing."""
    base = tmp_path_factory.mktemp("cli")
    with ThreadPoolExecutor(max_workers=2) as pool:
        yield {case.id: pool.submit(run_case, base, case) for case in [*CLI_CASES, APPEND]}


@pytest.mark.parametrize("case", CLI_CASES, ids=[case.id for case in CLI_CASES])
def test_cli_refuses_bad_input_in_one_line_exit_2_losing_nothing(cli_runs, case):
    run = cli_runs[case.id].result()
    out, err = run.result.stdout, run.result.stderr
    assert run.result.returncode == 2, err
    assert "Traceback" not in out + err
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: "), err
    for part in case.message:
        assert part.format(root=run.root) in err, (part, err)
    assert run.files_after == run.files_before  # nothing changed, removed or added (no half-made run folder)


def test_cli_refusals_leave_no_empty_folders(cli_runs):
    left = {case.id: sorted(cli_runs[case.id].result().new_folders) for case in CLI_CASES}
    assert not {case: folders for case, folders in left.items() if folders}  # not even an empty outputs/<date>


def test_cli_append_unknown_key_is_explicit_and_shown(cli_runs):
    # Hydra's `+key=value` adds a key on purpose (`+experiment=...` is how experiments are chosen); `foo=1` without
    # the `+` is refused above. The added key is visible in the composed config and nothing runs.
    run = cli_runs[APPEND.id].result()
    assert run.result.returncode == 0, run.result.stderr
    assert "\nfoo: 1\n" in run.result.stdout
    assert run.files_after == run.files_before and not run.new_folders
