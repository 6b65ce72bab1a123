"""Annealed importance sampling (AIS) estimate of a generator's log-likelihood under a Gaussian observation model.

Wu, Burda, Salakhutdinov, Grosse 2017, "On the quantitative analysis of decoder-based generative models",
arXiv:1611.04273 (ICLR 2017); AIS: Neal 2001, "Annealed importance sampling", Statistics and Computing 11:125-139;
HMC: Neal 2011, "MCMC using Hamiltonian dynamics", arXiv:1206.1901. Their reference code
(https://github.com/tonywu95/eval_gen, algorithms/ais.py, algorithms/hmc.py, sampling/samplers.py) fixes the
schedule, the HMC settings and the step-size adaptation followed here.

A GAN defines no density, so as in Wu et al. it is read as the decoder model
    p(z) = N(0, I_k),   p(x | z) = N(x; G(z), sigma^2 I_d),   p(x) = int p(z) p(x | z) dz,
with sigma a modelling choice (the number depends strongly on it; Wu et al. pick it on validation data).
AIS anneals from the prior to the posterior along the geometric path
    f_t(z) = p(z) p(x | z)^beta_t,   0 = beta_0 < beta_1 < ... < beta_T = 1   (T = steps),
    log p(x|z) = -||x - G(z)||^2 / (2 sigma^2) - (d/2) log(2 pi sigma^2).
Each chain c starts at z_0 ~ p(z); at t = 1..T it adds (beta_t - beta_{t-1}) log p(x | z_{t-1}) to its log weight,
then moves z_{t-1} -> z_t by one HMC transition that leaves f_t invariant. E[w_c] = p(x) exactly, so
    log p_hat(x) = logmeanexp_c log w_c      (c = 1..chains)
is a stochastic lower bound: E[log p_hat(x)] <= log p(x) (Jensen), tight as steps grow.
    log_likelihood = (1/n) sum_j log p_hat(x_j)   in nats per point, higher is better; stderr = std_j / sqrt(n)
    ess = (1/n) sum_j (sum_c w_jc)^2 / sum_c w_jc^2   in [1, chains]; near chains: weights balanced; near 1:
          one chain dominates and the estimate is unreliable (use more steps).

Schedule: "sigmoid" (Wu et al., Sec. 6.2, their sigmoid_schedule with rad = 4): g_t = s(rad (2t/T - 1)),
beta_t = (g_t - g_0) / (g_T - g_0), s the logistic function; it packs the intermediate distributions near beta = 0
and 1, where the path changes fastest. "linear": beta_t = t / T.
HMC: identity mass, fresh momentum N(0, I) per transition, hmc_steps leapfrog steps of size eps, Metropolis
accept/reject on the joint energy; one transition per intermediate distribution, as in the reference
(L = 10 leapfrog steps, initial eps = 0.01). Step size adaptation as in the reference: an exponential moving
average of the acceptance rate (slowness 0.9, started at the target) and eps multiplied by 1.02 when it is above
the target 0.65, by 0.98 otherwise, kept in [1e-4, 0.5].
Deviations, with reasons: (1) eps and the acceptance average are kept per data point (over its chains), where
the reference has one scalar for the whole batch: posteriors of different points have different scales, and a
point's estimate should not depend on which other points share its batch. (2) Default steps = 1000 where the
reference runs 10000 intermediate distributions: a cheap default for monitoring; check a reported number by
raising steps until it stops increasing (the estimate is a lower bound) and watch ess. As in the reference, the
step size adapts to the chains' own history, which strictly makes the transitions adaptive; the bias this adds is
negligible in practice (Wu et al. validate the estimates with bidirectional Monte Carlo).

z has the data's dtype (so a float32 generator gets float32 latents); log p(x | z) and the log weights are
accumulated in float64. Data points are processed batch_size at a time, each with `chains` chains, i.e.
batch_size * chains rows per generator call, on the data's device; seed fixes the random stream (the result
also depends on batch_size, which regroups the draws). Cost: steps * (hmc_steps + 1) generator forward and
backward passes per batch.
"""

import math
from dataclasses import dataclass

import torch
from torch import nn

from ganctl.errors import UserError

TARGET_ACCEPTANCE = 0.65  # the reference's target_acceptance_rate for AIS
STEP_INC, STEP_DEC = 1.02, 0.98  # multiplicative step-size changes per transition
STEP_MIN, STEP_MAX = 1e-4, 0.5  # step-size bounds
ACCEPT_SLOWNESS = 0.9  # EMA weight of the old acceptance average
SIGMOID_RADIUS = 4.0  # rad in Wu et al.'s sigmoid schedule


