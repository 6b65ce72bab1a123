"""metrics.precision (ganctl/engine/features.py): fp32 is bit for bit the plain float32 forward of the network in
the extractor's channels_last layout (and within float32 rounding of the NCHW one); bf16 is within bfloat16's
rounding of fp32 and not equal to it; tf32 is fp32 on a CPU; a fast path reports its FID beside the
fp32 one (fid_fp32) with fp32 statistics cached apart; a bad value is one line. Also: evaluation samples are
generated in inference mode with the generator's mode restored.

No download: the Inception weights are random (save_random_weights). On the CPU the Inception input side is
patched from 299 to 75 (the smallest the network takes: every layer still runs, 16x fewer pixels), so that
bf16 -- slow on a CPU without bfloat16 units -- stays under a second.
"""

import dataclasses
import logging

import numpy as np
import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from ganctl.cli.app import app
from ganctl.data.digits import digits
from ganctl.engine import build, checkpoint, features
from ganctl.engine.evaluate import generate, score
from ganctl.errors import UserError
from ganctl.metrics import inception
from ganctl.metrics.fid import fid
from ganctl.metrics.classifier import Classifier, classifier_state, load_classifier
from ganctl.metrics.inception import save_random_weights
from tests.conftest import make_config

CPU = torch.device("cpu")
SOURCE = {"data": {"_target_": "test"}, "split": "test", "n": 0}  # what the cache key records of the real set
BF16_U = 2.0**-8  # bfloat16's unit roundoff: 8 significant bits (7 stored), round to nearest
TF32_U = 2.0**-11  # TF32's: 11 significant bits (10 stored)
# Longest chain of conv-BN-ReLU units through the FID Inception, plus fc: stem 5, Mixed_5b-5d 3 x 3, Mixed_6a 3,
# Mixed_6b-6e 4 x 5, Mixed_7a 4, Mixed_7b-7c 2 x 3, fc 1. Independent roundings of relative size u in each of L
# chained layers grow like a random walk, sqrt(L) u: the bound for a reduced-precision forward's relative error.
DEPTH = 48


def relative_error(x, reference):
    """||x - ref||_F / ||ref||_F, in float64."""
    return float((x.double() - reference.double()).norm() / reference.double().norm())


def record_first_input(conv, record, key, *extra):
    """A pre-hook on conv that stores (is its input channels_last?, *each extra()) under record[key], once."""

    def hook(module, args):
        record.setdefault(key, (args[0].is_contiguous(memory_format=torch.channels_last), *(f() for f in extra)))

    return conv.register_forward_pre_hook(hook)  # the hook returns None: the input goes on unchanged


def settings(*overrides):
    return make_config(*overrides).metrics


def inception_settings(weights, precision):
    return settings("metrics.features=inception", f"metrics.inception_weights={weights}",
                    f"metrics.precision={precision}")


