"""MAD-GAN, Ghosh, Kulharia, Namboodiri, Torr, Dokania 2018, "Multi-Agent Diverse Generative Adversarial Networks",
arXiv:1704.02906 (CVPR 2018): k generators and one discriminator that must also tell which generator made a sample.

D has k + 1 softmax outputs D_0..D_k: class i < k = "made by generator i", class k = real (the paper's D_{k+1}).
    L_D = -(1 / (k + 1)) * (E_x[log D_k(x)] + sum_i E_z[log D_i(G_i(z))])   (cross-entropy)
    L_G = -(1 / k) * sum_i E_z[log D_k(G_i(z))]                               (each G_i wants its samples called real)
The paper's D objective weighs the real term 1 and each generator 1 (real : fake = 1 : k); the authors' code feeds
B real samples and the same B noise vectors through every generator, and takes the mean cross-entropy over all
(k + 1) B, which is the objective above. Here a batch of B noise vectors is split into blocks of B/k, one per
generator (the same draw of z for each generator is only needed by MAD-GAN-Sim, which gets it from g.each), so
L_D = (CE_real + k * CE_fake) / (k + 1), the same expectation (exact when B is a multiple of k * pack; otherwise
each generator weighs by its share of the batch). L_G is the mean over the batch of -log D_k, as in the authors'
code (G_loss = mean(-log D_fake)). At the optimum D_k(x) = p_data / (p_data + sum_i p_gi) and the generators'
mixture (1/k) sum_i p_gi equals p_data (the paper's Theorem 1).

Networks: G is a `MixtureGenerator` (ganctl/nets/mixture.py, built through the `mixture` partial in
conf/method/madgan.yaml so that this file imports nothing from nets): k copies of the configured generator with the
first `shared_layers` parametric layers tied; -1 (default) shares all but the output layer, as the authors' code
(former1 and former2 shared, a separate `latter` per generator). Sample i of a batch comes from generator
`g.labels(B)[i]` (contiguous balanced blocks), which gives D its targets; `ganctl sample` and evaluation call G like any
generator and draw from the uniform mixture. Defaults: k = 4 and Adam(1e-4, beta1 0.5), the authors' code.

Packing (model.pack = m, PacGAN): D classifies packs of m consecutive samples. The mixture's blocks are whole packs
(B is a multiple of m, which the engine checks), so every pack comes from one generator and its target is that
generator, read off the pack's first sample. Real packs are class k as usual. B / m must be at least k.

MAD-GAN-Sim (`similarity_weight` = lambda > 0; arXiv v3, Appendix B): each generator should also make samples unlike
the other generators' samples for the same z. With phi(x) the features of D's penultimate layer (D's `features`, the
input of its `head`), psi the cosine similarity and D(x) = D_k(x) the probability of "real", our reading of the
appendix is the constraint D(G_i(z)) >= D(G_j(z)) + psi(phi(G_i(z)), phi(G_j(z))) for all j != i: the more G_i's
sample resembles G_j's, the more real it must look to be worth it. As a hinge, added to L_G:
    L_sim = lambda * mean_{z, i != j} max(0, psi(phi(G_i(z)), sg[phi(G_j(z))]) - D(G_i(z)) + sg[D(G_j(z))])
sg = stop-gradient: the term is generator i's objective, in which G_j's sample is a given (each generator is its own
player; without sg the pair (i, j) would also push G_j to look *less* real). z: the first B // k noise vectors of the
batch, through every generator (g.each). The appendix text was not at hand when this was written (the stored copies
of the paper stop at the introduction), so the margin form is unverified: check it against the PDF before relying on
MAD-GAN-Sim results.
It needs per-sample features, so it is refused with model.pack > 1 and for a D without `features`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from ganctl.errors import UserError
from ganctl.methods.base import Method, detached_sample


class Madgan(Method):
    def __init__(self, mixture, k: int = 4, shared_layers: int = -1, similarity_weight: float = 0.0,
                 n_critic: int = 1):
        if k < 2:
            raise UserError(f"MAD-GAN needs k >= 2 generators, got method.k={k}")
        if similarity_weight < 0:
            raise UserError(f"method.similarity_weight={similarity_weight} must be >= 0 (0: plain MAD-GAN)")
        self.mixture = mixture  # (make_generator, k, shared_layers, multiple) -> MixtureGenerator
        self.k, self.shared_layers = k, shared_layers
        self.similarity_weight, self.n_critic = similarity_weight, n_critic

    def build_networks(self, nets):
        d = nets.discriminator(outputs=self.k + 1)
        pack = nets.pack  # D judges packs of this many consecutive samples (model.pack)
        if self.similarity_weight and (pack > 1 or not hasattr(d, "features")):
            raise UserError("method.similarity_weight > 0 (MAD-GAN-Sim) compares D's features of single samples: "
                            "it cannot be combined with model.pack > 1 or a discriminator without `features`")
        return self.mixture(nets.generator, self.k, self.shared_layers, multiple=pack), d

    def targets(self, g: nn.Module, n: int, scores: Tensor) -> Tensor:
        """The generator index per D output: per sample, or per pack (its first sample's generator)."""
        if scores.shape[0] < self.k:
            raise UserError(f"a batch of {n} samples gives D {scores.shape[0]} inputs, fewer than the k={self.k} "
                            f"generators: raise train.batch_size")
        return g.labels(n, scores.device)[:: n // scores.shape[0]]

    def discriminator_step(self, g, d, real, z):
        fake = detached_sample(g, z)
        d_real, d_fake = d(real), d(fake)  # (B/m, k + 1) logits
        y = self.targets(g, z.shape[0], d_fake)
        ce_real = F.cross_entropy(d_real, torch.full((d_real.shape[0],), self.k, device=d_real.device))
        ce_fake = F.cross_entropy(d_fake, y)
        return {
            "loss": (ce_real + self.k * ce_fake) / (self.k + 1),
            "d_real": d_real.softmax(1)[:, self.k].mean(),  # D_k: probability of "real"
            "d_fake": d_fake.softmax(1)[:, self.k].mean(),
            "identified": (d_fake[:, : self.k].argmax(1) == y).float().mean(),  # fakes D assigns to their generator
        }

    def generator_step(self, g, d, real, z):
        d_fake = d(g(z))
        loss = F.cross_entropy(d_fake, torch.full((d_fake.shape[0],), self.k, device=d_fake.device))  # -log D_k
        out = {"loss": loss}
        if self.similarity_weight:
            sim = self.similarity_hinge(g, d, z[: max(z.shape[0] // self.k, 1)])
            out["loss"] = loss + self.similarity_weight * sim
            out["similarity_hinge"] = sim
        return out

    def similarity_hinge(self, g, d, z: Tensor) -> Tensor:
        """mean_{z, i != j} max(0, cos(phi_i, sg phi_j) - D(G_i(z)) + sg D(G_j(z))), see the module docstring."""
        samples = g.each(z)  # (k, n, *data_shape)
        k, n = samples.shape[:2]
        phi = d.features(samples.flatten(0, 1))  # (k*n, F)
        p_real = d.head(phi).softmax(1)[:, self.k].view(k, n)  # D(G_i(z)) = D_k
        unit = F.normalize(phi.flatten(1), dim=1).view(k, n, -1)  # (k, n, F), unit length
        cos = torch.einsum("inf,jnf->ijn", unit, unit.detach())  # (k, k, n): psi(phi(G_i(z)), sg phi(G_j(z)))
        hinge = F.relu(cos - p_real[:, None, :] + p_real.detach()[None, :, :])  # (k, k, n)
        off_diagonal = ~torch.eye(k, dtype=torch.bool, device=hinge.device)
        return hinge[off_diagonal].mean()
