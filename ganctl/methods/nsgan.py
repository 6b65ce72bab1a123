"""The non-saturating GAN, Goodfellow et al. 2014, arXiv:1406.2661 (section 3): the practical default.

L_D = -E[log D(x)] - E[log(1 - D(G(z)))]   (binary cross-entropy, as `gan`)
L_G = -E[log D(G(z))] = E[softplus(-l)]     (l = D's logit)

Same fixed point as the minimax game, but strong generator gradients when D rejects the samples.
"""

from torch import nn

from ganctl.methods.base import Method, bce_discriminator_terms


class Nsgan(Method):
    def __init__(self, n_critic: int = 1):
        self.n_critic = n_critic

    def discriminator_step(self, g, d, real, z):
        fake = g(z).detach()
        loss, stats = bce_discriminator_terms(d(real), d(fake))
        return {"loss": loss, **stats}

    def generator_step(self, g, d, real, z):
        return {"loss": nn.functional.softplus(-d(g(z))).mean()}
