"""The FID Inception-v3: key names and shapes of the standard weights file, the TF1 resize, parity with an
independent reference of the architecture (tests/metrics/reference_inception.py), and its one-line errors.

No download: the weights are random, written with the standard key names by save_random_weights.
"""

import numpy as np
import pytest
import torch

from ganctl.errors import UserError
from ganctl.metrics.inception import (
    WEIGHTS_URL,
    InceptionV3,
    load_inception,
    resize_bilinear_tf1,
    save_random_weights,
)
from tests.metrics.reference_inception import (
    UNITS,
    expected_shapes,
    reference_features,
    tf1_resize_numpy,
)


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory):
    return save_random_weights(tmp_path_factory.mktemp("inception") / "random.pth", seed=0)


def images(n, h, w, seed):
    return torch.randint(0, 256, (n, 3, h, w), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


def assert_one_line_error(call, *fragments):
    with pytest.raises(UserError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, (fragment, message)


def test_inception_state_dict_equals_standard_file_keys_and_shapes():
    with torch.device("meta"):
        net = InceptionV3(None)
    shapes = {key: tuple(value.shape) for key, value in net.state_dict().items()}
    expected = expected_shapes()
    assert list(shapes) == list(expected)  # same names, and the same order as the reference definitions
    assert shapes == expected
    # 94 conv-BN units (5 stem + 3 x 7 A + 4 B + 4 x 10 C + 6 D + 2 x 9 E), 5 tensors each, plus fc's 2.
    assert len(UNITS) == 94 and len(shapes) == 94 * 5 + 2
    per_block = {}
    for prefix, *_ in UNITS:
        block = prefix.split(".")[0] if prefix.startswith("Mixed") else "stem"
        per_block[block] = per_block.get(block, 0) + 1
    assert per_block == {"stem": 5, "Mixed_5b": 7, "Mixed_5c": 7, "Mixed_5d": 7, "Mixed_6a": 4, "Mixed_6b": 10,
                         "Mixed_6c": 10, "Mixed_6d": 10, "Mixed_6e": 10, "Mixed_7a": 6, "Mixed_7b": 9, "Mixed_7c": 9}
    assert shapes["Conv2d_1a_3x3.conv.weight"] == (32, 3, 3, 3)
    assert shapes["Conv2d_1a_3x3.bn.running_var"] == (32,)
    assert shapes["Mixed_5b.branch_pool.conv.weight"] == (32, 192, 1, 1)
    assert shapes["Mixed_6b.branch7x7_2.conv.weight"] == (128, 128, 1, 7)
    assert shapes["Mixed_7c.branch_pool.conv.weight"] == (192, 2048, 1, 1)
    assert shapes["fc.weight"] == (1008, 2048) and shapes["fc.bias"] == (1008,)


def test_resize_tf1_matches_tensorflow_published_values():
    # TensorFlow's own output, as recorded in tfjs-core/src/ops/resize_bilinear_test.ts ("matches tensorflow w/
    # random numbers alignCorners=false", Apache License 2.0): a (2, 3, 2) HWC image resized to (4, 5).
    image = torch.tensor([1.19074044, 0.91373104, 2.01611669, -0.52270832, 0.38725395, 1.30809779,
                          0.61835143, 3.49600659, 2.09230986, 0.56473997, 0.03823943, 1.19864896]).reshape(2, 3, 2)
    expected = torch.tensor([
        1.19074047, 0.91373104, 1.68596613, 0.05186744, 1.69034398, -0.15654698, 0.7130264, 0.94193673, 0.38725394,
        1.30809784, 0.9045459, 2.20486879, 1.59434628, 0.89455694, 1.68591988, 0.26748738, 0.58103991, 1.00690198,
        0.21274668, 1.25337338, 0.6183514, 3.49600649, 1.50272655, 1.73724651, 1.68149579, 0.69152176, 0.44905344,
        1.07186723, 0.03823943, 1.19864893, 0.6183514, 3.49600649, 1.50272655, 1.73724651, 1.68149579, 0.69152176,
        0.44905344, 1.07186723, 0.03823943, 1.19864893]).reshape(4, 5, 2)
    out = resize_bilinear_tf1(image.permute(2, 0, 1)[None], (4, 5))[0].permute(1, 2, 0)  # HWC -> NCHW -> HWC
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-6)  # the recorded values have 8 decimals


def test_resize_tf1_closed_form():
    # src = i * in / out, no half-pixel shift; the last rows and columns repeat the edge (hi clamps to in - 1).
    row = torch.tensor([0.0, 10.0, 20.0, 30.0])[None, None, None]  # (1, 1, 1, 4)
    torch.testing.assert_close(resize_bilinear_tf1(row, (1, 3))[0, 0, 0], torch.tensor([0.0, 40 / 3, 80 / 3]))
    square = torch.tensor([[0.0, 1.0], [2.0, 3.0]])[None, None]
    expected = torch.tensor([[0, 0.5, 1, 1], [1, 1.5, 2, 2], [2, 2.5, 3, 3], [2, 2.5, 3, 3]])
    torch.testing.assert_close(resize_bilinear_tf1(square, (4, 4))[0, 0], expected)


@pytest.mark.parametrize("size_in, size_out", [((32, 32), (299, 299)), ((7, 5), (3, 4)), ((5, 9), (12, 2))])
def test_resize_tf1_matches_numpy_reference(size_in, size_out):
    x = images(2, *size_in, seed=1).float()
    expected = tf1_resize_numpy(x.numpy(), *size_out)
    # float32 interpolation of 0..255 values against float64: ~1e-5 rounding, far below a one-pixel shift.
    np.testing.assert_allclose(resize_bilinear_tf1(x, size_out).numpy(), expected, rtol=0, atol=1e-3)


def test_inception_matches_reference_architecture(weights_file):
    """Same random weights file in both; the reference runs in float64, so 1e-4 bounds ganctl's float32 error
    (measured ~1e-5 on features of order 1). A wrong pool, eps or resize moves them by 0.3 or more."""
    net = load_inception(weights_file)
    x = images(2, 40, 37, seed=2)  # not square, not 299: the resize is part of what is compared
    with torch.inference_mode():
        pool3, logits = net(x)
    assert pool3.shape == (2, 2048) and logits.shape == (2, 1008)
    assert pool3.dtype == logits.dtype == torch.float32
    state = torch.load(weights_file, weights_only=True, mmap=True)
    ref_pool3, ref_logits = reference_features(state, x.numpy())
    assert ref_pool3.std(dim=0).mean() > 1e-2  # the two images give different features: not a trivial match
    torch.testing.assert_close(pool3.double(), ref_pool3, rtol=0, atol=1e-4)
    torch.testing.assert_close(logits.double(), ref_logits, rtol=0, atol=1e-4)


def test_inception_torch_resize_feeds_pytorch_fid_input(weights_file):
    """resize="torch": the network sees F.interpolate(x / 255) * 2 - 1 (pytorch-fid), here against a numpy
    half-pixel bilinear resize (src = (i + 0.5) * in / out - 0.5, clamped at 0)."""
    seen = []

    class Seen(Exception):
        pass

    def grab(module, args):
        seen.append(args[0])
        raise Seen  # the first conv's input is all this test needs

    net = InceptionV3(weights_file, resize="torch")
    net.Conv2d_1a_3x3.register_forward_pre_hook(grab)
    x = images(1, 6, 5, seed=3)
    with pytest.raises(Seen):
        net(x)

    def matrix(n_in, n_out):
        r = np.zeros((n_out, n_in))
        for i in range(n_out):
            s = max((i + 0.5) * n_in / n_out - 0.5, 0.0)
            lo = int(s)
            r[i, lo] += 1 - (s - lo)
            r[i, min(lo + 1, n_in - 1)] += s - lo
        return r

    expected = np.einsum("ih,nchw,jw->ncij", matrix(6, 299), x.numpy() / 255, matrix(5, 299)) * 2 - 1
    np.testing.assert_allclose(seen[0].numpy(), expected, rtol=0, atol=1e-5)


def test_load_inception_accepts_pytorch_fid_batchnorm_counters(weights_file, tmp_path):
    # A file saved from a torchvision-style module carries num_batches_tracked per BatchNorm; inference ignores it.
    state = torch.load(weights_file, weights_only=True, mmap=True)
    prefixes = {key.rsplit(".", 1)[0] for key in state if ".bn." in key}
    assert len(prefixes) == 94
    state.update({f"{prefix}.num_batches_tracked": torch.tensor(0) for prefix in prefixes})
    torch.save(state, tmp_path / "pt_inception.pth")
    loaded = load_inception(tmp_path / "pt_inception.pth").state_dict()
    assert len(loaded) == 472
    assert all(torch.equal(loaded[key], state[key]) for key in loaded)


def test_load_inception_missing_or_unset_path_is_one_line(tmp_path):
    missing = tmp_path / "nowhere" / "pt_inception-2015-12-05-6726825d.pth"
    assert_one_line_error(lambda: load_inception(missing), f"no Inception weights at {missing}", WEIGHTS_URL,
                          "metrics.inception_weights=PATH")
    assert_one_line_error(lambda: load_inception(None), "metrics.inception_weights is not set", WEIGHTS_URL)


def test_load_inception_foreign_file_names_keys_in_one_line(tmp_path):
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a torch file\n" * 10)
    assert_one_line_error(lambda: load_inception(garbage), f"{garbage} is not an Inception weights file", WEIGHTS_URL)

    # Keys are checked before shapes, so tiny tensors suffice to name the wrong keys.
    state = {key: torch.zeros(1) for key in expected_shapes() if key != "fc.bias"}
    state["AuxLogits.fc.weight"] = torch.zeros(1)  # torchvision's ImageNet Inception has an aux head
    torch.save(state, tmp_path / "foreign.pth")
    assert_one_line_error(lambda: load_inception(tmp_path / "foreign.pth"), "missing fc.bias",
                          "unexpected AuxLogits.fc.weight", "metrics.inception_weights=PATH")

    # Shapes are checked in the network's order: the first conv of a one-channel network is the first mismatch.
    state = {key: torch.zeros(1) for key in expected_shapes()}
    state["Conv2d_1a_3x3.conv.weight"] = torch.zeros(32, 1, 3, 3)
    torch.save(state, tmp_path / "grey.pth")
    assert_one_line_error(lambda: load_inception(tmp_path / "grey.pth"),
                          "Conv2d_1a_3x3.conv.weight is (32, 1, 3, 3), not (32, 3, 3, 3)")


def test_inception_input_must_be_uint8_rgb_in_one_line():
    with torch.device("meta"):
        net = InceptionV3(None)
    assert_one_line_error(lambda: net(torch.zeros(2, 3, 32, 32)), "uint8", "torch.float32")
    assert_one_line_error(lambda: net(torch.zeros(2, 1, 28, 28, dtype=torch.uint8)), "(2, 1, 28, 28)")
    assert_one_line_error(lambda: InceptionV3(None, resize="bicubic"), "'bicubic'")


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_inception_on_cuda_matches_cpu(weights_file):
    net = load_inception(weights_file)
    x = images(2, 32, 32, seed=6)
    tf32 = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = False  # on by default for convolutions: 10-bit mantissas, ~1e-3 errors
    try:
        with torch.inference_mode():
            cpu = net(x)
            gpu = net.cuda()(x.cuda())
    finally:
        torch.backends.cudnn.allow_tf32 = tf32
    # Same float32 graph, other convolution algorithms: the CPU-vs-float64 budget of the parity test.
    for a, b in zip(cpu, gpu):
        torch.testing.assert_close(b.cpu(), a, rtol=0, atol=1e-4)
