"""AIS log-likelihood against the exact marginal of a linear-Gaussian generator, and the schedule's closed form."""

import math

import pytest
import torch
from torch import nn

from ganctl.errors import UserError
from ganctl.metrics.ais import ais_log_likelihood, linear_schedule, sigmoid_schedule


def linear_gaussian(d, k, sigma, n, seed):
    """G(z) = W z + b with W (d, k), b (d,), n points drawn from the model and their exact log p(x):
    z ~ N(0, I_k), x | z ~ N(W z + b, sigma^2 I_d)  =>  x ~ N(b, W W^T + sigma^2 I_d)."""
    gen = torch.Generator().manual_seed(seed)
    w = torch.randn(d, k, generator=gen, dtype=torch.float64)
    b = torch.randn(d, generator=gen, dtype=torch.float64)
    x = torch.randn(n, k, generator=gen, dtype=torch.float64) @ w.T + b
    x = x + sigma * torch.randn(n, d, generator=gen, dtype=torch.float64)
    cov = w @ w.T + sigma**2 * torch.eye(d, dtype=torch.float64)
    exact = torch.distributions.MultivariateNormal(b, cov).log_prob(x)
    return w, b, x, exact


def test_ais_linear_gaussian_matches_exact_marginal_from_below():
    sigma, chains = 0.5, 64
    w, b, x, exact = linear_gaussian(d=4, k=2, sigma=sigma, n=16, seed=0)
    result = ais_log_likelihood(generator=lambda z: z @ w.T + b, data=x, z_dim=2, sigma=sigma, steps=300,
                                chains=chains, step_size=0.1, seed=0)
    err = result.per_point - exact
    # Monte Carlo error: by the delta method Var(log p_hat) ~ 1/ESS - 1/chains, ~0.07^2 here (ESS ~ 50), so the
    # mean |err| is ~0.05 with a standard deviation of ~0.01 over 16 points; 0.1 leaves a wide margin.
    assert float(err.abs().mean()) < 0.1, err
    # A stochastic lower bound: E[log p_hat] <= log p. The mean error over 16 points has a standard deviation of
    # ~0.07 / 4 = 0.018, so +0.06 allows ~3.5 standard deviations of noise above the bound, and no real bias.
    assert float(err.mean()) < 0.06
    assert result.log_likelihood == pytest.approx(float(result.per_point.mean()), abs=1e-12)
    assert 0.7 * chains < result.ess <= chains  # annealed weights are nearly balanced
    assert 0.5 < result.acceptance < 0.9  # the adaptation keeps it near its target 0.65 (capped step size)


def test_ais_bound_tightens_as_steps_grow():
    # A sharp posterior (sigma = 0.1) far from the prior: short annealing leaves one chain dominating (ESS ~ 1)
    # and underestimates log p(x) by nats; longer annealing raises the estimate toward the exact value.
    sigma = 0.1
    w, b, x, exact = linear_gaussian(d=5, k=2, sigma=sigma, n=16, seed=0)
    runs = [ais_log_likelihood(generator=lambda z: z @ w.T + b, data=x, z_dim=2, sigma=sigma, steps=steps, chains=16,
                               step_size=0.1, seed=1) for steps in (3, 10, 100)]
    means = [r.log_likelihood for r in runs]
    assert means[0] < means[1] < means[2] < float(exact.mean()) + 0.1, (means, float(exact.mean()))
    assert means[1] < float(exact.mean()) - 1.0  # 10 steps: clearly below the bound's target
    assert runs[0].ess < runs[1].ess < runs[2].ess <= 16
    assert all(1.0 <= r.ess for r in runs)


def test_ais_one_step_is_prior_importance_sampling():
    # steps = 1: w_c = p(x | z_c) with z_c ~ p(z), plain importance sampling from the prior, so the estimate checks
    # the likelihood's normalisation without any HMC. Its relative variance is E[w^2] / p^2 - 1 with, in closed
    # form, E[w^2] = (4 pi sigma^2)^(-d/2) N(x; b, W W^T + sigma^2 / 2 I) (a squared Gaussian is a Gaussian).
    sigma, d, chains = 0.5, 4, 20_000
    w, b, x, exact = linear_gaussian(d=d, k=2, sigma=sigma, n=4, seed=0)
    result = ais_log_likelihood(generator=lambda z: z @ w.T + b, data=x, z_dim=2, sigma=sigma, steps=1,
                                chains=chains, hmc_steps=1, seed=0)
    cov2 = w @ w.T + sigma**2 / 2 * torch.eye(d, dtype=torch.float64)
    log_ew2 = -0.5 * d * math.log(4 * math.pi * sigma**2) + torch.distributions.MultivariateNormal(b, cov2).log_prob(x)
    rel_std = (((log_ew2 - 2 * exact).exp() - 1) / chains).sqrt()  # std of log p_hat by the delta method
    assert ((result.per_point - exact).abs() < 5 * rel_std).all(), (result.per_point - exact, rel_std)
    assert rel_std.max() < 0.1  # sharp enough to catch a wrong constant such as (d/2) log sigma^2 vs log sigma


