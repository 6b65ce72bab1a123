"""WGAN with gradient penalty, Gulrajani et al. 2017, arXiv:1704.00028 (Algorithm 1).

L_D = E[D(G(z))] - E[D(x)] + lambda * E[(||grad D(x_hat)||_2 - 1)^2],
x_hat = eps * x + (1 - eps) * G(z), eps ~ U[0, 1] per sample.      L_G = -E[D(G(z))].

The penalty is per sample, so the critic must not use batch normalisation (the config sets
`model.discriminator.norm: none`). Paper defaults: lambda = 10, n_critic = 5, Adam(1e-4, betas 0.0, 0.9).
"""

from ganctl.methods import penalties
from ganctl.methods.base import Method, detached_sample
from ganctl.methods.wgan import critic_terms


class WganGp(Method):
    double_backward = ("d",)

    def __init__(self, gp_weight: float = 10.0, n_critic: int = 5):
        self.gp_weight, self.n_critic = gp_weight, n_critic

    def discriminator_step(self, g, d, real, z):
        fake = detached_sample(g, z)
        out = critic_terms(d(real), d(fake))
        gp = penalties.gradient_penalty(d, penalties.interpolates(real, fake))
        out["loss"] = out["loss"] + self.gp_weight * gp
        out["gp"] = gp
        return out

    def generator_step(self, g, d, real, z):
        return {"loss": -d(g(z)).mean()}
