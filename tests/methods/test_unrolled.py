"""Unrolled GAN: the look-ahead against hand computations and torch's own optimisers, D left untouched, and a
short run on the ring."""

import copy
import json

import pytest
import torch
from torch import nn

from ganctl.engine import build
from ganctl.engine.evaluate import evaluate
from ganctl.engine.train import train
from ganctl.errors import UserError
from ganctl.methods.gan import Gan
from ganctl.methods.nsgan import Nsgan
from ganctl.methods.unrolled import Unrolled
from ganctl.nets.mlp import MlpDiscriminator
from ganctl.nets.options import add_spectral_norm
from tests.conftest import FAST, make_config

# float64 throughout: the look-ahead and the independent computations differ only by rounding, so the
# tolerances below can be tight (1e-10) without depending on the order of float32 operations.
DTYPE = torch.float64


class TinyD(nn.Module):
    """D(x) = w2 . tanh(W1 x + b1) + b2, small enough to write its look-ahead by hand."""

    def __init__(self):
        super().__init__()
        self.w1, self.b1 = nn.Parameter(torch.randn(4, 2, dtype=DTYPE)), nn.Parameter(torch.randn(4, dtype=DTYPE))
        self.w2, self.b2 = nn.Parameter(torch.randn(4, dtype=DTYPE)), nn.Parameter(torch.randn((), dtype=DTYPE))

    def forward(self, x):
        return tiny_d(x, self.w1, self.b1, self.w2, self.b2)


def tiny_d(x, w1, b1, w2, b2):
    return torch.tanh(x @ w1.T + b1) @ w2 + b2  # (B, 2) -> (B,)


def tiny_g():
    return nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2)).to(DTYPE)


def setup(seed=0, d_factory=TinyD, optimizer=torch.optim.Adam, real_steps=2, **opt_kwargs):
    """G, D, D's optimiser after `real_steps` real D steps (so its moments are not zero), a batch and noise."""
    torch.manual_seed(seed)
    g, d = tiny_g(), d_factory()
    real, z = torch.randn(16, 2, dtype=DTYPE) + 1.0, torch.randn(16, 2, dtype=DTYPE)
    opt_d = optimizer(d.parameters(), **opt_kwargs)
    for _ in range(real_steps):
        opt_d.zero_grad()
        Nsgan().discriminator_step(g, d, real, z)["loss"].backward()
        opt_d.step()
    opt_d.zero_grad(set_to_none=True)
    d.requires_grad_(False)  # as the engine does before the generator step
    return g, d, opt_d, real, z


def generator_grads(method, g, d, real, z):
    g.zero_grad(set_to_none=True)
    method.generator_step(g, d, real, z)["loss"].backward()
    return [p.grad.clone() for p in g.parameters()]


def unrolled(opt_d, **kwargs):
    method = Unrolled(**kwargs)
    method.attach_optimizers(None, opt_d)
    return method


def assert_all_close(a, b, **tol):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        torch.testing.assert_close(x, y, **tol)


@pytest.mark.parametrize("loss, plain", [("non_saturating", Nsgan), ("minimax", Gan)])
def test_unrolled_zero_steps_is_exactly_the_plain_generator_gradient(loss, plain):
    g, d, opt_d, real, z = setup()
    expected = generator_grads(plain(), g, d, real, z)
    got = generator_grads(unrolled(opt_d, unroll_steps=0, generator_loss=loss), g, d, real, z)
    # Same operations in the same order (functional_call runs D's own forward): bitwise equal. The minimax loss
    # adds E[log D(x)], constant in G when nothing is unrolled.
    for x, y in zip(got, expected):
        assert torch.equal(x, y)


def test_unrolled_lookahead_changes_the_generator_gradient():
    g, d, opt_d, real, z = setup(lr=0.05)
    plain = torch.cat([x.flatten() for x in generator_grads(Nsgan(), g, d, real, z)])
    ahead = torch.cat([x.flatten() for x in generator_grads(unrolled(opt_d, unroll_steps=2), g, d, real, z)])
    # Adam with lr 0.05 moves every D weight by ~0.05 per look-ahead step: far more than rounding.
    assert (ahead - plain).norm() > 0.05 * plain.norm()


