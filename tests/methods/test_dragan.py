"""DRAGAN's perturbation and penalty against closed forms; a short run learns the ring."""

import pytest
import torch
from torch import nn

from ganctl.methods import penalties
from ganctl.methods.dragan import Dragan
from tests.methods.fakes import Linear, identity_g
from tests.methods.ring import FAST_LR, assert_learned, ring_run

# lambda = 0.1 for the short ring run (see test_dragan_learns_the_ring); benchmarks/learning_margins.py runs it too
RUN = ["train.steps=300", "method.gp_weight=0.1", *FAST_LR]


def test_perturbation_lies_in_0_to_half_the_batch_std():
    torch.manual_seed(0)
    real = torch.randn(4000, 3) * torch.tensor([1.0, 2.0, 3.0]) + 5.0
    x_p = penalties.perturbed(real)
    # one std over the whole batch tensor, population (ddof 0) as numpy's x.std() in the authors' code:
    std = real.numpy().std()
    delta = (x_p - real).numpy()
    assert delta.min() >= 0.0 and delta.max() < 0.5 * std * (1 + 1e-6)
    # U[0, 1) per element, same scale in every dimension (not per-dimension std: dim 3 is 3x as spread as dim 1)
    assert delta.mean() == pytest.approx(0.25 * std, rel=0.02)  # sd of the mean ~0.3% of it
    for j in range(3):
        assert delta[:, j].max() == pytest.approx(0.5 * std, rel=0.01)
    assert not torch.equal(penalties.perturbed(real), x_p)  # fresh noise each call


def test_dragan_penalty_of_linear_d_is_closed_form_whatever_the_perturbation():
    d = Linear([3.0, 4.0])  # ||w|| = 5
    real, z = torch.randn(7, 2), torch.randn(7, 2)
    out = Dragan(gp_weight=10.0).discriminator_step(identity_g, d, real, z)
    assert out["gp"].item() == pytest.approx(16.0)  # (5 - 1)^2
    # the rest is the nsgan BCE on logits: softplus(-D(x)) + softplus(D(G(z)))
    bce = nn.functional.softplus(-d(real)).mean() + nn.functional.softplus(d(z)).mean()
    assert out["loss"].item() == pytest.approx(bce.item() + 160.0, rel=1e-6)
    assert Dragan(target_norm=2.0).discriminator_step(identity_g, d, real, z)["gp"].item() == pytest.approx(9.0)


def test_dragan_penalty_is_taken_on_segments_from_real_towards_perturbed_points():
    """D(x) = ||x||^2 / 2 has grad x, so the penalty reveals where the points x_hat were taken."""
    class HalfSquare(nn.Module):
        def forward(self, x):
            return 0.5 * x.square().sum(1)

    torch.manual_seed(0)
    real = torch.zeros(20000, 1)
    real[::2] = 1.0  # std over the batch = 0.5, so x_p - x ~ U[0, 0.25) and x_hat - x = alpha * that
    gp = Dragan().discriminator_step(identity_g, HalfSquare(), real, real)["gp"].item()
    # |grad| = x_hat: E[(x_hat - 1)^2] with x_hat = x + a*u*0.25, a, u ~ U[0,1] independent
    # x = 0: E[(0.25 a u - 1)^2] = 1 - 0.5 E[au] + 0.0625 E[a^2 u^2] = 1 - 0.125 + 0.0625/9
    # x = 1: E[(0.25 a u)^2] = 0.0625/9
    expected = 0.5 * (1 - 0.125 + 0.0625 / 9) + 0.5 * 0.0625 / 9
    assert gp == pytest.approx(expected, rel=0.01)  # Monte Carlo over 20000 points: sd ~0.2% of the value


def test_dragan_penalty_trains_d_towards_unit_gradient():
    d = Linear([3.0, 4.0])
    out = Dragan(gp_weight=1.0).discriminator_step(identity_g, d, torch.randn(5, 2), torch.randn(5, 2))
    out["gp"].backward()  # d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w||
    assert d.w.grad.tolist() == pytest.approx([2 * 4 * 3 / 5, 2 * 4 * 4 / 5], rel=1e-5)


def test_dragan_learns_the_ring(tmp_path):
    # lambda = 10 with unit target norm is the authors' MNIST setting; on the unit ring it caps D's slope so
    # hard that 300 steps barely move G (3000 steps at the yaml's values: W1 0.97 -> 0.68, no mode hit).
    # lambda = 0.1, as the WGAN-GP authors' toy script, and the learning rate of the other 300-step runs.
    assert_learned(*ring_run("dragan", tmp_path, *RUN))