@pytest.fixture(scope="module")
def inception_run(tmp_path_factory):
    """fp32 and bf16 features of 3 images (batches of 2) through the extractor, and the first conv's input format."""
    weights = save_random_weights(tmp_path_factory.mktemp("inception") / "random.pth", seed=0)
    gen = torch.Generator().manual_seed(0)
    pixels = torch.randint(0, 256, (3, 3, 32, 32), dtype=torch.uint8, generator=gen)
    images = pixels.float() / 127.5 - 1  # as ganctl's loaders scale uint8 images: exact back to the same pixels
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # conftest's per-test setting does not reach a module fixture
    out, channels_last = {}, {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(inception, "SIZE", 75)
        ext = features.extractor(inception_settings(weights, "bf16"), None, CPU)
        assert ext.precision == "bf16"
        for precision in ("fp32", "bf16"):  # one network (loading one costs seconds), as score() does for fid_fp32
            hook = record_first_input(ext.net.Conv2d_1a_3x3.conv, channels_last, precision)
            out[precision] = dataclasses.replace(ext, precision=precision).extract(images, batch_size=2)
            hook.remove()
        # The plain forward, as features were extracted before metrics.precision existed, of the same network:
        # in the channels_last layout the extractor gave it, and back in the NCHW layout load_inception returns.
        net = ext.net
        with torch.inference_mode():
            plain_nhwc = torch.cat([net(pixels[:2])[0], net(pixels[2:])[0]])
            net = net.to(memory_format=torch.contiguous_format)
            plain_nchw = torch.cat([net(pixels[:2])[0], net(pixels[2:])[0]])
    torch.set_num_threads(threads)
    return out, plain_nchw, plain_nhwc, channels_last


def test_fp32_features_are_the_plain_forward_bit_for_bit(inception_run):
    out, plain_nchw, plain_nhwc, channels_last = inception_run
    feats, probs = out["fp32"]
    assert feats.shape == (3, 2048) and probs.shape == (3, 1008) and feats.dtype == torch.float32
    assert feats.std(dim=0).mean() > 1e-2  # three different images, three different feature vectors
    # metrics.precision=fp32 adds nothing to the arithmetic: bitwise the plain float32 forward of the network in
    # the layout the extractor gives it (channels_last on every device; features.py says why).
    assert torch.equal(feats, plain_nhwc)
    assert channels_last == {"fp32": (True,), "bf16": (True,)}  # the 75 x 75 batch reached the first conv as NHWC
    # Against the NCHW layout of before: the same float32 sums in another order, not the same bits. 1e-4 is the
    # float32 budget of test_inception.py's float64 parity test (measured here ~4e-6 on features of order 1).
    assert not torch.equal(feats, plain_nchw)
    torch.testing.assert_close(feats, plain_nchw, rtol=0, atol=1e-4)


def test_bf16_features_are_within_bfloat16_rounding_of_fp32_and_not_equal(inception_run):
    out, *_ = inception_run
    (f32, p32), (f16, p16) = out["fp32"], out["bf16"]
    assert f16.dtype == p16.dtype == torch.float32  # cast back after the autocast forward
    error = relative_error(f16, f32)
    # Upper: sqrt(DEPTH) * 2^-8 = 0.027 (module constants); measured 0.0083. Lower: 1/16 of one bfloat16 rounding,
    # 1000x what float32 reordering gives (the NCHW/NHWC test above: ~1e-6 relative): bf16 really ran.
    assert BF16_U / 16 < error < DEPTH**0.5 * BF16_U, error
    assert BF16_U / 16 < relative_error(p16, p32) < DEPTH**0.5 * BF16_U  # the softmax of the logits too


def test_tf32_is_fp32_on_the_cpu_and_said_once(caplog, monkeypatch):
    monkeypatch.setattr(features, "_said_once", set())
    chosen = settings()
    with caplog.at_level(logging.INFO, logger="ganctl"):
        resolved = []
        for name in ("tf32", "fp32", "tf32", "bf16"):
            chosen.precision = name
            resolved.append(features.precision(chosen, CPU))
    assert resolved == ["fp32", "fp32", "fp32", "bf16"]
    assert caplog.text.count("metrics.precision=tf32 computes features in fp32 on the cpu") == 1
    assert "tf32" not in caplog.text.replace("metrics.precision=tf32", "")  # nothing else said about it


@pytest.fixture(scope="module")
def random_classifier(tmp_path_factory):
    """An untrained classifier for 8x8 digits (seeded): features that differ between digits and noise."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("classifier") / "digits.pt"
    checkpoint.save(classifier_state(Classifier(1, 8, 10), "digits", 0.1), path)
    return path


def test_fast_path_reports_fid_fp32_equal_to_the_fp32_run(random_classifier, tmp_path, caplog):
    data = digits()
    real = data.test  # (359, 1, 8, 8): n > d = 128, no FID warning
    fake = torch.rand(real.shape, generator=torch.Generator().manual_seed(0)) * 2 - 1  # noise, far from digits
    base = ["metrics=[fid]", "metrics.features=classifier", f"metrics.classifier={random_classifier}",
            f"metrics.cache={tmp_path}", "metrics.batch_size=100"]
    exact = score(settings(*base, "metrics.precision=fp32"), real, fake, {}, CPU, SOURCE)
    assert set(exact) == {"fid"}  # no comparison when nothing is approximated
    assert len(list(tmp_path.glob("*.pt"))) == 1
    with caplog.at_level(logging.INFO, logger="ganctl"):
        fast = score(settings(*base, "metrics.precision=bf16"), real, fake, {}, CPU, SOURCE)
    assert set(fast) == {"fid", "fid_fp32"}
    # The reference is the fp32 path itself: the same fp32 fake features and the fp32 real statistics, read back
    # bitwise from the cache the first run wrote, so the same float.
    assert fast["fid_fp32"] == exact["fid"]
    # bf16 features move this FID by less than one bfloat16 rounding of it (measured 4e-4 relative through the
    # classifier's 3 layers), but they do move it.
    assert fast["fid"] != exact["fid"]
    assert abs(fast["fid"] - exact["fid"]) < BF16_U * exact["fid"]
    assert exact["fid"] > 0.1  # digits against noise: a real distance to compare, not 0 against 0
    line = (f"FID bf16 = {fast['fid']:.6g}, fp32 = {exact['fid']:.6g}, "
            f"difference {fast['fid'] - exact['fid']:+.3g}")
    assert line in caplog.text
    # Statistics cached per precision: the bf16 real statistics went to a file of their own; fp32's was reused.
    assert len(list(tmp_path.glob("*.pt"))) == 2
    assert score(settings(*base, "metrics.precision=bf16"), real, fake, {}, CPU, SOURCE) == fast
    assert len(list(tmp_path.glob("*.pt"))) == 2
    # Independent computation: FID of the bf16 classifier features, extracted here without the engine.
    net = load_classifier(random_classifier)
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):  # in the engine's batches of 100
        f_real, f_fake = (torch.cat([net.features(x[i : i + 100]).float() for i in range(0, len(x), 100)])
                          for x in (real, fake))
    assert fast["fid"] == pytest.approx(fid(real=f_real, fake=f_fake), rel=1e-9)


def test_unknown_precision_is_one_line_listing_the_choices(tmp_path, monkeypatch):
    x = torch.zeros(4, 1, 8, 8)
    for features_space in ("raw", "classifier"):  # checked even where no network runs
        with pytest.raises(UserError) as info:
            score(settings("metrics=[fid]", f"metrics.features={features_space}", "metrics.precision=fp8"),
                  x, x, {}, CPU, SOURCE)
        message = str(info.value)
        assert "\n" not in message
        assert message.startswith("metrics.precision=fp8 is not known; choose one of: fp32, tf32, bf16"), message
    # The same through the CLI (in this process: a fresh one spends seconds importing): exit 2, one line on
    # stderr, no metrics.json.
    monkeypatch.chdir(tmp_path)
    np.save(tmp_path / "real.npy", np.zeros((8, 2), dtype=np.float32))
    result = CliRunner().invoke(app, ["evaluate", "--real", "real.npy", "--fake", "real.npy", "metrics.precision=fp8"])
    assert result.exit_code == 2 and result.exception.__class__ is SystemExit, result.stderr
    assert not (tmp_path / "metrics.json").exists()
    assert result.stderr.strip().splitlines() == [
        ("error: metrics.precision=fp8 is not known; choose one of: fp32, tf32, bf16 (fp32: exact, tf32: TF32 "
         "tensor cores on CUDA, bf16: bfloat16 autocast)")]


def test_generate_runs_in_inference_mode_and_restores_the_mode():
    g = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    seen = []
    g.register_forward_hook(lambda m, args, out: seen.append((m.training, torch.is_inference_mode_enabled())))
    g.train()
    samples = generate(g, 10, 3, CPU, seed=0, batch_size=4)
    assert seen == [(False, True)] * 3  # 4 + 4 + 2 samples, each batch in eval and inference mode
    assert samples.shape == (10, 4) and samples.is_inference() and g.training
    # Eval mode means BatchNorm's running statistics (mean 0, var 1 at init): the output is the linear map's.
    noise = torch.Generator().manual_seed(0)  # the same stream, drawn in the same batches
    z = torch.cat([torch.randn(k, 3, generator=noise) for k in (4, 4, 2)])
    torch.testing.assert_close(samples, g[0](z).detach() / (1 + 1e-5) ** 0.5)

    def broken(z):
        raise RuntimeError("out of memory")

    g.forward = broken
    with pytest.raises(RuntimeError):
        generate(g, 10, 3, CPU, seed=0)
    assert g.training  # restored although the generator failed


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_precisions_channels_last_and_tf32_settings_restored(tmp_path):
    device = build.device("cuda")  # the engine's settings: TF32 matmuls (float32 matmul precision "high")
    before = (torch.backends.cuda.matmul.fp32_precision, torch.backends.cudnn.conv.fp32_precision)
    weights = save_random_weights(tmp_path / "w.pth")
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8, generator=gen).float() / 127.5 - 1
    cpu = features.extractor(inception_settings(weights, "fp32"), None, CPU).extract(images, 4)[0]
    out, seen = {}, {}
    for precision in ("fp32", "tf32", "bf16"):
        ext = features.extractor(inception_settings(weights, precision), None, device)
        assert ext.precision == precision
        assert ext.net.Mixed_7c.branch_pool.conv.weight.is_contiguous(memory_format=torch.channels_last)
        record_first_input(ext.net.Conv2d_1a_3x3.conv, seen, precision,
                           lambda: torch.backends.cudnn.conv.fp32_precision,
                           lambda: torch.backends.cuda.matmul.fp32_precision,
                           lambda: torch.is_autocast_enabled("cuda"))
        out[precision] = ext.extract(images, batch_size=4)[0]
        assert out[precision].device.type == "cuda" and out[precision].dtype == torch.float32
    assert seen == {"fp32": (True, "ieee", "ieee", False), "tf32": (True, "tf32", "tf32", False),
                    "bf16": (True, "ieee", "ieee", True)}
    assert (torch.backends.cuda.matmul.fp32_precision, torch.backends.cudnn.conv.fp32_precision) == before
    assert torch.get_float32_matmul_precision() == "high"  # the engine's setting reads back, no mixed-API error
    # fp32: TF32 off although the engine turned it on, so the GPU agrees with the CPU within float32 reordering
    # (the budget of test_inception.py's CUDA test).
    torch.testing.assert_close(out["fp32"].cpu(), cpu, rtol=0, atol=1e-4)
    # tf32 and bf16: within sqrt(DEPTH) roundings of their formats, and above float32 noise (they did run).
    assert 1e-5 < relative_error(out["tf32"], out["fp32"]) < DEPTH**0.5 * TF32_U
    assert BF16_U / 16 < relative_error(out["bf16"], out["fp32"]) < DEPTH**0.5 * BF16_U
