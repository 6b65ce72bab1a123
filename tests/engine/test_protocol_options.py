"""The protocol options of the mode benchmarks, each against a hand computation or a bitwise comparison:
model.init, model.bn_momentum, train.batch_unit=packs, train.schedule=simultaneous, train.ema, train.lr_decay."""

import pytest
import torch
from torch.nn import functional as F

from ganctl.engine import build, checkpoint, ema
from ganctl.engine.batches import BatchSampler
from ganctl.engine.train import train
from ganctl.errors import UserError
from tests.conftest import FAST, make_config

QUIET = ["eval.at_end=false", "train.checkpoint_every=1000", *FAST]


def fresh_networks(cfg):
    """G and D exactly as train() builds them before its first step (it seeds, then builds data, method, nets)."""
    torch.manual_seed(cfg.seed)
    data = build.dataset(cfg)
    method = build.method(cfg)
    g, d = build.networks(cfg, data.shape, method)
    return data, g, d


def last_state(run_dir):
    return checkpoint.load(run_dir / "checkpoints" / "last.pt")


def linear_layers(net):
    return [m for m in net.modules() if isinstance(m, torch.nn.Linear)]


def test_normal_init_draws_every_weight_from_the_normal_and_zeroes_the_biases():
    _, g, d = fresh_networks(make_config("model=pacgan_mlp", "model.init=normal", "model.init_scale=0.02"))
    layers = linear_layers(g) + linear_layers(d)
    assert all(m.bias is None or torch.count_nonzero(m.bias) == 0 for m in layers)
    weights = torch.cat([m.weight.flatten() for m in layers])
    # 900k weights: the sample std of N(0, 0.02^2) is within 0.02 * 3 / sqrt(2n) = 4e-5 of 0.02 (3 sigma).
    assert weights.numel() > 500_000
    assert abs(weights.std().item() - 0.02) < 1e-4
    assert abs(weights.mean().item()) < 1e-4
    # PyTorch's default for D's first maxout layer (fan-in 2) is U(+-1/sqrt(2)), std 0.41: the option changed it
    _, g_default, _ = fresh_networks(make_config("model=pacgan_mlp"))
    assert linear_layers(g_default)[0].weight.std() > 0.3


def test_orthogonal_init_gives_gain_times_an_orthogonal_matrix():
    _, g, _ = fresh_networks(make_config("model.init=orthogonal", "model.init_scale=1.4"))
    w = linear_layers(g)[1].weight.detach()  # (128, 128)
    torch.testing.assert_close(w @ w.T, 1.4**2 * torch.eye(len(w)), rtol=0, atol=1e-4)
    assert torch.count_nonzero(linear_layers(g)[1].bias) == 0


def test_bn_momentum_folds_that_share_of_the_batch_mean_into_the_running_mean():
    _, g, _ = fresh_networks(make_config("model=pacgan_mlp", "model.bn_momentum=0.05"))
    z = torch.randn(100, 2, generator=torch.Generator().manual_seed(3))
    first_linear = linear_layers(g)[0]
    norm = next(m for m in g.modules() if isinstance(m, torch.nn.BatchNorm1d))
    g.train()
    with torch.no_grad():
        g(z)
        batch_mean = first_linear(z).mean(0)
    # running mean starts at 0: after one batch it is momentum * batch mean (PyTorch's convention)
    torch.testing.assert_close(norm.running_mean, 0.05 * batch_mean, rtol=1e-6, atol=1e-7)


def test_batch_unit_packs_draws_batch_size_packs_of_pack_samples(tmp_path):
    common = ["method=pacgan4", "train.batch_size=8", "train.steps=1", *QUIET]
    train(make_config(*common), tmp_path / "samples")
    train(make_config(*common, "train.batch_unit=packs"), tmp_path / "packs")
    # the sampler's position after one step is the number of samples drawn: 8, or 8 packs of 4
    assert last_state(tmp_path / "samples")["batches"]["position"] == 8
    assert last_state(tmp_path / "packs")["batches"]["position"] == 32


