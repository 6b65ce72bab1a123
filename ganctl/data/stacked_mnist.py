"""Stacked MNIST: three MNIST digits drawn at random, stacked as the three channels of one image (1000 modes).

Introduced as a mode-collapse benchmark by Metz, Poole, Pfau, Sohl-Dickstein 2016, "Unrolled generative
adversarial networks", arXiv:1611.02163, and used by VEEGAN (Srivastava et al. 2017, arXiv:1705.07761) and
PacGAN (Lin et al. 2018, arXiv:1712.04086). Sample i picks digit images j0, j1, j2 independently and uniformly
(with replacement) from the MNIST images and stacks them:
    x_i = (m_j0, m_j1, m_j2)   (3, 28, 28) in [-1, 1]
    y_i = 100 * d_j0 + 10 * d_j1 + d_j2   in 0..999, d_j the digit label of image j.
The mode of a generated image is read the same way: an MNIST classifier labels each channel
(ganctl.metrics.stacked_mnist_modes).

Sizes follow PacGAN's reference code (https://github.com/fjxmlzn/PacGAN, stacked_MNIST_experiments/
VEEGAN_experiment/config.py and model.py, MIT licence): 128,000 training images, and 26,000 generated samples
scored, hence 26,000 held-out real ones here so that `eval.n=26000` has as many real samples to compare with.
Deviation, with the reason: the reference code draws its triples from the 70,000 MNIST train and test images
pooled and keeps no real test set; here the training triples come from MNIST's 60,000 training images and the
test triples from its 10,000 test images, so the held-out real samples contain no digit image seen in training.
Memory: 128,000 x 3 x 28 x 28 float32 is 1.2 GB; lower data.n_train for a small machine.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ganctl.data.base import Dataset
from ganctl.data.idx import MNIST_FILES, mnist
from ganctl.data.prepare import require_positive_int, require_seed
from ganctl.errors import UserError

CHANNELS = 3  # digits per image; label = 100 * d0 + 10 * d1 + d2
MODES = 10**CHANNELS


def stacked_mnist(path: str | Path, n_train: int = 128_000, n_test: int = 26_000, seed: int = 0,
                  name: str = "stacked_mnist", missing: str = "", channel_name: str = "mnist") -> Dataset:
    """`n_train` / `n_test` stacked images (N, 3, H, W) in [-1, 1] built from the MNIST IDX files in `path`,
    with labels 0..999; the same seed gives the same triples on every machine. Any MNIST-format set with labels
    0..9 stacks the same way (`name`, `missing`: as for `idx.mnist`; data=stacked_fashion_mnist);
    `channel_name` names that one-channel set, whose classifier reads the generated channels."""
    n_train = require_positive_int("n_train", n_train)
    n_test = require_positive_int("n_test", n_test)
    seed = require_seed(seed)
    digits = mnist(path, name=channel_name, missing=missing)  # a missing file fails here, in the loader's words
    folder = Path(path).expanduser().absolute()
    # Two numpy generators seeded from (seed, 0) and (seed, 1): the test triples do not change with n_train.
    train, train_labels = _stack(digits.train, digits.train_labels, n_train, np.random.default_rng([seed, 0]),
                                 folder / MNIST_FILES[1])
    test, test_labels = _stack(digits.test, digits.test_labels, n_test, np.random.default_rng([seed, 1]),
                               folder / MNIST_FILES[3])
    return Dataset(name=name, train=train, test=test, train_labels=train_labels, test_labels=test_labels,
                   channel_data=digits.name)


def _stack(images: torch.Tensor, labels: torch.Tensor, n: int, rng: np.random.Generator, labels_file: Path):
    """n images (n, 3, H, W) whose channels are images[j0], images[j1], images[j2], and labels (n,) in 0..999."""
    if labels.min() < 0 or labels.max() > 9:
        raise UserError(f"{labels_file} holds labels outside 0..9 (e.g. {int(labels.max())}); Stacked MNIST "
                        "needs the digit labels of MNIST itself")
    picks = torch.from_numpy(rng.integers(0, len(images), size=(n, CHANNELS)))  # (n, 3) image indices
    stacked = images[:, 0][picks].contiguous()  # (N, 1, H, W) -> (N, H, W), indexed -> (n, 3, H, W)
    digits = labels[picks]  # (n, 3)
    return stacked, digits[:, 0] * 100 + digits[:, 1] * 10 + digits[:, 2]
