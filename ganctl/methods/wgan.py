"""Wasserstein GAN with weight clipping, Arjovsky et al. 2017, arXiv:1701.07875 (Algorithm 1).

L_D = E[D(G(z))] - E[D(x)]   (the critic maximises E[D(x)] - E[D(G(z))])
L_G = -E[D(G(z))]
After every critic step each weight is clipped to [-c, c] (c = 0.01) to keep D roughly K-Lipschitz.

`wasserstein` = E[D(x)] - E[D(G(z))] estimates K * W1(P_data, P_G) up to the critic's quality: unlike the GAN
losses it should fall as samples improve, which makes it a usable convergence signal.
"""

import torch

from ganctl.methods.base import Method, detached_sample


def critic_terms(d_real, d_fake) -> dict:
    """The critic's loss and the Wasserstein estimate it implies (shared by `wgan` and `wgan_gp`)."""
    wasserstein = d_real.mean() - d_fake.mean()
    return {"loss": -wasserstein, "wasserstein": wasserstein, "d_real": d_real.mean(), "d_fake": d_fake.mean()}


class Wgan(Method):
    def __init__(self, clip_value: float = 0.01, n_critic: int = 5):
        self.clip_value, self.n_critic = clip_value, n_critic

    def discriminator_step(self, g, d, real, z):
        fake = detached_sample(g, z)
        return critic_terms(d(real), d(fake))

    def generator_step(self, g, d, real, z):
        return {"loss": -d(g(z)).mean()}

    @torch.no_grad()
    def after_discriminator_step(self, d):
        for p in d.parameters():
            p.clamp_(-self.clip_value, self.clip_value)
