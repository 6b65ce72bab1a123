"""Discriminator options that work with any architecture and any method: packing, spectral normalisation and
minibatch discrimination. Every ganctl discriminator computes `head(features(x))`, which is where these attach.

- Packing, PacGAN (Lin, Khetan, Fanti, Oh 2018, arXiv:1712.04086): D judges m samples at once, concatenated
  along the first data axis ((B, d) -> (B/m, m*d) for points, (B, C, H, W) -> (B/m, m*C, H, W) for images),
  all real or all fake. A collapsed generator's packs look alike, which the packed D can see.
- Spectral normalisation (Miyato, Kataoka, Koyama, Yoshida 2018, arXiv:1802.05957): every linear and conv
  weight is divided by its largest singular value (one power iteration per forward), bounding D's Lipschitz
  constant. PyTorch's `torch.nn.utils.parametrizations.spectral_norm` does the work.
- Minibatch discrimination (Salimans et al. 2016, "Improved Techniques for Training GANs", arXiv:1606.03498,
  Sec. 3.2): see `MinibatchDiscrimination`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from ganctl.errors import UserError


class MinibatchDiscrimination(nn.Module):
    """Features f (N, A) -> [f, o] (N, A + B): how close each sample is to the rest of its batch.

    With a learned tensor T of shape A x B x C (B kernels of dimension C):
        M_i = f_i T                                   (B, C) for each sample i
        c_b(x_i, x_j) = exp(-||M_i,b - M_j,b||_L1)
        o(x_i)_b = sum_{j != i} c_b(x_i, x_j)        (N, B)
    Salimans et al. use B = 100, C = 5. The j = i term is exp(0) = 1 for every b, so it is subtracted.
    Memory is B * N^2 floats (100 * 256^2 = 6.6M for a batch of 256).
    """

    def __init__(self, in_features: int, kernels: int = 100, kernel_dim: int = 5):
        super().__init__()
        if kernels < 1 or kernel_dim < 1:
            raise UserError(f"minibatch discrimination needs kernels >= 1 and kernel_dim >= 1, got {kernels} and "
                            f"{kernel_dim}; fix model.minibatch_kernels / model.minibatch_kernel_dim")
        self.kernels, self.kernel_dim = kernels, kernel_dim
        # N(0, 0.05), the initialisation of the authors' code (improved-gan, lasagne's init.Normal(0.05))
        self.T = nn.Parameter(0.05 * torch.randn(in_features, kernels * kernel_dim))

    def forward(self, f: Tensor) -> Tensor:
        m = (f @ self.T).view(f.shape[0], self.kernels, self.kernel_dim)  # (N, A) -> (N, B, C)
        m = m.transpose(0, 1)  # (B, N, C): one set of N points per kernel
        closeness = torch.exp(-torch.cdist(m, m, p=1))  # (B, N, N): c_b(x_i, x_j)
        o = closeness.sum(dim=2) - 1.0  # (B, N): sum over j != i
        return torch.cat([f, o.t()], dim=1)  # (N, A + B)


def add_minibatch_discrimination(d: nn.Module, kernels: int, kernel_dim: int) -> None:
    """Put the layer between D's features and a new head of the same output size: head([f, o(f)])."""
    a, outputs = d.head.in_features, d.head.out_features
    d.head = nn.Sequential(MinibatchDiscrimination(a, kernels, kernel_dim), nn.Linear(a + kernels, outputs))


def add_spectral_norm(d: nn.Module) -> None:
    """Spectral-normalise the weight of every Linear and Conv2d in d (in place)."""
    for module in list(d.modules()):
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            spectral_norm(module)


def packed_shape(data_shape: tuple[int, ...], pack: int) -> tuple[int, ...]:
    """The shape one packed input has: m samples concatenated along the first axis (points or channels)."""
    return (pack * data_shape[0], *data_shape[1:])


class Packed(nn.Module):
    """Score packs of m consecutive samples: (B, *data_shape) -> (B/m, m * data_shape[0], ...) -> d."""

    def __init__(self, d: nn.Module, pack: int):
        super().__init__()
        self.d, self.pack = d, pack

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[0] % self.pack:
            raise UserError(f"a batch of {x.shape[0]} samples cannot be split into packs of {self.pack}; "
                            f"make train.batch_size a multiple of model.pack")
        # Consecutive samples share a pack; batches are drawn shuffled, so packs are random.
        return self.d(x.reshape(x.shape[0] // self.pack, self.pack * x.shape[1], *x.shape[2:]))


INITS = ("normal", "orthogonal")


def initialise(net: nn.Module, init: str, scale: float) -> None:
    """Re-draw the weights of every Linear and Conv layer and zero its bias. normal: N(0, scale^2), the DCGAN and
    PacGAN initialisation (PacGAN's 2-D configs: weights_init_std 0.02, biases_init Constant(0)); orthogonal: an
    orthogonal matrix times the gain `scale` (the Unrolled GAN notebook: tf.orthogonal_initializer(gain=1.4), with
    slim's zero biases). Batch-norm scales keep 1 and shifts 0, as in both references."""
    if init not in INITS:
        raise UserError(f"model.init={init} is not known; choose one of: {', '.join(INITS)} (null: PyTorch's default)")
    for module in net.modules():
        if isinstance(module, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            if init == "normal":
                nn.init.normal_(module.weight, 0.0, scale)
            else:
                nn.init.orthogonal_(module.weight, gain=scale)
            if module.bias is not None:
                nn.init.zeros_(module.bias)


def set_bn_momentum(net: nn.Module, momentum: float) -> None:
    """running = (1 - momentum) * running + momentum * batch for every batch-norm layer in net (PyTorch's
    convention; PacGAN's reference writes the same update as `m * 0.05 + p * 0.95`, i.e. momentum 0.05)."""
    for module in net.modules():
        if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)):
            module.momentum = momentum
