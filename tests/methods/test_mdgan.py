"""MDGAN: both steps' losses by hand, the sign of the manifold term, gradient routing, and a run on the ring."""

import copy
import math

import pytest
import torch
from torch import nn

from ganctl.engine import build
from ganctl.methods.mdgan import Mdgan
from tests.conftest import FAST, make_config
from tests.methods.test_madgan import assert_learns
from tests.methods.test_mrgan import Critic, X, Z, linear, softplus


def sigmoid(v):
    return 1 / (1 + math.exp(-v))


def setup():
    g = linear([[1.0, 0.0], [0.0, 2.0]])   # G(z) = (z1, 2 z2): G(Z) = (1, 2), (0, -2)
    e = linear([[0.5, 0.0], [0.0, 0.25]])  # G(E(x)) = x / 2 = (1, 0), (0, 2)
    method = Mdgan(geometric_weight=0.1)
    method.encoder, method.d_diffusion = e, Critic([0.0, 1.0], 0.0)
    d_manifold = Critic([1.0, -1.0], 1.0)
    return method, g, e, d_manifold


def test_mdgan_discriminator_step_trains_both_discriminators():
    method, g, _, d_manifold = setup()
    out = method.discriminator_step(g, d_manifold, X, Z)
    # D_M: x = (2, 0), (0, 4) real -> logits 3, -3; G(E(x)) fake -> logits 2, -1
    manifold = (softplus(-3) + softplus(3)) / 2 + (softplus(2) + softplus(-1)) / 2
    # D_D: G(E(x)) real -> logits 0, 2; G(z) fake -> logits 2, -2
    diffusion = (softplus(0) + softplus(-2)) / 2 + (softplus(2) + softplus(-2)) / 2
    assert out["loss"].item() == pytest.approx(manifold + diffusion, rel=1e-6)
    assert out["dm_reconstruction"].item() == pytest.approx((sigmoid(2) + sigmoid(-1)) / 2, rel=1e-6)
    assert out["dd_reconstruction"].item() == pytest.approx((sigmoid(0) + sigmoid(2)) / 2, rel=1e-6)
    assert out["dd_fake"].item() == pytest.approx((sigmoid(2) + sigmoid(-2)) / 2, rel=1e-6)


def test_mdgan_generator_loss_by_hand():
    method, g, _, d_manifold = setup()
    out = method.generator_step(g, d_manifold, X, Z)
    manifold = (softplus(-2) + softplus(1)) / 2        # -log D_M(G(E(x))), logits 2 and -1
    geometric = (1 + 4) / 2                            # ||x - x/2||^2
    diffusion = (softplus(-2) + softplus(2)) / 2       # -log D_D(G(z)), logits 2 and -2
    assert out["manifold"].item() == pytest.approx(manifold, rel=1e-6)
    assert out["geometric"].item() == pytest.approx(geometric, rel=1e-6)
    assert out["loss"].item() == pytest.approx(manifold + 0.1 * geometric + diffusion, rel=1e-6)


def test_mdgan_generator_loss_falls_as_the_discriminators_call_its_outputs_real():
    """The sign: raising D_M's real logit on G(E(x)) (its bias c) lowers G's loss, d/dc = -E[1 - D_M] < 0; the
    paper's literal +log D_M(G(E(x))) would have d/dc = +E[1 - D_M] > 0 and push reconstructions to 'fake'."""
    method, g, _, d_manifold = setup()
    method.generator_step(g, d_manifold, X, Z)["loss"].backward()
    assert d_manifold.c.grad.item() == pytest.approx(-((1 - sigmoid(2)) + (1 - sigmoid(-1))) / 2, rel=1e-6)
    assert method.d_diffusion.c.grad.item() == pytest.approx(-((1 - sigmoid(2)) + (1 - sigmoid(-2))) / 2, rel=1e-6)
    # and in data space: a small step of G(E(x)) against the loss gradient raises D_M's logit there
    recon = (X / 2).requires_grad_(True)
    (grad,) = torch.autograd.grad(nn.functional.softplus(-d_manifold(recon)).mean(), recon)
    assert (d_manifold(recon - 0.01 * grad) > d_manifold(recon)).all()


def test_mdgan_encoder_gets_only_the_manifold_gradient():
    method, g, e, d_manifold = setup()
    method.generator_step(g, d_manifold, X, Z)["loss"].backward()
    g2, e2 = copy.deepcopy(g), copy.deepcopy(e)
    recon = g2(e2(X))
    manifold_loss = nn.functional.softplus(-d_manifold(recon)).mean() + 0.1 * (X - recon).square().sum(1).mean()
    (grad_e,) = torch.autograd.grad(manifold_loss, e2.weight)
    assert torch.allclose(e.weight.grad, grad_e, atol=1e-6)


def test_mdgan_declares_its_extra_networks_to_the_engine():
    cfg = make_config("method=mdgan", *FAST)
    method = build.method(cfg)
    _, d = build.networks(cfg, (2,), method)
    encoder, d_diffusion = method.modules()["encoder"], method.discriminator_modules()["d_diffusion"]
    assert d_diffusion is not d and encoder(torch.randn(5, 2)).shape == (5, 2)
    assert d_diffusion(torch.randn(5, 2)).shape == (5,)


def test_mdgan_learns_the_ring(tmp_path):
    # lambda = 10: the ring's reconstruction error is ~1, so it needs a larger weight to form within 300 steps.
    # Measured over 10 seeds x 1 and 2 threads (benchmarks/learning_margins.py, AMD EPYC, 2026-11-30): W1 drop
    # 0.608-0.763 (threshold 0.25), high quality 0.8-3.5% (> 0)
    assert_learns("mdgan", tmp_path, "method.geometric_weight=10")
