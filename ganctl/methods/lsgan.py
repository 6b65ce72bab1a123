"""Least Squares GAN, Mao, Li, Xie, Lau, Wang, Smolley 2017, arXiv:1611.04076 (Eq. 2, and Eq. 9 for the coding).

L_D = 1/2 E[(D(x) - b)^2] + 1/2 E[(D(G(z)) - a)^2]
L_G = 1/2 E[(D(G(z)) - c)^2]
with the 0-1-1 coding a = 0 (fake), b = 1 (real), c = 1 (what G wants D to believe), the paper's choice for its
experiments; a = -1, b = 1, c = 0 is the coding for which the paper proves G minimises the Pearson chi^2
divergence (b - c = 1, b - a = 2). D's output is a raw score: no sigmoid.

The squared loss keeps penalising fakes that D already classifies correctly but that lie far from the decision
boundary, so G gets gradients where the BCE loss saturates. Optimiser: Adam(1e-3, beta1 0.5), the authors'
LSUN script (xudonmao/LSGAN, train_lsun.py); see conf/method/lsgan.yaml.
"""

from ganctl.methods.base import Method, detached_sample


class Lsgan(Method):
    def __init__(self, a: float = 0.0, b: float = 1.0, c: float = 1.0, n_critic: int = 1):
        self.a, self.b, self.c, self.n_critic = a, b, c, n_critic

    def discriminator_step(self, g, d, real, z):
        fake = detached_sample(g, z)
        d_real, d_fake = d(real), d(fake)
        loss = 0.5 * (d_real - self.b).square().mean() + 0.5 * (d_fake - self.a).square().mean()
        return {"loss": loss, "d_real": d_real.mean(), "d_fake": d_fake.mean()}

    def generator_step(self, g, d, real, z):
        return {"loss": 0.5 * (d(g(z)) - self.c).square().mean()}
