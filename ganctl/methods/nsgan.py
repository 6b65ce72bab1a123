"""The non-saturating GAN, Goodfellow et al. 2014, arXiv:1406.2661 (section 3): the practical default.

L_D = -E[log D(x)] - E[log(1 - D(G(z)))]   (binary cross-entropy, as `gan`)
L_G = -E[log D(G(z))] = E[softplus(-l)]     (l = D's logit)

Same fixed point as the minimax game, but strong generator gradients when D rejects the samples. Only the
generator's loss differs from `gan`, so that is all this class defines.
"""

from torch import nn

from ganctl.methods.gan import Gan


class Nsgan(Gan):
    def generator_step(self, g, d, real, z):
        return {"loss": nn.functional.softplus(-d(g(z))).mean()}