@dataclass(frozen=True)
class AisResult:
    log_likelihood: float  # mean over data points of log p_hat(x), nats
    stderr: float  # std (ddof = 0) of per_point / sqrt(n)
    per_point: torch.Tensor  # (n,) float64 on the CPU: log p_hat(x_j)
    ess: float  # mean over data points of the importance weights' effective sample size, in [1, chains]
    acceptance: float  # mean HMC acceptance rate over all transitions, chains and points


def sigmoid_schedule(steps: int, radius: float = SIGMOID_RADIUS) -> torch.Tensor:
    """beta_0..beta_T (T = steps) of Wu et al.'s sigmoid schedule, float64 (steps + 1,); 0 and 1 exactly."""
    g = torch.sigmoid(torch.linspace(-radius, radius, steps + 1, dtype=torch.float64))
    beta = (g - g[0]) / (g[-1] - g[0])
    beta[-1] = 1.0  # exact end point despite rounding
    return beta


def linear_schedule(steps: int) -> torch.Tensor:
    return torch.linspace(0.0, 1.0, steps + 1, dtype=torch.float64)


SCHEDULES = {"sigmoid": sigmoid_schedule, "linear": linear_schedule}


def _ais_batch(generator, x, z_dim, z_dtype, sigma, beta, chains, hmc_steps, step_size, gen):
    """AIS for data points x (B, d) float64 -> log weights (chains, B) float64 and the mean acceptance rate."""
    b, d = x.shape
    rows = chains * b  # row r = c * B + j holds chain c of data point j
    x_rep = x.repeat(chains, 1)  # (B, d) -> (R, d)
    log_norm = 0.5 * d * math.log(2.0 * math.pi * sigma**2)

    def log_lik_and_grad(z):
        """log p(x | z) (R,) float64 and its gradient with respect to z (R, k)."""
        z = z.detach().requires_grad_(True)
        x_hat = generator(z).reshape(rows, -1)  # (R, ...) -> (R, d)
        if x_hat.shape[1] != d:
            raise UserError(
                f"ais_log_likelihood: the generator gives {x_hat.shape[1]} values per sample but the data have "
                f"d = {d}; check z_dim and that data has the generator's output shape"
            )
        ll = -(x_hat.double() - x_rep).square().sum(dim=1) / (2.0 * sigma**2) - log_norm
        (grad,) = torch.autograd.grad(ll.sum(), z)
        return ll.detach(), grad

    def hamiltonian(z, ll, p, beta_t):
        """U_t(z) + |p|^2 / 2 with U_t(z) = -log p(z) - beta_t log p(x | z) up to a constant; float64 (R,)."""
        return 0.5 * (z.double().square().sum(dim=1) + p.double().square().sum(dim=1)) - beta_t * ll

    z = torch.randn(rows, z_dim, generator=gen, device=x.device, dtype=z_dtype)  # z_0 ~ p(z)
    ll, grad_ll = log_lik_and_grad(z)
    log_w = torch.zeros(rows, dtype=torch.float64, device=x.device)
    eps = torch.full((b,), step_size, dtype=z_dtype, device=x.device)  # per data point, shared by its chains
    avg_accept = torch.full((b,), TARGET_ACCEPTANCE, dtype=torch.float64, device=x.device)
    accepted = torch.zeros((), dtype=torch.float64, device=x.device)
    for t in range(1, len(beta)):
        beta_t = float(beta[t])
        log_w += (beta_t - float(beta[t - 1])) * ll  # log f_t(z_{t-1}) - log f_{t-1}(z_{t-1})

        # One HMC transition leaving f_t invariant: leapfrog with half momentum steps at both ends.
        e = eps.repeat(chains)[:, None]  # (R, 1)
        p0 = torch.randn(rows, z_dim, generator=gen, device=x.device, dtype=z_dtype)
        p = p0 - 0.5 * e * (z - beta_t * grad_ll)  # grad U_t = z - beta_t grad log p(x | z)
        z_new = z
        for step in range(hmc_steps):
            z_new = z_new + e * p
            ll_new, grad_new = log_lik_and_grad(z_new)
            p = p - (e if step < hmc_steps - 1 else 0.5 * e) * (z_new - beta_t * grad_new)
        log_ratio = hamiltonian(z, ll, p0, beta_t) - hamiltonian(z_new, ll_new, p, beta_t)
        u = torch.rand(rows, generator=gen, device=x.device, dtype=torch.float64)
        accept = u.log() < log_ratio  # a NaN or -inf ratio (diverged leapfrog) rejects
        z = torch.where(accept[:, None], z_new, z)
        ll = torch.where(accept, ll_new, ll)
        grad_ll = torch.where(accept[:, None], grad_new, grad_ll)

        # Reference adaptation order: the new eps follows the average before this transition is folded in.
        eps = torch.where(avg_accept > TARGET_ACCEPTANCE, eps * STEP_INC, eps * STEP_DEC).clamp(STEP_MIN, STEP_MAX)
        rate = accept.double().reshape(chains, b).mean(dim=0)  # (B,) over each point's chains
        avg_accept = ACCEPT_SLOWNESS * avg_accept + (1.0 - ACCEPT_SLOWNESS) * rate
        accepted += rate.mean()
    return log_w.reshape(chains, b), float(accepted) / (len(beta) - 1)


