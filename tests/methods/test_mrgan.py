"""MRGAN: the geometric and mode regularizers on a tiny linear G, E, D against hand values, and a run on the ring."""

import copy
import math

import pytest
import torch
from torch import nn

from ganctl.engine import build
from ganctl.methods.mrgan import Mrgan
from tests.conftest import FAST, make_config
from tests.methods.test_madgan import assert_learns


def linear(weight):
    net = nn.Linear(2, len(weight), bias=False)
    with torch.no_grad():
        net.weight.copy_(torch.tensor(weight))
    return net


class Critic(nn.Module):
    """D(x) = w . x + c as a logit."""

    def __init__(self, w, c):
        super().__init__()
        self.w, self.c = nn.Parameter(torch.tensor(w)), nn.Parameter(torch.tensor(c))

    def forward(self, x):
        return x @ self.w + self.c


def softplus(v):
    return math.log(1 + math.exp(v))


X = torch.tensor([[2.0, 0.0], [0.0, 4.0]])
Z = torch.tensor([[1.0, 1.0], [0.0, -1.0]])


def setup(c=0.5):
    g = linear([[1.0, 0.0], [0.0, 2.0]])       # G(z) = (z1, 2 z2)
    e = linear([[0.5, 0.0], [0.0, 0.25]])      # E(x) = (x1 / 2, x2 / 4), so G(E(x)) = x / 2
    method = Mrgan(geometric_weight=0.1, mode_weight=0.3)
    method.encoder = e
    return method, g, e, Critic([1.0, -1.0], c)


def test_mrgan_regularizers_by_hand():
    method, g, _, d = setup()
    out = method.generator_step(g, d, X, Z)
    # G(E(x)) = (1, 0) and (0, 2): ||x - G(E(x))||^2 = 1 and 4
    geometric = (1 + 4) / 2
    # D(G(E(x))) logits: 1 - 0 + 0.5 = 1.5 and 0 - 2 + 0.5 = -1.5; -log sigmoid(l) = softplus(-l)
    mode = (softplus(-1.5) + softplus(1.5)) / 2
    # G(z) = (1, 2) and (0, -2): logits -0.5 and 2.5
    adversarial = (softplus(0.5) + softplus(-2.5)) / 2
    assert out["geometric"].item() == pytest.approx(geometric, rel=1e-6)
    assert out["mode"].item() == pytest.approx(mode, rel=1e-6)
    assert out["loss"].item() == pytest.approx(adversarial + 0.1 * geometric + 0.3 * mode, rel=1e-6)


def test_mrgan_mode_regularizer_rewards_reconstructions_judged_real():
    """The sign the paper's argument needs: the regularizer falls as D calls G(E(x)) more real (the printed
    +log D(G(E(x))) would rise)."""
    modes = []
    for c in (0.5, 1.5):  # the same nets; the second D's real probability is higher everywhere
        method, g, _, d = setup(c)
        modes.append(method.generator_step(g, d, X, Z)["mode"].item())
    assert modes[1] < modes[0]


def test_mrgan_one_backward_trains_e_on_the_regularizers_only():
    method, g, e, d = setup()
    method.generator_step(g, d, X, Z)["loss"].backward()
    # T_E = lambda1 * R + lambda2 * M, written out on copies of the nets
    g2, e2 = copy.deepcopy(g), copy.deepcopy(e)
    recon = g2(e2(X))
    t_e = 0.1 * (X - recon).square().sum(1).mean() + 0.3 * nn.functional.softplus(-d(recon)).mean()
    (grad_e,) = torch.autograd.grad(t_e, e2.weight)
    assert torch.allclose(e.weight.grad, grad_e, atol=1e-6)
    assert e.weight.grad.abs().sum() > 0


def test_mrgan_encoder_is_a_bare_discriminator_network_mapping_data_to_z():
    cfg = make_config("method=mrgan", "model.pack=2", *FAST)
    method = build.method(cfg)
    _, d = build.networks(cfg, (2,), method)
    encoder = method.modules()["encoder"]
    assert encoder(torch.randn(6, 2)).shape == (6, 2)  # z_dim = 2 codes, one per sample: no packing
    assert d(torch.randn(6, 2)).shape == (3,)           # while D judges packs of 2


def test_mrgan_learns_the_ring(tmp_path):
    # Measured over 10 seeds x 1 and 2 threads (benchmarks/learning_margins.py, AMD EPYC, 2026-11-30): W1 drop
    # 0.769-0.795 (threshold 0.25), high quality 1.2-5.9% (> 0)
    assert_learns("mrgan", tmp_path)


@pytest.mark.parametrize("method", ["mrgan", "mdgan"])
def test_encoder_passes_leave_the_generators_running_statistics_to_its_noise_batches(method):
    """G(E(x)) normalises with its own batch statistics but must not move G's running statistics, which
    evaluation uses: after both steps they equal those of a G that only ever saw the noise batches."""
    cfg = make_config(f"method={method}", "model=pacgan_mlp", "model.generator.hidden=16",
                      "model.discriminator.hidden=8")
    torch.manual_seed(0)
    data = build.dataset(cfg)
    m = build.method(cfg)
    g, d = build.networks(cfg, data.shape, m)
    noise_only = copy.deepcopy(g)
    real, z = data.train[:64], torch.randn(64, 2)
    m.discriminator_step(g, d, real, z)
    m.generator_step(g, d, real, z)
    with torch.no_grad():
        for _ in range(2):  # each method samples G(z) once in its D step and once in its G step
            noise_only(z)
    norms = [n for n in g.modules() if isinstance(n, nn.BatchNorm1d)]
    expected = [n for n in noise_only.modules() if isinstance(n, nn.BatchNorm1d)]
    assert norms
    for got, want in zip(norms, expected):
        torch.testing.assert_close(got.running_mean, want.running_mean, rtol=0, atol=0)
        torch.testing.assert_close(got.running_var, want.running_var, rtol=0, atol=0)