def test_unrolled_one_adam_step_matches_a_hand_written_lookahead():
    lr, beta1, beta2, eps = 0.05, 0.5, 0.999, 1e-8
    g, d, opt_d, real, z = setup(lr=lr, betas=(beta1, beta2), eps=eps)
    got = generator_grads(unrolled(opt_d, unroll_steps=1), g, d, real, z)

    # Kingma & Ba's Algorithm 1 from the optimiser's moments after its 2 real steps, differentiable in G.
    theta = [p.detach().requires_grad_(True) for p in (d.w1, d.b1, d.w2, d.b2)]
    fake = g(z)
    loss_d = nn.functional.softplus(-tiny_d(real, *theta)).mean() + nn.functional.softplus(tiny_d(fake, *theta)).mean()
    grads = torch.autograd.grad(loss_d, theta, create_graph=True)
    theta_1 = []
    for p, p_d, grad in zip(theta, (d.w1, d.b1, d.w2, d.b2), grads):
        state = opt_d.state[p_d]
        t = state["step"].item() + 1
        assert t == 3
        m = beta1 * state["exp_avg"] + (1 - beta1) * grad
        v = beta2 * state["exp_avg_sq"] + (1 - beta2) * grad**2
        m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
        theta_1.append(p - lr * m_hat / (v_hat.sqrt() + eps))
    g.zero_grad(set_to_none=True)
    nn.functional.softplus(-tiny_d(fake, *theta_1)).mean().backward()
    expected = [p.grad for p in g.parameters()]

    # torch writes sqrt(v) / sqrt(1 - beta2^t) for sqrt(v_hat): the same number up to float64 rounding.
    assert_all_close(got, expected, rtol=1e-9, atol=1e-12)
    # ... and the dtheta_1/dtheta_G term is really in there: it differs from the first-order gradient.
    first_order = generator_grads(unrolled(opt_d, unroll_steps=1, second_order=False), g, d, real, z)
    assert max((a - b).abs().max() for a, b in zip(got, first_order)) > 1e-4


OPTIMIZERS = {
    "adam": (torch.optim.Adam, {"lr": 0.05, "betas": (0.5, 0.999)}),
    "adam_amsgrad_l2": (torch.optim.Adam, {"lr": 0.05, "amsgrad": True, "weight_decay": 0.1}),
    "adamw": (torch.optim.AdamW, {"lr": 0.05, "weight_decay": 0.1}),
    "rmsprop": (torch.optim.RMSprop, {"lr": 0.01}),
    "rmsprop_momentum_centered_l2": (torch.optim.RMSprop, {"lr": 0.01, "momentum": 0.9, "centered": True,
                                                           "weight_decay": 0.1}),
    # two parameter groups with their own rates: the look-ahead updates each parameter on its own
    "adam_two_groups": (lambda params, **kwargs: torch.optim.Adam(two_groups(params, lr=0.02), **kwargs),
                        {"lr": 0.05, "betas": (0.5, 0.999)}),
}


def two_groups(params, **first_group):
    params = list(params)
    return [{"params": params[:2], **first_group}, {"params": params[2:]}]


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_unrolled_first_order_is_the_plain_gradient_at_the_discriminator_torch_would_reach(name):
    """second_order=false: theta_D^K is what K real steps of D's torch optimiser give on (real, G(z)), and G's
    gradient is the plain non-saturating one at that D."""
    optimizer, kwargs = OPTIMIZERS[name]
    g, d, opt_d, real, z = setup(optimizer=optimizer, **kwargs)
    got = generator_grads(unrolled(opt_d, unroll_steps=3, second_order=False), g, d, real, z)

    d_k = copy.deepcopy(d).requires_grad_(True)
    opt_k = optimizer(d_k.parameters(), **kwargs)
    opt_k.load_state_dict(opt_d.state_dict())
    fake = g(z).detach()
    for _ in range(3):
        opt_k.zero_grad()
        Nsgan().discriminator_step(lambda _: fake, d_k, real, z)["loss"].backward()
        opt_k.step()
    d_k.requires_grad_(False)
    expected = generator_grads(Nsgan(), g, d_k, real, z)
    assert_all_close(got, expected, rtol=1e-9, atol=1e-12)


