"""The contract between the training engine and a GAN objective.

The engine owns the optimisers, data and logging. A method says which networks it needs (built from the
configured architectures through `build_networks`) and how the discriminator and the generator losses are
formed from a batch; the engine zeroes gradients, calls `backward()` on `out["loss"]`, steps the matching
optimiser and logs every other key of `out` as `method/<key>`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

import torch
from torch import Tensor, nn


class Discriminator(Protocol):
    """What every ganctl discriminator is: `forward(x) = head(features(x))`, scores (B,) or (B, outputs). The
    discriminator options attach between the two (minibatch discrimination) or around them (packing); a method
    that compares samples in D's feature space (MAD-GAN-Sim) calls `features` and `head` itself."""

    def features(self, x: Tensor) -> Tensor: ...  # (B, *data_shape) -> (B, F): what the head sees
    head: nn.Module                               # (B, F) -> (B, outputs)


class NetworkFactory(Protocol):
    """Builds networks of the configured architectures (`model.generator`, `model.discriminator`) for the data
    at hand. The engine passes one to `Method.build_networks`; methods never read the model config."""

    data_shape: tuple[int, ...]
    z_dim: int
    pack: int  # model.pack: the discriminator judges packs of this many consecutive samples (1: single samples)

    def generator(self, z_dim: int | None = None) -> nn.Module:
        """A fresh generator z (B, z_dim) -> (B, *data_shape); z_dim defaults to model.z_dim."""

    def discriminator(self, outputs: int = 1, options: bool = True) -> nn.Module:
        """A fresh discriminator (B, *data_shape) -> (B,) scores, or (B, outputs) when outputs > 1.

        options=True applies the model's discriminator options (packing, spectral norm, minibatch
        discrimination); options=False gives the bare architecture (for an encoder, say)."""


class Method(ABC):
    """One GAN objective. The engine calls these hooks and knows nothing else about the method."""

    n_critic: int = 1  # discriminator steps per generator step
    # The steps ("d", "g") whose loss contains a gradient (a gradient penalty, a differentiable look-ahead), so
    # that their backward is a double backward, which torch.compile cannot produce: train.compile leaves them eager.
    double_backward: tuple[str, ...] = ()

    @abstractmethod
    def discriminator_step(self, g: nn.Module, d: nn.Module, real: Tensor, z: Tensor) -> dict[str, Tensor]:
        """Return {"loss": scalar minimised w.r.t. D's parameters, plus scalars worth logging}."""

    @abstractmethod
    def generator_step(self, g: nn.Module, d: nn.Module, real: Tensor, z: Tensor) -> dict[str, Tensor]:
        """Return {"loss": scalar minimised w.r.t. G's parameters, plus scalars worth logging}.

        `real` is the data batch of the last discriminator step (no extra batch is drawn), for methods whose
        generator loss needs data, e.g. an encoder's reconstruction; the plain objectives ignore it.
        """

    def build_networks(self, nets: NetworkFactory) -> tuple[nn.Module, nn.Module]:
        """Return (G, D). Most methods use the configured pair as it is; MAD-GAN builds several generators,
        EBGAN an auto-encoder. Extra networks built here are returned by `modules()`."""
        return nets.generator(), nets.discriminator()

    def after_discriminator_step(self, d: nn.Module) -> None:
        """Called after each optimiser step on D (WGAN clips its weights here)."""

    def modules(self) -> dict[str, nn.Module]:
        """Extra networks trained by the generator's optimiser (an encoder, say); moved to the device and
        checkpointed with G and D. The plain objectives have none."""
        return {}

    def discriminator_modules(self) -> dict[str, nn.Module]:
        """Extra networks trained by the discriminator's optimiser (MDGAN's second discriminator)."""
        return {}

    def attach_optimizers(self, opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer) -> None:
        """Called once the optimisers exist, for methods that imitate them (Unrolled GAN's look-ahead)."""


def bce_discriminator_terms(d_real: Tensor, d_fake: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
    """The discriminator's binary cross-entropy on logits, and D(x), D(G(z)) as probabilities for logging.

    -E[log D(x)] - E[log(1 - D(G(z)))] with D = sigmoid(logit): log D = -softplus(-l), log(1-D) = -softplus(l),
    which is the numerically stable form of the same loss.
    """
    loss = nn.functional.softplus(-d_real).mean() + nn.functional.softplus(d_fake).mean()
    return loss, {"d_real": torch.sigmoid(d_real).mean(), "d_fake": torch.sigmoid(d_fake).mean()}


def detached_sample(g: nn.Module, z: Tensor) -> Tensor:
    """G(z) for D's step, where no gradient reaches G: the same values as g(z).detach(), but under no_grad, so the
    forward records no graph (less memory, and a faster step)."""
    with torch.no_grad():
        return g(z)


@contextmanager
def running_stats_kept(net: nn.Module) -> Iterator[None]:
    """Run `net` in training mode without folding this pass's batch statistics into its batch-norm running
    statistics, which evaluation normalises with. For passes on inputs other than G's noise: G(E(x)) with MRGAN's
    and MDGAN's encoder codes, which are far from N(0, I), would otherwise drag G's running statistics away from
    those of G(z). The pass itself still normalises with its own batch statistics, as training mode does."""
    norms = [m for m in net.modules() if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d))
             and m.track_running_stats]
    saved = [(m.running_mean.clone(), m.running_var.clone(), m.num_batches_tracked.clone()) for m in norms]
    try:
        yield
    finally:
        with torch.no_grad():
            for m, (mean, var, count) in zip(norms, saved):
                m.running_mean.copy_(mean)
                m.running_var.copy_(var)
                m.num_batches_tracked.copy_(count)
