"""The original GAN, Goodfellow et al. 2014, arXiv:1406.2661, with its saturating minimax generator loss.

min_G max_D V(D, G) = E_x[log D(x)] + E_z[log(1 - D(G(z)))].
L_D = -E[log D(x)] - E[log(1 - D(G(z)))]   (binary cross-entropy, real = 1, fake = 0)
L_G = E[log(1 - D(G(z)))] = -E[softplus(l)] for the logit l = D's output before the sigmoid.

The saturating L_G has a vanishing gradient when D confidently rejects the samples (early in training); `nsgan`
is the fix the same paper recommends. This objective is here to show exactly that.
"""

from torch import nn

from ganctl.methods.base import Method, bce_discriminator_terms, detached_sample


class Gan(Method):
    def __init__(self, n_critic: int = 1):
        self.n_critic = n_critic

    def discriminator_step(self, g, d, real, z):
        fake = detached_sample(g, z)
        loss, stats = bce_discriminator_terms(d(real), d(fake))
        return {"loss": loss, **stats}

    def generator_step(self, g, d, real, z):
        return {"loss": -nn.functional.softplus(d(g(z))).mean()}
