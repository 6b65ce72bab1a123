"""DRAGAN, Kodali, Abernethy, Hays, Kira 2017, "On Convergence and Stability of GANs", arXiv:1705.07215.

The non-saturating GAN plus a gradient penalty on points perturbed around the real data, where mode collapse
shows up as sharp gradients of D (the paper's "no-regret" view: keep D smooth near the data manifold).

L_D = -E[log D(x)] - E[log(1 - D(G(z)))] + lambda * E[(||grad D(x_hat)||_2 - k)^2]
x_p   = x + c * std(x) * u,        u ~ U[0, 1) per element, c = 0.5
x_hat = x + alpha * (x_p - x),     alpha ~ U[0, 1] per sample
L_G = -E[log D(G(z))]              (as `nsgan`)
Defaults lambda = 10, k = 1, c = 0.5, one D step per G step.

The perturbation follows the authors' code (kodalinaveen3/DRAGAN, DRAGAN.ipynb), not the paper's text, which
writes x + delta with delta ~ N(0, cI): std(x) there is numpy's `minibatch.std()`, one population standard
deviation over every element of the batch (not per dimension), and the noise is one-sided uniform. That code
also sets Adam(1e-4, betas 0.5, 0.9) and batch 128 (conf/method/dragan.yaml takes the optimiser). The paper's
text writes the perturbation as x + delta, delta ~ N(0, cI); the code is what produced its results.

On the 2-D ring (radius 1) lambda = 10 with a unit target holds D's slope down so much that G barely learns
(3000 steps at the yaml's values: W1 0.97 -> 0.68, no mode hit); lambda = 0.1 with Adam(1e-3) learns it in
300 steps (tests/methods/test_dragan.py), as lambda = 0.1 is WGAN-GP's own toy-data value.
"""

from ganctl.methods import penalties
from ganctl.methods.nsgan import Nsgan


class Dragan(Nsgan):
    double_backward = ("d",)

    def __init__(self, gp_weight: float = 10.0, target_norm: float = 1.0, perturb_scale: float = 0.5,
                 n_critic: int = 1):
        super().__init__(n_critic)
        self.gp_weight, self.target_norm, self.perturb_scale = gp_weight, target_norm, perturb_scale

    def discriminator_step(self, g, d, real, z):
        out = super().discriminator_step(g, d, real, z)
        # interpolates(a, b) = eps * a + (1 - eps) * b, so (x_p, x) gives x + eps * (x_p - x), eps per sample
        x_hat = penalties.interpolates(penalties.perturbed(real, self.perturb_scale), real)
        gp = penalties.gradient_penalty(d, x_hat, self.target_norm)
        out["loss"] = out["loss"] + self.gp_weight * gp
        out["gp"] = gp
        return out