def test_unrolled_second_order_gradient_is_the_same_for_one_or_several_parameter_groups():
    """One optimiser group: the look-ahead updates D's parameters as one flat vector. The same hyperparameters in
    two groups: one parameter at a time. Both are the same elementwise update, so G's gradient agrees to rounding."""
    kwargs = {"lr": 0.05, "betas": (0.5, 0.999)}
    g, d, opt_d, real, z = setup(**kwargs)
    split = torch.optim.Adam(two_groups(d.parameters()), **kwargs)
    split.load_state_dict({"state": opt_d.state_dict()["state"],
                           "param_groups": [{**opt_d.state_dict()["param_groups"][0], "params": ids}
                                            for ids in ([0, 1], [2, 3])]})
    one_group = generator_grads(unrolled(opt_d, unroll_steps=3), g, d, real, z)
    two = generator_grads(unrolled(split, unroll_steps=3), g, d, real, z)
    assert_all_close(one_group, two, rtol=1e-12, atol=1e-14)
    plain = generator_grads(Nsgan(), g, d, real, z)
    assert max((a - b).abs().max() for a, b in zip(one_group, plain)) > 1e-3  # the look-ahead is really there


def batch_norm_spectral_norm_d():
    d = MlpDiscriminator((2,), hidden=8, depth=2, norm="batch").to(DTYPE)
    add_spectral_norm(d)  # power-iteration vectors u, v: buffers updated in place by every forward in train mode
    return d


@pytest.mark.parametrize("name", ["adam", "rmsprop_momentum_centered_l2"])
@pytest.mark.parametrize("second_order", [True, False])
def test_unrolled_leaves_d_its_buffers_and_its_optimiser_bitwise_unchanged(name, second_order):
    optimizer, kwargs = OPTIMIZERS[name]
    g, d, opt_d, real, z = setup(d_factory=batch_norm_spectral_norm_d, optimizer=optimizer, **kwargs)
    weights = {k: v.clone() for k, v in d.state_dict().items()}  # parameters and buffers
    assert any("running_mean" in k for k in weights) and any("_u" in k for k in weights)
    opt_state = copy.deepcopy(opt_d.state_dict())

    grads = generator_grads(unrolled(opt_d, unroll_steps=3, second_order=second_order), g, d, real, z)

    assert all(torch.isfinite(x).all() for x in grads)
    after = d.state_dict()
    for k, before in weights.items():
        assert torch.equal(after[k], before), k
    for p in d.parameters():
        assert p.grad is None  # the G step's backward left nothing on D (its requires_grad was off)
    state = opt_d.state_dict()
    assert state["param_groups"] == opt_state["param_groups"]
    for i, entry in opt_state["state"].items():
        assert state["state"][i].keys() == entry.keys()
        for k, v in entry.items():
            assert torch.equal(state["state"][i][k], v), (i, k)


def test_unrolled_second_order_gradient_is_finite_for_a_weight_that_never_had_a_gradient():
    """Adam's v = 0 for a D weight whose gradient has always been exactly 0; d sqrt(v)/dv is infinite there, and
    inf * 0 would make G's whole gradient NaN."""
    torch.manual_seed(0)
    g, d = tiny_g(), TinyD()
    real, z = torch.randn(16, 2, dtype=DTYPE), torch.randn(16, 2, dtype=DTYPE)
    with torch.no_grad():
        d.w2[0] = 0.0  # hidden unit 0 feeds nothing, so W1[0] and b1[0] get exactly zero gradient
    opt_d = torch.optim.Adam([d.w1, d.b1, d.b2], lr=0.05)  # w2 is not trained: w2[0] stays 0 in the look-ahead
    opt_d.zero_grad()
    Nsgan().discriminator_step(g, d, real, z)["loss"].backward()
    opt_d.step()
    assert torch.all(opt_d.state[d.w1]["exp_avg_sq"][0] == 0)
    d.requires_grad_(False)
    grads = generator_grads(unrolled(opt_d, unroll_steps=2), g, d, real, z)
    assert all(torch.isfinite(x).all() for x in grads)