def test_simultaneous_schedule_is_one_adam_step_of_each_from_the_same_weights_batch_and_noise(tmp_path):
    overrides = ["train.schedule=simultaneous", "train.batch_size=64", "train.steps=1", *QUIET]
    cfg = make_config(*overrides)
    train(cfg, tmp_path)
    state = last_state(tmp_path)

    data, g, d = fresh_networks(cfg)  # by hand: both gradients at the initial weights, then both Adam steps
    real = BatchSampler(data.train, 64, seed=cfg.seed + 1).next()
    z = torch.randn(64, cfg.model.z_dim, generator=torch.Generator().manual_seed(cfg.seed + 2))
    loss_d = F.softplus(-d(real)).mean() + F.softplus(d(g(z).detach())).mean()
    grads_d = torch.autograd.grad(loss_d, list(d.parameters()))
    loss_g = F.softplus(-d(g(z))).mean()
    grads_g = torch.autograd.grad(loss_g, list(g.parameters()))
    for net, grads, lr in ((d, grads_d, cfg.optim.lr_d), (g, grads_g, cfg.optim.lr_g)):
        for p, grad in zip(net.parameters(), grads):
            p.grad = grad
        torch.optim.Adam(net.parameters(), lr=lr, betas=(cfg.optim.beta1, cfg.optim.beta2)).step()
    for net, saved in ((g, state["g"]), (d, state["d"])):
        for name, p in net.named_parameters():
            torch.testing.assert_close(saved[name], p.detach(), rtol=0, atol=1e-7)

    # the default alternating schedule updates G against the updated D, on fresh noise: another result
    train(make_config(*overrides[1:]), tmp_path / "alternating")
    assert not torch.equal(last_state(tmp_path / "alternating")["g"]["net.0.weight"], state["g"]["net.0.weight"])


def test_simultaneous_schedule_needs_one_critic_step():
    with pytest.raises(UserError, match="n_critic=1"):
        train(make_config("method=wgan_gp", "train.schedule=simultaneous", "train.steps=1", *QUIET), None)


def test_ema_is_the_exponential_average_of_the_generator_iterates(tmp_path):
    decay = 0.9
    iterates = []
    for steps in (1, 2, 3):
        train(make_config(f"train.steps={steps}", f"train.ema={decay}", *QUIET), tmp_path / str(steps))
        iterates.append(last_state(tmp_path / str(steps))["g"])
    averaged = ema.generator_state(last_state(tmp_path / "3")["g_ema"])
    for name, value in averaged.items():
        theta1, theta2, theta3 = (it[name] for it in iterates)
        by_hand = decay * (decay * theta1 + (1 - decay) * theta2) + (1 - decay) * theta3  # e1 = theta1
        torch.testing.assert_close(value, by_hand, rtol=1e-6, atol=1e-7)
    assert not torch.equal(averaged["net.0.weight"], iterates[2]["net.0.weight"])


def test_ema_resumes_bitwise(tmp_path):
    common = ["model=pacgan_mlp", "model.generator.hidden=32", "model.discriminator.hidden=16", "train.ema=0.99",
              *QUIET]  # pacgan_mlp: a generator with batch norm, whose running statistics are averaged too
    train(make_config("train.steps=20", *common), tmp_path / "straight")
    train(make_config("train.steps=10", *common), tmp_path / "first")
    train(make_config("train.steps=20", f"train.resume={tmp_path / 'first'}", *common), tmp_path / "resumed")
    straight, resumed = last_state(tmp_path / "straight")["g_ema"], last_state(tmp_path / "resumed")["g_ema"]
    assert straight.keys() == resumed.keys()
    assert any("running_mean" in k for k in straight)
    for key in straight:
        assert torch.equal(straight[key], resumed[key]), key


def test_linear_lr_decay_reaches_zero_on_the_last_step(tmp_path):
    cfg = make_config("train.steps=4", "train.lr_decay=linear", "optim.lr_g=1e-3", "optim.lr_d=2e-3", *QUIET)
    train(cfg, tmp_path)
    groups = last_state(tmp_path)["opt_d"]["param_groups"]
    assert groups[0]["lr"] == pytest.approx(2e-3 * (1 - 3 / 4))  # step 4 of 4 runs at (1 - 3/4) of the base


