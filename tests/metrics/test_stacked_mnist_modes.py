"""Stacked MNIST mode counting: closed-form KL values, a hand-made digit reader, a saved classifier, the engine."""

import importlib
import json
import math

import numpy as np
import pytest
import torch
from torch import nn

from ganctl.engine import build, checkpoint
from ganctl.engine.evaluate import EVAL_SEED_OFFSET, compute_metrics, generate
from ganctl.engine.train import train
from ganctl.errors import UserError
from ganctl.metrics.stacked_mnist_modes import stacked_mnist_modes
from ganctl.metrics.classifier import Classifier, classifier_state, load_classifier
from ganctl.metrics.stacked_mnist_modes import mode_statistics, stacked_modes_of
from tests.conftest import make_config
from tests.data.formats import write_mnist_folder

SIDE = 4  # tiny images: the hand-made reader only looks at the mean


class MeanReader(nn.Module):
    """A deterministic "digit classifier" for (B, 1, S, S) images: an image of constant value -1 + 2 d / 9 is
    digit d (logits peak at the nearest d)."""

    in_channels, side, classes, data = 1, SIDE, 10, "mnist"

    def forward(self, x):
        position = (x.mean(dim=(1, 2, 3)) + 1) * 4.5  # (B,) in [0, 9]
        return -(torch.arange(10, dtype=x.dtype)[None, :] - position[:, None]).abs()  # (B, 10)


def digit_images(triples) -> torch.Tensor:
    """(n, 3, S, S): channel c of image i is the constant image of digit triples[i][c]."""
    values = -1 + 2 * torch.as_tensor(triples, dtype=torch.float32) / 9  # (n, 3)
    return values[:, :, None, None].expand(-1, -1, SIDE, SIDE).contiguous()


def test_mode_statistics_closed_forms():
    every_mode_twice = torch.arange(1000).repeat(2)
    assert mode_statistics(every_mode_twice) == {"stacked_modes": 1000.0, "stacked_kl": pytest.approx(0, abs=1e-12)}
    one_mode = torch.full((500,), 417)
    assert mode_statistics(one_mode) == {"stacked_modes": 1.0, "stacked_kl": pytest.approx(math.log(1000), rel=1e-12)}
    # Two modes evenly: KL = log(1000 / 2). Three quarters / one quarter: 3/4 log(750) + 1/4 log(250).
    assert mode_statistics(torch.tensor([3, 999] * 7))["stacked_kl"] == pytest.approx(math.log(500), rel=1e-12)
    uneven = mode_statistics(torch.tensor([5, 5, 5, 6]))
    assert uneven == {"stacked_modes": 2.0,
                      "stacked_kl": pytest.approx(0.75 * math.log(750) + 0.25 * math.log(250), rel=1e-12)}


def test_stacked_modes_of_reads_each_channel_as_one_digit():
    triples = [(a, b, c) for a in range(10) for b in range(10) for c in range(10)]  # all 1000, in label order
    modes = stacked_modes_of(MeanReader(), digit_images(triples), batch_size=64)  # batches do not divide 1000
    assert modes.tolist() == list(range(1000))
    assert stacked_modes_of(MeanReader(), digit_images([(0, 0, 7), (7, 0, 0), (2, 9, 4)])).tolist() == [7, 700, 294]


def test_stacked_mnist_modes_counts_modes_of_flattened_images(monkeypatch):
    # The module by its import path.
    module = importlib.import_module("ganctl.metrics.stacked_mnist_modes")
    monkeypatch.setattr(module, "load_classifier", lambda path: MeanReader())
    triples = [(1, 2, 3)] * 6 + [(9, 9, 9)] * 2  # p = (3/4, 1/4) over two modes
    images = digit_images(triples)
    flat = stacked_mnist_modes(fake=images.flatten(1), classifier="unused.pt")  # (n, 3*S*S), as the engine passes
    assert flat == {"stacked_modes": 2.0,
                    "stacked_kl": pytest.approx(0.75 * math.log(750) + 0.25 * math.log(250), rel=1e-12)}
    assert stacked_mnist_modes(fake=images, classifier="unused.pt") == flat
    with pytest.raises(UserError, match=r"\(3, 4, 4\)"):
        stacked_mnist_modes(fake=torch.zeros(5, 2), classifier="unused.pt")


def saved_classifier(path, in_channels=1, side=SIDE, classes=10) -> Classifier:
    torch.manual_seed(0)
    net = Classifier(in_channels, side, classes).eval()
    checkpoint.save(classifier_state(net, "mnist", 0.5), path)
    return net


