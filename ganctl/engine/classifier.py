"""`ganctl classifier`: train the small CNN of ganctl.metrics.classifier on a labelled data set and save it.

The metrics that read images through a classifier (Stacked MNIST mode counts; softmax- and feature-based scores)
load the saved file. Training is plain: `classifier.epochs` passes of minibatch Adam (lr `classifier.lr`) on the
cross-entropy over data.train in a seeded random order, then the accuracy on data.test, which is stored in the
file and printed. The final weights are kept (no selection on the test set, which would bias the accuracy).
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
import torch.nn.functional as F
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from ganctl.data.base import Dataset
from ganctl.engine import build, checkpoint
from ganctl.engine.config import CONF_DIR, register
from ganctl.errors import UserError
from ganctl.metrics.classifier import DEFAULT_DIR, Classifier, classifier_state

log = logging.getLogger("ganctl")

LABELLED = ("digits, mnist, fashion_mnist, stacked_mnist, cifar10, image_folder with one sub-folder per class, "
            "or array with labels")


def main(overrides: list[str]) -> tuple[float, Path]:
    """Compose conf/config.yaml with `overrides` (as `ganctl train` would, without a run folder), train, save.
    Returns (test accuracy, saved path)."""
    register()
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=list(overrides))
    return run(cfg)


def run(cfg: DictConfig) -> tuple[float, Path]:
    settings = cfg.classifier
    for key in ("epochs", "batch_size"):
        if settings[key] < 1:
            raise UserError(f"classifier.{key}={settings[key]} must be a positive integer")
    if not settings.lr > 0:
        raise UserError(f"classifier.lr={settings.lr} must be positive")
    if settings.out is not None and Path(settings.out).suffix != ".pt":
        raise UserError(f"classifier.out={settings.out}: a classifier is saved as a .pt file; give a name ending "
                        "in .pt")
    torch.manual_seed(cfg.seed)
    device = build.device(cfg.device)
    data = build.dataset(cfg)
    out = Path(settings.out) if settings.out else DEFAULT_DIR / f"{data.name}.pt"
    net, accuracy = train_classifier(data, settings.epochs, settings.batch_size, settings.lr, cfg.seed, device)
    checkpoint.save(classifier_state(net, data.name, accuracy), out)
    log.info("classifier on %s: test accuracy %.4f on %d images, saved to %s", data.name, accuracy,
             len(data.test), out)
    return accuracy, out


def train_classifier(data: Dataset, epochs: int = 10, batch_size: int = 128, lr: float = 1e-3, seed: int = 0,
                     device: torch.device | str = "cpu") -> tuple[Classifier, float]:
    """A Classifier trained on data.train / data.train_labels, in eval mode, and its accuracy on data.test."""
    if data.train_labels is None or data.test_labels is None:
        raise UserError(f"data {data.name} has no labels; `ganctl classifier` needs a labelled data set: {LABELLED}")
    if not data.is_image or data.shape[1] != data.shape[2]:
        raise UserError(f"data {data.name} holds samples of shape {data.shape}; the classifier reads square images "
                        f"(C, S, S): {LABELLED}")
    classes = int(max(data.train_labels.max(), data.test_labels.max())) + 1
    channels, side = data.shape[0], data.shape[1]
    torch.manual_seed(seed)  # the initial weights and the dropout masks
    net = Classifier(channels, side, classes).to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    order_rng = torch.Generator().manual_seed(seed)
    x, y = data.train.to(device), data.train_labels.to(device)
    for epoch in range(1, epochs + 1):
        net.train()
        total = torch.zeros((), device=device)  # summed on the device, read back once per epoch
        for batch in torch.randperm(len(x), generator=order_rng).to(device).split(batch_size):
            loss = F.cross_entropy(net(x[batch]), y[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.detach() * len(batch)
        log.info("classifier epoch %d/%d: training loss %.4f", epoch, epochs, float(total) / len(x))
    net.eval()
    return net, accuracy(net, data.test.to(device), data.test_labels.to(device))


@torch.inference_mode()
def accuracy(net: Classifier, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 1000) -> float:
    """Share of images whose arg-max class is the label, in [0, 1]."""
    correct = sum(int((net(x).argmax(dim=1) == y).sum()) for x, y in zip(images.split(batch_size),
                                                                      labels.split(batch_size)))
    return correct / len(images)