def ais_log_likelihood(*, generator, data, z_dim, sigma, steps=1000, chains=16, hmc_steps=10, step_size=0.01,
                       schedule="sigmoid", batch_size=64, seed=0) -> AisResult:
    """AIS estimate of the mean log p(x) of `data` (n, ...) under p(z) = N(0, I_{z_dim}), p(x | z) =
    N(G(z), sigma^2 I): `generator` maps z (B, z_dim) to (B, ...) with as many values per sample as data has.
    steps annealing transitions, `chains` chains per point, hmc_steps leapfrog steps per transition, initial
    leapfrog step_size (then adapted); see the module docstring. Higher is better; a stochastic lower bound."""
    data = torch.as_tensor(data).detach()
    if data.ndim < 2 or len(data) == 0:
        raise UserError(f"ais_log_likelihood needs data of shape (n, ...) with n >= 1, got {tuple(data.shape)}")
    sigma = float(sigma)
    checks = [
        (sigma > 0 and math.isfinite(sigma), f"sigma > 0, got {sigma}"),
        (steps >= 1, f"steps >= 1, got {steps}"),
        (chains >= 1, f"chains >= 1, got {chains}"),
        (hmc_steps >= 1, f"hmc_steps >= 1, got {hmc_steps}"),
        (step_size > 0, f"step_size > 0, got {step_size}"),
        (batch_size >= 1, f"batch_size >= 1, got {batch_size}"),
        (z_dim >= 1, f"z_dim >= 1, got {z_dim}"),
        (schedule in SCHEDULES, f"schedule in {sorted(SCHEDULES)}, got {schedule!r}"),
    ]
    for ok, what in checks:
        if not ok:
            raise UserError(f"ais_log_likelihood needs {what}")
    z_dtype = data.dtype if data.is_floating_point() else torch.get_default_dtype()
    beta = SCHEDULES[schedule](steps)
    gen = torch.Generator(device=data.device).manual_seed(seed)

    # G must be deterministic in z: batch norm in training mode would couple the rows of a batch.
    was_training = isinstance(generator, nn.Module) and generator.training
    if isinstance(generator, nn.Module):
        generator.eval()
    log_p, ess, acceptance = [], [], []
    try:
        # Gradients with respect to z only (the generator's .grad fields are never touched); inference_mode(False)
        # lets a caller inside torch.inference_mode() use this function too.
        with torch.inference_mode(False), torch.enable_grad():
            x_all = data.clone().reshape(len(data), -1).double()  # (n, ...) -> (n, d); clone: not an inference tensor
            for start in range(0, len(x_all), batch_size):
                x = x_all[start : start + batch_size]
                log_w, rate = _ais_batch(generator, x, z_dim, z_dtype, sigma, beta, chains, hmc_steps, step_size, gen)
                log_p.append(torch.logsumexp(log_w, dim=0) - math.log(chains))  # logmeanexp over chains, (B,)
                w = torch.softmax(log_w, dim=0)  # normalised weights per point; ESS = 1 / sum w^2
                ess.append(1.0 / w.square().sum(dim=0))
                acceptance.append(rate * len(x))
    finally:
        if isinstance(generator, nn.Module):
            generator.train(was_training)
    per_point = torch.cat(log_p).cpu()
    return AisResult(
        log_likelihood=float(per_point.mean()),
        stderr=float(per_point.std(correction=0) / math.sqrt(len(per_point))),
        per_point=per_point,
        ess=float(torch.cat(ess).mean()),
        acceptance=sum(acceptance) / len(per_point),
    )
