"""Each loss of the plain objectives against a hand computation on a tiny batch."""

import math

import pytest
import torch
from torch import nn

from ganctl.methods import penalties
from ganctl.methods.gan import Gan
from ganctl.methods.nsgan import Nsgan
from ganctl.methods.wgan import Wgan
from ganctl.methods.wgan_gp import WganGp
from tests.methods.fakes import Constant, Linear, identity_g

REAL = torch.randn(6, 2)
Z = torch.randn(6, 2)


def test_nsgan_discriminator_loss_at_logit_zero_is_2_log_2():
    out = Nsgan().discriminator_step(identity_g, Constant(0.0), REAL, Z)
    assert out["loss"].item() == pytest.approx(2 * math.log(2), rel=1e-6)
    assert out["d_real"].item() == pytest.approx(0.5) and out["d_fake"].item() == pytest.approx(0.5)


def test_gan_discriminator_loss_is_binary_cross_entropy():
    # D(x) = sigmoid(1.5) for real and fake alike: BCE = -log s(1.5) - log(1 - s(1.5))
    s = 1 / (1 + math.exp(-1.5))
    out = Gan().discriminator_step(identity_g, Constant(1.5), REAL, Z)
    assert out["loss"].item() == pytest.approx(-math.log(s) - math.log(1 - s), rel=1e-6)
    reference = nn.functional.binary_cross_entropy(torch.full((6,), s), torch.ones(6)) + \
        nn.functional.binary_cross_entropy(torch.full((6,), s), torch.zeros(6))
    assert out["loss"].item() == pytest.approx(reference.item(), rel=1e-5)


@pytest.mark.parametrize("logit", [-3.0, 0.0, 2.0])
def test_generator_losses_match_their_formulas(logit):
    s = 1 / (1 + math.exp(-logit))
    saturating = Gan().generator_step(identity_g, Constant(logit), REAL, Z)["loss"].item()
    non_saturating = Nsgan().generator_step(identity_g, Constant(logit), REAL, Z)["loss"].item()
    assert saturating == pytest.approx(math.log(1 - s), rel=1e-6)  # E[log(1 - D(G(z)))]
    assert non_saturating == pytest.approx(-math.log(s), rel=1e-6)  # -E[log D(G(z))]


def test_saturating_loss_gradient_vanishes_where_non_saturating_does_not():
    """The reason nsgan exists: when D rejects fakes (logit -8), d/dlogit log(1 - s) = -s ~ 3e-4, while
    d/dlogit -log s = -(1 - s) ~ -1."""
    grads = []
    for method in (Gan(), Nsgan()):
        d = Constant(-8.0)
        method.generator_step(identity_g, d, REAL, Z)["loss"].backward()
        grads.append(d.value.grad.item())  # the mean over the batch of identical logits
    s = 1 / (1 + math.exp(8.0))
    assert grads[0] == pytest.approx(-s, rel=1e-4)
    assert grads[1] == pytest.approx(-(1 - s), rel=1e-4)


def test_wgan_critic_loss_and_estimate():
    d = Linear([1.0, -2.0])
    real, z = torch.tensor([[1.0, 0.0], [3.0, 1.0]]), torch.tensor([[0.0, 1.0], [2.0, 2.0]])
    out = Wgan().discriminator_step(identity_g, d, real, z)
    d_real = (1 + 0.3 + 1 + 0.3) / 2  # w.x + b for (1,0) and (3,1)
    d_fake = (-2 + 0.3 + -2 + 0.3) / 2
    assert out["wasserstein"].item() == pytest.approx(d_real - d_fake)
    assert out["loss"].item() == pytest.approx(d_fake - d_real)
    assert Wgan().generator_step(identity_g, d, real, z)["loss"].item() == pytest.approx(-d_fake)


def test_wgan_clips_every_weight():
    d = Linear([0.5, -0.002])
    Wgan(clip_value=0.01).after_discriminator_step(d)
    assert d.w.tolist() == pytest.approx([0.01, -0.002])
    assert d.b.item() == pytest.approx(0.01)


def test_gradient_penalty_of_linear_critic_is_closed_form():
    d = Linear([3.0, 4.0])  # ||w|| = 5
    assert penalties.gradient_penalty(d, torch.randn(7, 2)).item() == pytest.approx(16.0)


def test_wgan_gp_loss_adds_lambda_times_penalty():
    d = Linear([3.0, 4.0])
    torch.manual_seed(0)
    out = WganGp(gp_weight=10.0).discriminator_step(identity_g, d, REAL, Z)
    expected_critic = (d(Z).mean() - d(REAL).mean()).item()
    assert out["gp"].item() == pytest.approx(16.0)
    assert out["loss"].item() == pytest.approx(expected_critic + 160.0, rel=1e-6)


def test_wgan_gp_penalty_trains_the_critic_towards_unit_gradient():
    """The penalty's gradient w.r.t. D's weights flows (create_graph=True): d/dw (||w|| - 1)^2 = 2(||w||-1) w/||w||."""
    d = Linear([3.0, 4.0])
    penalties.gradient_penalty(d, torch.randn(5, 2)).backward()
    assert d.w.grad.tolist() == pytest.approx([2 * 4 * 3 / 5, 2 * 4 * 4 / 5], rel=1e-5)


def test_interpolates_lie_on_segments_between_pairs():
    real, fake = torch.zeros(1000, 3), torch.ones(1000, 3)
    x_hat = penalties.interpolates(real, fake)
    assert torch.all(x_hat == x_hat[:, :1])  # one eps per sample, shared across dimensions
    assert 0.0 <= x_hat.min() and x_hat.max() <= 1.0
    assert x_hat.mean().item() == pytest.approx(0.5, abs=0.05)  # eps ~ U[0,1]: mean 1/2, sd of mean ~0.009