@pytest.mark.parametrize(("steps", "cooldown", "factor"), [(10, 0.2, 0.5), (10, 0.5, 0.2), (4, 1.0, 0.25)])
def test_cooldown_holds_the_rate_then_falls_to_zero_at_the_last_step(tmp_path, steps, cooldown, factor):
    # The last step (0-based step steps-1) runs at (1 - (steps-1)/steps) / cooldown of the base rate.
    cfg = make_config(f"train.steps={steps}", "train.lr_decay=cooldown", f"train.cooldown={cooldown}",
                      "optim.lr_g=1e-3", "optim.lr_d=2e-3", *QUIET)
    train(cfg, tmp_path)
    state = last_state(tmp_path)
    assert state["opt_d"]["param_groups"][0]["lr"] == pytest.approx(2e-3 * factor)
    assert state["opt_g"]["param_groups"][0]["lr"] == pytest.approx(1e-3 * factor)


def test_cooldown_before_its_last_fraction_keeps_the_base_rate(tmp_path):
    # 10 steps, cooldown 0.2: steps 0-8 run at the full rate ((1 - 8/10) / 0.2 = 1), step 9 at half. The checkpoint
    # after step 9 of them is kept as previous.pt when the last one replaces it.
    cfg = make_config("train.steps=10", "train.lr_decay=cooldown", "train.cooldown=0.2", "optim.lr_d=2e-3",
                      "eval.at_end=false", "train.checkpoint_every=9", *FAST)
    train(cfg, tmp_path)
    before = checkpoint.load(tmp_path / "checkpoints" / "previous.pt")
    assert before["step"] == 9
    assert before["opt_d"]["param_groups"][0]["lr"] == pytest.approx(2e-3)
    assert last_state(tmp_path)["opt_d"]["param_groups"][0]["lr"] == pytest.approx(2e-3 * 0.5)


def test_cooldown_follows_the_clock_when_train_minutes_ends_the_run(tmp_path):
    # 0.02 minutes end the run long before its 10^6 steps; with cooldown=1 the rate falls with the time spent,
    # so the last step runs at (budget - time spent) / budget of the base: a few percent at most.
    cfg = make_config("train.steps=1000000", "train.minutes=0.02", "train.lr_decay=cooldown", "train.cooldown=1",
                      "optim.lr_d=2e-3", *QUIET)
    train(cfg, tmp_path)
    state = last_state(tmp_path)
    assert 10 < state["step"] < 1000000
    assert 0 <= state["opt_d"]["param_groups"][0]["lr"] < 2e-3 * 0.1


def test_cooldown_fraction_out_of_range_is_one_line(tmp_path):
    with pytest.raises(UserError, match=r"train.cooldown=0.0 must be in \(0, 1\]"):
        train(make_config("train.steps=2", "train.lr_decay=cooldown", "train.cooldown=0", *QUIET), tmp_path)


def test_sample_uses_the_averaged_generator_and_raw_on_request(tmp_path):
    from ganctl.engine import runs
    from ganctl.engine.evaluate import EVAL_SEED_OFFSET, generate

    train(make_config("train.steps=5", "train.ema=0.9", *QUIET), tmp_path / "run")
    state = last_state(tmp_path / "run")
    for generator, weights in (("auto", ema.generator_state(state["g_ema"])), ("ema", ema.generator_state(state["g_ema"])),
                               ("raw", state["g"])):
        run = runs.open_run(tmp_path / "run", generator=generator)
        for name, value in run.g.state_dict().items():
            assert torch.equal(value, weights[name]), (generator, name)
    npz, _ = runs.sample(str(tmp_path / "run"), 30, None, "last", "raw")
    import numpy as np

    raw = runs.open_run(tmp_path / "run", generator="raw")
    expected = generate(raw.g, 30, raw.cfg.model.z_dim, raw.device, raw.cfg.seed + EVAL_SEED_OFFSET)
    assert np.array_equal(np.load(npz)["samples"], expected.numpy())

    train(make_config("train.steps=2", *QUIET), tmp_path / "plain")
    with pytest.raises(UserError, match="no averaged generator.*--generator raw"):
        runs.open_run(tmp_path / "plain", generator="ema")
