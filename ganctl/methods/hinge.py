"""The hinge loss: Lim & Ye 2017, "Geometric GAN", arXiv:1705.02894; as used by Miyato, Kataoka, Koyama, Yoshida
2018, "Spectral Normalization for GANs" (SN-GAN), arXiv:1802.05957, Eq. 16-17.

L_D = E[relu(1 - D(x))] + E[relu(1 + D(G(z)))]     (a soft-margin SVM between real and fake scores)
L_G = -E[D(G(z))]

D's output is a raw score. Real scores above +1 and fake scores below -1 cost D nothing, so it stops pushing
on samples it already separates by the margin. The objective alone is this class; the SN-GAN recipe around it
(spectral normalisation of D, Adam(2e-4, betas 0.0, 0.9), 5 D steps per G step) is set in
conf/method/hinge.yaml and can be overridden there (model.spectral_norm=false gives the bare hinge loss).
"""

from torch import nn

from ganctl.methods.base import Method, detached_sample


class Hinge(Method):
    def __init__(self, n_critic: int = 5):
        self.n_critic = n_critic

    def discriminator_step(self, g, d, real, z):
        fake = detached_sample(g, z)
        d_real, d_fake = d(real), d(fake)
        loss = nn.functional.relu(1 - d_real).mean() + nn.functional.relu(1 + d_fake).mean()
        return {"loss": loss, "d_real": d_real.mean(), "d_fake": d_fake.mean()}

    def generator_step(self, g, d, real, z):
        return {"loss": -d(g(z)).mean()}
