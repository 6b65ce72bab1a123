"""Energy-based GAN with an auto-encoder discriminator and the pull-away term (EBGAN-PT).

Zhao, Mathieu, LeCun 2016, "Energy-based Generative Adversarial Network", arXiv:1609.03126 (Eq. 1-2, Sec. 2.3-2.4).

D is an auto-encoder whose energy is its reconstruction error; D lowers the energy of data and raises that of
samples up to a margin m, G lowers the energy of its samples:
    L_D = E[D(x)] + E[[m - D(G(z))]^+]          ([.]^+ = max(0, .))
    L_G = E[D(G(z))] + lambda_PT * PT(S)
    PT(S) = 1 / (N (N - 1)) * sum_{i != j} (S_i^T S_j / (||S_i|| ||S_j||))^2
where S_i is the encoder's code of the i-th generated sample of the batch (N samples). PT is the squared cosine
similarity between codes, averaged over ordered pairs: 0 for mutually orthogonal codes, 1 for parallel ones, so
it pushes a batch of samples apart in code space (against mode collapse). It is used in G's loss only.

The energy. The paper uses the Euclidean norm D(x) = ||Dec(Enc(x)) - x||, whose scale grows with the data
dimension d (its MNIST grid fixed m = 10, d = 784). Here the energy is the per-sample MEAN squared error,
    D(x) = (1/d) ||Dec(Enc(x)) - x||^2,
so a margin means the same per coordinate for 2-D points and for images (a deviation, for that reason). The
two hinges switch off at the same point when m_here = m_paper^2 / d: the paper's m = 10 on MNIST is
100 / 784 = 0.13 for pixels in [0, 1] (assumed: the sections consulted do not give the pixel range), about 0.5 for
images scaled to [-1, 1] as ganctl's are; 0.5 is the class default. The 2-D mixtures have a much smaller energy
scale: a sample 0.3 off the unit ring has energy 0.045 under a perfect data reconstruction, and trained runs
see real energies of a few 1e-2, so conf/method/ebgan.yaml sets m = 0.1 (on the ring, 300 steps: 0.1 beat
0.05 and 0.5). Use method.margin=0.5 for images.

The auto-encoder is built from the configured architectures, so it works for every model: the encoder is a bare
discriminator with code_dim outputs (no packing, spectral norm or minibatch layer: those options are for
scoring D, not for a reconstruction), the decoder a generator taking the code as its noise. Paper defaults kept:
lambda_PT = 0.1 and Adam with learning rate 1e-3 for both nets (its MNIST grid; conf/method/ebgan.yaml).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ganctl.methods.base import Method, detached_sample


class AutoEncoder(nn.Module):
    """x (B, *data_shape) -> code (B, code_dim) -> reconstruction (B, *data_shape); forward gives the energy (B,)."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module):
        super().__init__()
        self.encoder, self.decoder = encoder, decoder

    def code_and_energy(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """The code S (B, code_dim) and the energy D(x) = mean squared reconstruction error (B,)."""
        code = self.encoder(x)  # (B, code_dim)
        recon = self.decoder(code)  # (B, *data_shape)
        energy = (recon - x).flatten(1).square().mean(dim=1)  # (B, *data_shape) -> (B, d) -> (B,)
        return code, energy

    def forward(self, x: Tensor) -> Tensor:
        return self.code_and_energy(x)[1]


def pull_away_term(codes: Tensor) -> Tensor:
    """PT(S) = 1/(N(N-1)) sum_{i != j} cos(S_i, S_j)^2 for a batch of codes (N, code_dim), N >= 2."""
    n = codes.shape[0]
    unit = nn.functional.normalize(codes.flatten(1), dim=1)  # S_i / ||S_i||
    cos2 = (unit @ unit.T).square()  # (N, N)
    # Subtract the diagonal rather than assuming it is 1: a zero code normalises to 0, not to a unit vector.
    return (cos2.sum() - cos2.diagonal().sum()) / (n * (n - 1))


class Ebgan(Method):
    def __init__(self, margin: float = 0.5, pt_weight: float = 0.1, code_dim: int = 32, n_critic: int = 1):
        self.margin, self.pt_weight, self.code_dim, self.n_critic = margin, pt_weight, code_dim, n_critic

    def build_networks(self, nets):
        g = nets.generator()
        d = AutoEncoder(nets.discriminator(outputs=self.code_dim, options=False), nets.generator(z_dim=self.code_dim))
        return g, d

    def discriminator_step(self, g, d, real, z):
        fake = detached_sample(g, z)
        energy_real, energy_fake = d(real), d(fake)
        loss = energy_real.mean() + torch.relu(self.margin - energy_fake).mean()
        return {"loss": loss, "energy_real": energy_real.mean(), "energy_fake": energy_fake.mean()}

    def generator_step(self, g, d, real, z):
        codes, energy = d.code_and_energy(g(z))
        pt = pull_away_term(codes)
        return {"loss": energy.mean() + self.pt_weight * pt, "pt": pt}
