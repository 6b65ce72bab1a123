"""The contract between the training engine and a GAN objective.

The engine owns the networks, optimisers, data and logging. A method only says how the discriminator and the
generator losses are formed from a batch; the engine zeroes gradients, calls `backward()` on `out["loss"]`,
steps the matching optimiser and logs every other key of `out` as `method/<key>`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import Tensor, nn


class Method(ABC):
    """One GAN objective. The engine calls these hooks and knows nothing else about the method."""

    n_critic: int = 1  # discriminator steps per generator step

    @abstractmethod
    def discriminator_step(self, g: nn.Module, d: nn.Module, real: Tensor, z: Tensor) -> dict[str, Tensor]:
        """Return {"loss": scalar minimised w.r.t. D's parameters, plus scalars worth logging}."""

    @abstractmethod
    def generator_step(self, g: nn.Module, d: nn.Module, real: Tensor, z: Tensor) -> dict[str, Tensor]:
        """Return {"loss": scalar minimised w.r.t. G's parameters, plus scalars worth logging}.

        `real` is the data batch of the last discriminator step (no extra batch is drawn), for methods whose
        generator loss needs data, e.g. an encoder's reconstruction; the plain objectives ignore it.
        """

    def after_discriminator_step(self, d: nn.Module) -> None:
        """Called after each optimiser step on D (WGAN clips its weights here)."""

    def modules(self) -> dict[str, nn.Module]:
        """Extra networks the method owns (an encoder, say): moved to the device, checkpointed, and trained
        by the generator's optimiser. The plain objectives have none."""
        return {}


def bce_discriminator_terms(d_real: Tensor, d_fake: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
    """The discriminator's binary cross-entropy on logits, and D(x), D(G(z)) as probabilities for logging.

    -E[log D(x)] - E[log(1 - D(G(z)))] with D = sigmoid(logit): log D = -softplus(-l), log(1-D) = -softplus(l),
    which is the numerically stable form of the same loss.
    """
    loss = nn.functional.softplus(-d_real).mean() + nn.functional.softplus(d_fake).mean()
    return loss, {"d_real": torch.sigmoid(d_real).mean(), "d_fake": torch.sigmoid(d_fake).mean()}
