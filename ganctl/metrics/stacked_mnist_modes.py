"""Stacked MNIST mode coverage: how many of the 1000 digit triples a generator produces, and KL to uniform.

Metz, Poole, Pfau, Sohl-Dickstein 2016, "Unrolled generative adversarial networks", arXiv:1611.02163 (the
stacked-MNIST experiment: modes generated and KL(model || data)); Srivastava, Valkov, Russell, Gutmann, Sutton
2017, "VEEGAN", arXiv:1705.07761 (Table 2: modes, max 1000, and KL); Lin, Khetan, Fanti, Oh 2018, "PacGAN",
arXiv:1712.04086 (stacked-MNIST tables, same two columns).

A generated image x_i (3, 28, 28) is given the mode
    y_i = 100 * c(x_i[0]) + 10 * c(x_i[1]) + c(x_i[2])   in 0..999,
c = argmax of a single-digit MNIST classifier (ganctl.metrics.classifier, made by
`ganctl classifier data=mnist data.path=...`) applied to each channel alone. With counts_k = #{i : y_i = k}:
    stacked_modes = #{k : counts_k >= 1}                        in [0, 1000], higher is better
    p_k = counts_k / n
    stacked_kl = KL(p || uniform_1000) = sum_k p_k log(1000 p_k)   in nats, in [0, log 1000 = 6.908],
                 lower is better; 0 iff every mode holds exactly n / 1000 samples. 0 log 0 = 0.
Every sample is binned (there is no quality threshold, unlike the 2-D mode coverage). This follows PacGAN's
reference code (https://github.com/fjxmlzn/PacGAN, stacked_MNIST_experiments/VEEGAN_experiment/model.py,
log_metrics, MIT licence): argmax per channel, the number of distinct triples, and KLD(p, q) with q = 1/1000,
natural log, over num_test_sample = 26,000 generated samples; set eval.n=26000 (and data.n_test >= 26000) for
numbers comparable with those tables. Both numbers depend on n: with 2,500 samples at most 2,500 triples can
appear, and a perfect (uniform) generator still scores KL ~ 0.22 at n = 2,500 and ~ 0.019 at n = 26,000 (the
sampling noise of a 1000-bin histogram, about 999 / (2 n) for large n).
The classifier's own errors count as generator errors; its test accuracy is stored in its file.
"""

import torch

from ganctl.errors import UserError
from ganctl.metrics.classifier import DEFAULT_DIR, TRAIN_HINT, Classifier, check_trained_on, load_classifier

CHANNELS = 3
MODES = 10**CHANNELS


@torch.inference_mode()
def stacked_modes_of(net: Classifier, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """Modes (n,) int64 in 0..999 of stacked images (n, 3, S, S): the digit `net` reads in each channel."""
    digits = []
    for start in range(0, len(images), batch_size):
        batch = images[start : start + batch_size]  # (b, 3, S, S)
        b, c, s, _ = batch.shape
        logits = net(batch.reshape(b * c, 1, s, s))  # every channel as its own one-channel image
        digits.append(logits.argmax(dim=1).reshape(b, c))  # (b*3, 10) -> (b, 3) digits
    digits = torch.cat(digits)
    return digits[:, 0] * 100 + digits[:, 1] * 10 + digits[:, 2]


def mode_statistics(modes: torch.Tensor, n_modes: int = MODES) -> dict:
    """{"stacked_modes", "stacked_kl"} of a vector of mode indices in 0..n_modes-1 (module docstring)."""
    counts = torch.bincount(modes.reshape(-1).long(), minlength=n_modes).double()  # (n_modes,)
    p = counts / counts.sum()
    nz = p > 0  # 0 log 0 = 0
    # Clamped: rounding can leave -1e-17 where the exact value is 0 (a perfectly even histogram).
    kl = max(0.0, float((p[nz] * torch.log(n_modes * p[nz])).sum()))
    return {"stacked_modes": float(nz.sum()), "stacked_kl": kl}


def stacked_mnist_modes(*, fake, classifier: str | None = None, channel_data: str = "mnist",
                        batch_size: int = 1000) -> dict:
    """Modes covered and KL to uniform of generated Stacked MNIST images `fake`, (n, 3, S, S) or flattened
    (n, 3 S S) as the engine passes them, with the one-channel classifier saved at `classifier` (S is its side;
    None: outputs/classifiers/<channel_data>.pt, where `ganctl classifier data=<channel_data>` saves). The data
    set passes channel_data (fashion_mnist for data=stacked_fashion_mnist); a classifier of another set is refused.

    Returns {"stacked_modes", "stacked_kl"} as floats; runs on fake's device.
    """
    fake = torch.as_tensor(fake)
    classifier = classifier or DEFAULT_DIR / f"{channel_data}.pt"
    net = load_classifier(classifier)
    check_trained_on(net, channel_data, f"but these images stack {channel_data} channels",
                     "metrics.stacked_mnist_modes.classifier")
    if net.in_channels != 1 or net.classes != 10:
        raise UserError(f"stacked_mnist_modes reads each channel with a one-channel 10-digit classifier; "
                        f"{classifier} (trained on {net.data}) has {net.in_channels} channel(s) and {net.classes} "
                        f"classes; {TRAIN_HINT}")
    s = net.side
    if len(fake) == 0 or fake[0].numel() != CHANNELS * s * s:
        raise UserError(f"stacked_mnist_modes needs generated images of shape ({CHANNELS}, {s}, {s}) (the side of "
                        f"{classifier}), got a batch of shape {tuple(fake.shape)}; use it with data=stacked_mnist")
    if batch_size < 1:
        raise UserError(f"stacked_mnist_modes needs batch_size >= 1, got {batch_size}")
    images = fake.detach().float().reshape(len(fake), CHANNELS, s, s)  # (n, 3*S*S) -> (n, 3, S, S)
    modes = stacked_modes_of(net.to(images.device), images, batch_size)
    return mode_statistics(modes)
