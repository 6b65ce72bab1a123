"""Manifold-diffusion GAN (MDGAN), Che, Li, Jacob, Bengio, Li 2017, "Mode Regularized Generative Adversarial
Networks", arXiv:1612.02136 (ICLR 2017), Sec. 3.3: an encoder E and two discriminators, one per step.

Manifold step: D_M (the paper's D1) tells data x from reconstructions G(E(x)); G and E make the reconstructions
match the data manifold, with the geometric loss R = ||x - G(E(x))||^2 (squared L2 summed over the data dimensions).
Diffusion step: D_D (the paper's D2) tells reconstructions G(E(x)) ("real") from samples G(z) ("fake"); G spreads
G(z) over the reconstructions, which cover every mode of the data because every x has one.

    L_D   = BCE(D_M; x real, G(E(x)) fake) + BCE(D_D; G(E(x)) real, G(z) fake)
    L_G,E = -E_x[log D_M(G(E(x)))] + lambda * E_x[R(x)]      (manifold: G and E)
          - E_z[log D_D(G(z))]                               (diffusion: G only)
lambda = 1 by default: our choice, as we could not find an MDGAN value for it in the paper. Unlike MRGAN's small regularizer
(lambda1 = 1e-2), R is half of the manifold step here, and G(E(x)) must follow x for the diffusion step's targets to
mean anything; with 1e-2 on the 2-D ring (R ~ 1) the reconstructions do not form within a few hundred steps. R is summed over
the data dimensions, so on images (hundreds of dimensions) lambda = 1 makes the step start as an autoencoder.

Sign of the manifold term: the paper optimises "the regularized GAN loss E[log D1(G.E(x)) + lambda d(x, G.E(x))]"
and public implementations minimise that sum as printed. D_M is trained with x as real (1) and G(E(x)) as fake (0),
so minimising +log D_M(G(E(x))) makes reconstructions look *more* fake: it fights R (which pulls G(E(x)) onto x),
and it degrades the very points the diffusion step uses as D_D's "real" targets. The step's purpose, matching the
generation manifold to the data manifold, needs G(E(x)) to be judged real, i.e. minimising -log D_M(G(E(x))) (the
non-saturating generator loss), which is what we use; the diffusion term is the paper's "G maximises log D2(G(z))".

Schedule: the paper alternates per iteration a manifold step (update D_M, then G and E) and a diffusion step (update
D_D, then G). Here both happen within one engine step: the D step updates D_M and D_D together (D_D comes from
`discriminator_modules()`, so the engine trains it with D's optimiser and freezes it during the G step), then the G
step updates G on the sum of the manifold and diffusion losses and E (from `modules()`, trained with G's
optimiser) on the manifold loss, the only one in which E appears. One Adam step on the summed gradient replaces the
paper's two successive G updates; the diffusion update does not see the manifold update of the same iteration.
x in the G step is the D step's batch. The engine's `d` is D_M, the discriminator that sees real data.
"""

from __future__ import annotations

from torch import nn
from torch.nn import functional as F

from ganctl.methods.base import Method, bce_discriminator_terms, detached_sample, running_stats_kept
from ganctl.methods.mrgan import encode, reconstruction_error


class Mdgan(Method):
    def __init__(self, geometric_weight: float = 1.0, n_critic: int = 1):
        self.geometric_weight, self.n_critic = geometric_weight, n_critic
        self.encoder: nn.Module | None = None
        self.d_diffusion: nn.Module | None = None

    def build_networks(self, nets):
        self.encoder = nets.discriminator(outputs=nets.z_dim, options=False)
        self.d_diffusion = nets.discriminator()
        return nets.generator(), nets.discriminator()

    def modules(self):
        return {"encoder": self.encoder}

    def discriminator_modules(self):
        return {"d_diffusion": self.d_diffusion}

    def discriminator_step(self, g, d, real, z):
        with running_stats_kept(g):  # G's running statistics are of G(z), which evaluation samples
            reconstruction = detached_sample(g, encode(self.encoder, real))
        fake = detached_sample(g, z)
        manifold, m = bce_discriminator_terms(d(real), d(reconstruction))
        diffusion, s = bce_discriminator_terms(self.d_diffusion(reconstruction), self.d_diffusion(fake))
        return {"loss": manifold + diffusion, "dm_real": m["d_real"], "dm_reconstruction": m["d_fake"],
                "dd_reconstruction": s["d_real"], "dd_fake": s["d_fake"]}

    def generator_step(self, g, d, real, z):
        with running_stats_kept(g):
            reconstruction = g(encode(self.encoder, real))
        geometric = reconstruction_error(real, reconstruction)
        manifold = F.softplus(-d(reconstruction)).mean()  # -E[log D_M(G(E(x)))]
        diffusion = F.softplus(-self.d_diffusion(g(z))).mean()  # -E[log D_D(G(z))]
        return {"loss": manifold + self.geometric_weight * geometric + diffusion,
                "geometric": geometric, "manifold": manifold, "diffusion": diffusion}