def test_stacked_mnist_modes_with_a_saved_classifier_matches_classifying_each_channel_alone(tmp_path):
    net = saved_classifier(tmp_path / "c.pt")
    images = torch.rand(40, 3, SIDE, SIDE, generator=torch.Generator().manual_seed(1)) * 2 - 1
    with torch.no_grad():  # one image and one channel at a time: no batching or reshaping involved
        digits = [[int(net(images[i, c][None, None]).argmax()) for c in range(3)] for i in range(40)]
    expected = mode_statistics(torch.tensor([100 * a + 10 * b + c for a, b, c in digits]))
    assert stacked_mnist_modes(fake=images.flatten(1), classifier=str(tmp_path / "c.pt"), batch_size=7) == expected


def test_stacked_mnist_modes_refuses_a_classifier_that_is_not_a_digit_reader(tmp_path):
    saved_classifier(tmp_path / "rgb.pt", in_channels=3)
    with pytest.raises(UserError, match="one-channel 10-digit classifier"):
        stacked_mnist_modes(fake=torch.zeros(2, 3 * SIDE * SIDE), classifier=str(tmp_path / "rgb.pt"))
    with pytest.raises(UserError, match="no classifier at"):
        stacked_mnist_modes(fake=torch.zeros(2, 3 * SIDE * SIDE), classifier=str(tmp_path / "missing.pt"))


def test_stacked_mnist_modes_selected_in_the_config_through_the_engine(tmp_path):
    """conf/metrics/stacked_mnist_modes.yaml with data=stacked_mnist and DCGAN nets: a 2-step run scores its
    generator's evaluation samples exactly as a direct call on the (n, 3, 28, 28) images does."""
    digits = np.zeros((10, 28, 28), dtype=np.uint8)
    digits[np.arange(10), np.arange(10)] = 255  # any distinct images will do
    write_mnist_folder(tmp_path / "mnist", digits, list(range(10)), digits, list(range(10)))
    saved_classifier(tmp_path / "mnist.pt", side=28)
    cfg = make_config("data=stacked_mnist", f"data.path={tmp_path / 'mnist'}", "data.n_train=64", "data.n_test=48",
                      "model=dcgan", "model.generator.width=4", "model.discriminator.width=4", "train.steps=2",
                      "train.batch_size=16", "train.progress=false", "eval.n=48", "eval.monitor=stacked_kl",
                      "train.ema=0",  # the raw G that the checkpoint's "g" holds is the one scored
                      "metrics=[stacked_mnist_modes]", f"metrics.stacked_mnist_modes.classifier={tmp_path / 'mnist.pt'}")
    train(cfg, tmp_path / "run")
    written = json.loads((tmp_path / "run" / "metrics.json").read_text())["metrics"]
    state = checkpoint.load(tmp_path / "run" / "checkpoints" / "last.pt")
    g, _ = build.networks(cfg, (3, 28, 28), build.method(cfg))
    g.load_state_dict(state["g"])
    fake = generate(g, 48, cfg.model.z_dim, torch.device("cpu"), cfg.seed + EVAL_SEED_OFFSET)  # (48, 3, 28, 28)
    direct = mode_statistics(stacked_modes_of(load_classifier(tmp_path / "mnist.pt"), fake))
    assert written == pytest.approx(direct, rel=1e-12)
    assert 1 <= written["stacked_modes"] <= 48 and 0 <= written["stacked_kl"] <= math.log(1000)
    assert compute_metrics(cfg.metrics, fake, fake, {}) == pytest.approx(direct, rel=1e-12)


def test_stacked_fashion_mnist_reads_channels_with_the_fashion_mnist_classifier(tmp_path, monkeypatch):
    """With no classifier given, the file is outputs/classifiers/<channel set>.pt (the data set names its channel
    set); an MNIST classifier asked to read Fashion-MNIST channels is refused in one line."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "outputs" / "classifiers").mkdir(parents=True)
    net = saved_classifier(tmp_path / "outputs" / "classifiers" / "mnist.pt")
    images = torch.rand(12, 3, SIDE, SIDE, generator=torch.Generator().manual_seed(2)) * 2 - 1
    expected = mode_statistics(stacked_modes_of(net, images))
    assert stacked_mnist_modes(fake=images) == expected  # channel_data defaults to mnist
    with pytest.raises(UserError, match=r"no classifier at outputs/classifiers/fashion_mnist.pt"):
        stacked_mnist_modes(fake=images, channel_data="fashion_mnist")
    with pytest.raises(UserError, match=r"trained on mnist, but these images stack fashion_mnist channels"):
        stacked_mnist_modes(fake=images, channel_data="fashion_mnist", classifier="outputs/classifiers/mnist.pt")
