"""A small CNN image classifier: the feature extractor behind ganctl's classifier-based metrics.

`ganctl classifier data=...` trains one on a labelled data set and saves it; metrics load it with
`load_classifier` and use its softmax (Inception Score, Mode Score, the digit labels of Stacked MNIST mode
counting) or its penultimate features (Frechet distances). A classifier trained on the data set itself stands
in for the Inception network on data far from ImageNet, as in the stacked-MNIST experiments of Unrolled GAN
(Metz et al. 2016, arXiv:1611.02163), VEEGAN (arXiv:1705.07761) and PacGAN (arXiv:1712.04086), which label
each channel with an MNIST classifier.

Architecture (after Keras' mnist_cnn example, which PacGAN's train_mnist.py adapts: two 3x3 convolutions, max
pooling, a 128-unit dense layer, dropout), for images (C, S, S) in [-1, 1]:
    x (B, C, S, S) -> Conv3x3(C, 32, pad 1), ReLU, MaxPool2 -> (B, 32, S/2, S/2)
      -> Conv3x3(32, 64, pad 1), ReLU, MaxPool2 -> (B, 64, S/4, S/4) -> flatten (B, 64 (S/4)^2)
      -> Dropout(0.25), Linear(., 128), ReLU                        = features(x), (B, 128)
      -> Dropout(0.5), Linear(128, classes)                         = forward(x), logits (B, classes)
Deviation from the Keras net: padded convolutions with a pool after each (not two valid convolutions and one
pool), so the same net fits 8x8 digits, 28x28 MNIST and 32x32 CIFAR-10 and costs 4x less on MNIST.
S/4 rounds down (max pooling drops an odd last row and column).

File format (a plain dict, read with torch.load(weights_only=True), so a classifier file cannot run code):
    {"state_dict", "in_channels", "side", "classes", "data": <data set name>, "test_accuracy": float}
"""

from __future__ import annotations

import numbers
from pathlib import Path

import torch
from torch import Tensor, nn

from ganctl.errors import UserError, one_line
from ganctl.metrics.weights_file import load_weights_file

FEATURES = 128  # size of the penultimate layer, what features() returns
KEYS = ("state_dict", "in_channels", "side", "classes", "data", "test_accuracy")
TRAIN_HINT = "train one with `ganctl classifier data=mnist data.path=...`"
DEFAULT_DIR = Path("outputs") / "classifiers"  # `ganctl classifier` saves DEFAULT_DIR / "<data name>.pt" here


class Classifier(nn.Module):
    """CNN for square images (in_channels, side, side) in [-1, 1] -> logits over `classes` classes."""

    def __init__(self, in_channels: int, side: int, classes: int):
        super().__init__()
        if side < 4 or in_channels < 1 or classes < 2:
            raise UserError(f"a classifier needs square images of side >= 4 and at least 2 classes, got "
                            f"{in_channels} channels, side {side}, {classes} classes")
        self.in_channels, self.side, self.classes = in_channels, side, classes
        self.data: str | None = None  # what load_classifier read from the file
        self.file: Path | None = None  # the file load_classifier read it from
        self.test_accuracy: float | None = None
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (B, 32, S/2, S/2)
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (B, 64, S/4, S/4)
            nn.Flatten(),  # (B, 64, S/4, S/4) -> (B, 64 (S/4)^2)
            nn.Dropout(0.25),
            nn.Linear(64 * (side // 4) ** 2, FEATURES), nn.ReLU(),
        )
        self.head = nn.Sequential(nn.Dropout(0.5), nn.Linear(FEATURES, classes))

    def check_input(self, x: Tensor) -> None:
        expected = (self.in_channels, self.side, self.side)
        if x.ndim != 4 or tuple(x.shape[1:]) != expected:
            # Name the file: with metrics.classifier defaulting to outputs/classifiers/<data>.pt, the user may not
            # know which one was loaded.
            which = f"the classifier {self.file} (trained on {self.data})" if self.file else "this classifier"
            raise UserError(f"{which} reads images of shape {expected}, got a batch of shape {tuple(x.shape)}; "
                            "train a classifier on data of that shape with `ganctl classifier`")

    def features(self, x: Tensor) -> Tensor:
        """Penultimate activations (B, 128): the feature space for Frechet-style distances."""
        self.check_input(x)
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        """Logits (B, classes); softmax gives the class probabilities p(y | x)."""
        return self.head(self.features(x))


def classifier_state(net: Classifier, data: str, test_accuracy: float) -> dict:
    """The dict a classifier file holds (see the module docstring); tensors are copied to the CPU."""
    return {
        "state_dict": {k: v.detach().cpu() for k, v in net.state_dict().items()},
        "in_channels": net.in_channels,
        "side": net.side,
        "classes": net.classes,
        "data": str(data),
        "test_accuracy": float(test_accuracy),
    }


def check_trained_on(net: Classifier, data_name: str, why: str, key: str) -> None:
    """Refuse a classifier trained on another data set than data_name: its features and classes describe that
    set. `why` completes "trained on <its set>, ..."; `key` is the config key that names another file."""
    if net.data != data_name:
        raise UserError(f"the classifier {net.file} was trained on {net.data}, {why}; make one with `ganctl "
                        f"classifier data={data_name}` or set {key} to one trained on {data_name}")


def load_classifier(path: str | Path) -> Classifier:
    """A saved classifier, frozen and in eval mode, on the CPU; `.data` and `.test_accuracy` say what it was
    trained on and how well it did. A missing or foreign file is one UserError naming it."""
    file = Path(path).expanduser()
    state = load_weights_file(file, "classifier", "a ganctl classifier", TRAIN_HINT)
    if not isinstance(state, dict) or any(key not in state for key in KEYS):
        raise UserError(f"{file} is not a ganctl classifier (expected the keys {', '.join(KEYS)}); {TRAIN_HINT}")
    sizes = [state[key] for key in ("in_channels", "side", "classes")]
    if not all(isinstance(size, numbers.Integral) and not isinstance(size, bool) for size in sizes):
        raise UserError(f"{file} is not a ganctl classifier (in_channels, side, classes are {sizes}, not integers); "
                        f"{TRAIN_HINT}")
    accuracy = state["test_accuracy"]
    if isinstance(accuracy, bool) or not isinstance(accuracy, numbers.Real):
        raise UserError(f"{file} is not a ganctl classifier (test_accuracy is {type(accuracy).__name__}, not a "
                        f"number); {TRAIN_HINT}")
    try:
        # On the meta device: sizes from a foreign file (side 10**5) must not allocate before the weights are checked.
        with torch.device("meta"):
            net = Classifier(*(int(size) for size in sizes))
    except UserError as error:
        raise UserError(f"{file} is not a usable ganctl classifier ({error}); {TRAIN_HINT}") from None
    try:
        # assign: the file's tensors become the parameters (the meta ones hold no values to copy into).
        net.load_state_dict(state["state_dict"], assign=True)
    except (RuntimeError, TypeError, AttributeError) as error:
        detail = one_line(error, 200)
        raise UserError(f"{file} is not a ganctl classifier (its weights do not fit: {detail}); {TRAIN_HINT}") from None
    net.float()  # float64 or integer weights of the right shapes would otherwise fail on float32 images
    net.data, net.test_accuracy, net.file = str(state["data"]), float(accuracy), file
    return net.eval().requires_grad_(False)