def test_unrolled_rejects_optimisers_it_cannot_imitate_and_bad_settings():
    with pytest.raises(UserError, match="knows Adam and RMSprop, not SGD"):
        Unrolled().attach_optimizers(None, torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1))
    with pytest.raises(UserError, match="unroll_steps=-1"):
        Unrolled(unroll_steps=-1)
    with pytest.raises(UserError, match="generator_loss=wasserstein is not known"):
        Unrolled(generator_loss="wasserstein")


def test_notebook_experiment_builds_the_notebooks_networks():
    """+experiment=unrolled_ring8 reaches the nets: two tanh layers of 128 on each side, 256-d noise, every weight
    matrix orthogonal times the gain 1.4 (W W^T = 1.96 I), zero biases, and the minimax generator loss."""
    cfg = make_config("+experiment=unrolled_ring8")
    torch.manual_seed(0)
    data = build.dataset(cfg)
    method = build.method(cfg)
    g, d = build.networks(cfg, data.shape, method)
    assert isinstance(method, Unrolled) and method.generator_loss == "minimax"
    for net, first_in in ((g, 256), (d, 2)):
        layers = [m for m in net.modules() if isinstance(m, torch.nn.Linear)]
        assert [m.in_features for m in layers] == [first_in, 128, 128]
        assert sum(isinstance(m, torch.nn.Tanh) for m in net.modules()) == 2
        hidden = layers[1].weight.detach()
        torch.testing.assert_close(hidden @ hidden.T, 1.96 * torch.eye(128), rtol=0, atol=1e-4)
        assert all(torch.count_nonzero(m.bias) == 0 for m in layers)


# K = 2 and lr 1e-3 (like the other GANs' short runs in tests/engine/test_train.py) to stay at ~15 s on 2 cores.
# The averaged G and the decaying lr settle the samples onto the modes (without them some seeds ended with none).
# benchmarks/learning_margins.py measures the spread of this run.
RUN = ["method=unrolled", "method.unroll_steps=2", "train.steps=250", "optim.lr_g=1e-3", "optim.lr_d=1e-3",
       "train.ema=0.99", "train.lr_decay=linear"]


def test_train_unrolled_on_the_ring_moves_samples_onto_the_modes(tmp_path):
    cfg = make_config(*RUN, "metrics=[mode_coverage,wasserstein]", *FAST)
    torch.manual_seed(cfg.seed)  # train() seeds the same way before building the nets: the same untrained G
    data = build.dataset(cfg)
    g, _ = build.networks(cfg, data.shape, build.method(cfg))
    before = evaluate(g, cfg, data, torch.device("cpu"))
    train(cfg, tmp_path)
    after = json.loads((tmp_path / "metrics.json").read_text())["metrics"]
    # Untrained: samples bunched at the origin, W1 ~ 0.97 to the unit ring, none within 3 std (0.03) of a mode.
    # Measured over 10 seeds x 1 and 2 threads (benchmarks/learning_margins.py, AMD EPYC, 2026-11-30): W1 drop
    # 0.723-0.765 (threshold 0.5), high quality 0.4-3.3% (> 0).
    assert before["high_quality_pct"] == 0.0 and before["wasserstein"] > 0.9
    assert after["wasserstein"] < before["wasserstein"] - 0.5, (before, after)
    assert after["high_quality_pct"] > 0.0, (before, after)  # at least one of the 512 samples on a mode
