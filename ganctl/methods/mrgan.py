"""Mode-regularized GAN, Che, Li, Jacob, Bengio, Li 2017, "Mode Regularized Generative Adversarial Networks",
arXiv:1612.02136 (ICLR 2017), Sec. 3.1-3.2: an encoder E (data -> z) and two regularizers on G.

    L_D = -E[log D(x)] - E[log(1 - D(G(z)))]                        (as `nsgan`)
    R(x) = ||x - G(E(x))||^2                                        (geometric regularizer, d = squared L2 in data space)
    M(x) = -log D(G(E(x)))                                          (mode regularizer)
    L_G = -E_z[log D(G(z))] + lambda1 * E_x[R(x)] + lambda2 * E_x[M(x)]
    L_E =                      lambda1 * E_x[R(x)] + lambda2 * E_x[M(x)]
lambda1 = lambda2 = 1e-2 by default. R is summed over the data dimensions and averaged over the batch.

Sign of the mode regularizer: the paper prints T_G = -E[log D(G(z))] + E_x[lambda1 d(x, G.E(x)) + lambda2 log D(G.E(x))],
a minimised objective, so read literally it drives D(G(E(x))) to 0, i.e. reconstructions towards "fake". Its stated
purpose is the opposite: G(E(x)) of a data point x in a mode G misses should move to that mode and look real, so
that the missing mode gets mass. We use -log D(G(E(x))), the same non-saturating form as G's own term.

The encoder: `nets.discriminator(outputs=z_dim, options=False)`, a bare network of D's architecture (no packing or
spectral norm) with z_dim outputs; `modules()` hands it to the engine, which trains it with G's optimiser. The paper
trains E on T_E (= the regularizers) in its own update. Here one backward of L_G serves both: E's parameters appear
only in the regularizer terms, so the gradient L_G gives E is exactly grad L_E, and G gets grad L_G. G and E are
therefore updated simultaneously with the same learning rate rather than one after the other. `real` is the data
batch of the last D step (the engine draws no extra batch), as x for the regularizers.
"""

from __future__ import annotations

from torch import Tensor, nn
from torch.nn import functional as F

from ganctl.methods.base import running_stats_kept
from ganctl.methods.gan import Gan


def reconstruction_error(x: Tensor, x_hat: Tensor) -> Tensor:
    """E_x ||x - x_hat||^2: squared L2 over the data dimensions, mean over the batch."""
    return (x - x_hat).flatten(1).square().sum(1).mean()


def encode(e: nn.Module, x: Tensor) -> Tensor:
    return e(x).reshape(x.shape[0], -1)  # (B,) when z_dim = 1 (D squeezes a single output) -> (B, 1)


class Mrgan(Gan):
    def __init__(self, geometric_weight: float = 1e-2, mode_weight: float = 1e-2, n_critic: int = 1):
        super().__init__(n_critic)
        self.geometric_weight, self.mode_weight = geometric_weight, mode_weight
        self.encoder: nn.Module | None = None

    def build_networks(self, nets):
        self.encoder = nets.discriminator(outputs=nets.z_dim, options=False)
        return nets.generator(), nets.discriminator()

    def modules(self):
        return {"encoder": self.encoder}

    def generator_step(self, g, d, real, z):
        adversarial = F.softplus(-d(g(z))).mean()  # -E[log D(G(z))]
        with running_stats_kept(g):  # G's running statistics are of G(z), which evaluation samples
            reconstruction = g(encode(self.encoder, real))
        geometric = reconstruction_error(real, reconstruction)
        mode = F.softplus(-d(reconstruction)).mean()  # -E[log D(G(E(x)))]
        return {"loss": adversarial + self.geometric_weight * geometric + self.mode_weight * mode,
                "geometric": geometric, "mode": mode}