def test_ais_float32_module_runs_in_eval_mode_and_is_restored():
    # BatchNorm with running mean 0, variance 1, eps 0 is the identity in eval mode, but in training mode it would
    # standardise each batch of z, a different model: matching the exact marginal shows G ran in eval mode.
    sigma = 0.5
    w, b, x, exact = linear_gaussian(d=4, k=2, sigma=sigma, n=8, seed=2)
    g = nn.Sequential(nn.Linear(2, 4), nn.BatchNorm1d(4, eps=0.0))
    with torch.no_grad():
        g[0].weight.copy_(w)
        g[0].bias.copy_(b)
    g.train()
    with torch.inference_mode():  # as the engine evaluates; the function re-enables autograd for z
        x32 = x.float()
    result = ais_log_likelihood(generator=g, data=x32, z_dim=2, sigma=sigma, steps=200, chains=64, step_size=0.1)
    err = result.per_point - exact
    assert float(err.abs().mean()) < 0.15, err  # 200 steps, ESS ~ 45: per-point std ~ 0.08 (see above)
    assert g.training and g[1].training
    assert all(p.grad is None for p in g.parameters())  # gradients were taken with respect to z only
    assert float(g[1].running_mean.abs().max()) == 0.0  # eval mode: batch statistics were never recorded


def test_ais_sigmoid_schedule_closed_form():
    # T = 4: g_t = s(4 (2t/4 - 1)) = s(-4), s(-2), s(0), s(2), s(4); beta_t = (g_t - g_0) / (g_4 - g_0).
    s = lambda v: 1 / (1 + math.exp(-v))
    expected = [(s(v) - s(-4)) / (s(4) - s(-4)) for v in (-4, -2, 0, 2, 4)]
    beta = sigmoid_schedule(4)
    torch.testing.assert_close(beta, torch.tensor(expected, dtype=torch.float64), rtol=0, atol=1e-15)
    long = sigmoid_schedule(1000)
    assert long[0] == 0.0 and long[-1] == 1.0 and bool((long.diff() > 0).all())
    torch.testing.assert_close(long + long.flip(0), torch.ones(1001, dtype=torch.float64), rtol=0, atol=1e-12)
    # Denser near both ends than the linear schedule: the first step is a small fraction of 1/T.
    assert float(long[1]) < 0.2 / 1000
    torch.testing.assert_close(linear_schedule(4), torch.tensor([0, 0.25, 0.5, 0.75, 1], dtype=torch.float64))


def test_ais_input_errors_are_user_errors():
    x = torch.zeros(3, 4)
    gen = lambda z: z @ torch.ones(2, 4)
    with pytest.raises(TypeError):
        ais_log_likelihood(gen, x)  # keyword-only
    with pytest.raises(UserError, match="values per sample"):
        ais_log_likelihood(generator=gen, data=torch.zeros(3, 5), z_dim=2, sigma=1.0, steps=1)
    with pytest.raises(UserError, match="sigma > 0"):
        ais_log_likelihood(generator=gen, data=x, z_dim=2, sigma=0.0)
    with pytest.raises(UserError, match="schedule"):
        ais_log_likelihood(generator=gen, data=x, z_dim=2, sigma=1.0, schedule="cosine")
    with pytest.raises(UserError, match="chains >= 1"):
        ais_log_likelihood(generator=gen, data=x, z_dim=2, sigma=1.0, chains=0)
    with pytest.raises(UserError, match=r"\(n, \.\.\.\)"):
        ais_log_likelihood(generator=gen, data=torch.zeros(4), z_dim=2, sigma=1.0)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_ais_on_cuda_matches_exact_marginal():
    # The CUDA random stream differs from the CPU one, so the check is against the exact value, as on the CPU.
    sigma = 0.5
    w, b, x, exact = linear_gaussian(d=4, k=2, sigma=sigma, n=16, seed=0)
    w, b = w.cuda(), b.cuda()
    result = ais_log_likelihood(generator=lambda z: z @ w.T + b, data=x.cuda(), z_dim=2, sigma=sigma, steps=300,
                                chains=64, step_size=0.1, seed=0)
    err = result.per_point - exact
    assert result.per_point.device.type == "cpu"
    assert float(err.abs().mean()) < 0.1 and float(err.mean()) < 0.06
