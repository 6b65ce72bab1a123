"""MAD-GAN: (k+1)-way targets and losses against hand computations, MAD-GAN-Sim's hinge, and a run on the ring."""

import json
import math
from functools import partial

import numpy as np
import pytest
import torch
from torch import nn

from ganctl.engine import build
from ganctl.engine.evaluate import EVAL_SEED_OFFSET, evaluate
from ganctl.engine.runs import open_run, sample
from ganctl.engine.train import train
from ganctl.errors import UserError
from ganctl.methods.madgan import Madgan
from ganctl.nets.mixture import MixtureGenerator
from ganctl.nets.mlp import MlpGenerator
from tests.conftest import FAST, make_config


class Scripted(nn.Module):
    """A 'discriminator' that returns the given logits tensors, one per call, whatever its input."""

    def __init__(self, *logits):
        super().__init__()
        self.logits = [torch.tensor(x) for x in logits]

    def forward(self, x):
        return self.logits.pop(0)


def mixture(k, multiple=1):
    return MixtureGenerator(partial(MlpGenerator, z_dim=2, data_shape=(2,), hidden=4, depth=1), k, multiple=multiple)


def ce(row, target):
    """-log softmax(row)[target], written out."""
    return math.log(sum(math.exp(v) for v in row)) - row[target]


FAKE = [[2.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.5, 3.0], [1.0, 1.5, 1.0]]  # k = 2; batch of 4: generators 0, 0, 1, 1


def test_madgan_discriminator_loss_is_k_plus_1_way_cross_entropy():
    real = [[0.0, 0.0, 0.0]] * 4  # D_k(x) = 1/3: CE_real = log 3
    out = Madgan(mixture=None, k=2).discriminator_step(mixture(2), Scripted(real, FAKE), torch.zeros(4, 2),
                                                       torch.zeros(4, 2))
    ce_fake = [ce(FAKE[0], 0), ce(FAKE[1], 0), ce(FAKE[2], 1), ce(FAKE[3], 1)]
    # the paper's weights: real term 1, each generator's term 1 -> (CE_real + k * mean CE_fake) / (k + 1)
    assert out["loss"].item() == pytest.approx((math.log(3) + 2 * sum(ce_fake) / 4) / 3, rel=1e-6)
    assert out["d_real"].item() == pytest.approx(1 / 3)
    p_real = [math.exp(r[2]) / sum(math.exp(v) for v in r) for r in FAKE]
    assert out["d_fake"].item() == pytest.approx(sum(p_real) / 4, rel=1e-6)
    # argmax over the generator classes: 0, 1, 1, 1 against targets 0, 0, 1, 1
    assert out["identified"].item() == pytest.approx(0.75)


def test_madgan_generator_loss_is_minus_log_real_probability():
    out = Madgan(mixture=None, k=2).generator_step(mixture(2), Scripted(FAKE), None, torch.zeros(4, 2))
    assert out["loss"].item() == pytest.approx(sum(ce(r, 2) for r in FAKE) / 4, rel=1e-6)


@pytest.mark.parametrize("k, batch, pack, expected", [
    (2, 8, 1, [0, 0, 0, 0, 1, 1, 1, 1]),
    (2, 8, 2, [0, 0, 1, 1]),            # one target per pack of 2
    (3, 12, 2, [0, 0, 1, 1, 2, 2]),     # 6 packs, 2 per generator
    (3, 12, 4, [0, 1, 2]),
])
def test_madgan_targets_per_sample_or_per_pack(k, batch, pack, expected):
    scores = torch.zeros(batch // pack, k + 1)
    assert Madgan(mixture=None, k=k).targets(mixture(k, pack), batch, scores).tolist() == expected


def test_madgan_needs_a_d_input_per_generator():
    with pytest.raises(UserError, match="fewer than the k=4 generators"):
        Madgan(mixture=None, k=4).targets(mixture(4, 2), 6, torch.zeros(3, 5))


class Constant(nn.Module):
    """A 'generator' whose output is the vector v whatever z is."""

    def __init__(self, v):
        super().__init__()
        self.v = nn.Parameter(torch.tensor(v))

    def forward(self, z):
        return self.v.expand(z.shape[0], -1)


class Features(nn.Module):
    """phi(x) = x; the head puts logit x_2 on "real" (class 2) and 0 on both generator classes."""

    def __init__(self):
        super().__init__()
        self.head = nn.Linear(2, 3, bias=False)
        with torch.no_grad():
            self.head.weight.copy_(torch.tensor([[0.0, 0.0], [0.0, 0.0], [0.0, 1.0]]))

    def features(self, x):
        return x

    def forward(self, x):
        return self.head(x)


def test_madgan_sim_hinge_by_hand_and_only_each_generators_own_terms_train_it():
    vectors = iter([[1.0, 0.0], [1.0, 3.0]])
    g = MixtureGenerator(lambda: Constant(next(vectors)), k=2, shared_layers=0)
    cos = 1 / math.sqrt(10)                   # cos((1, 0), (1, 3))
    p0, p1 = 1 / 3, math.exp(3) / (2 + math.exp(3))  # softmax(0, 0, x_2)[2] for x_2 = 0 and 3
    term01 = max(0.0, cos - p0 + p1)          # generator 0 vs 1: 0.892
    term10 = max(0.0, cos - p1 + p0)          # generator 1 vs 0: 0.316 - 0.909 + 0.333 < 0
    hinge = Madgan(mixture=None, k=2).similarity_hinge(g, Features(), torch.zeros(5, 2))
    assert term10 == 0.0
    assert hinge.item() == pytest.approx((term01 + term10) / 2, rel=1e-6)
    hinge.backward()
    # Generator 1's only term is inactive; the pair (0, 1) treats its sample as given (stop-gradient).
    assert torch.equal(g.generators[1].v.grad, torch.zeros(2))
    assert g.generators[0].v.grad.abs().sum() > 0

    # In the generator step the hinge joins -log D_k of the batch (samples v0, v0, v1, v1), weighted by lambda
    out = Madgan(mixture=None, k=2, similarity_weight=0.5).generator_step(g, Features(), None, torch.zeros(4, 2))
    adversarial = (2 * math.log(3) + 2 * ce([0.0, 0.0, 3.0], 2)) / 4
    assert out["similarity_hinge"].item() == pytest.approx(hinge.item(), rel=1e-6)
    assert out["loss"].item() == pytest.approx(adversarial + 0.5 * hinge.item(), rel=1e-6)


class PackedStub(nn.Module):
    pack = 2


class Nets:
    data_shape, z_dim, pack = (2,), 2, 2

    def generator(self, z_dim=None):
        return MlpGenerator(2, (2,), hidden=4, depth=1)

    def discriminator(self, outputs=1, options=True):
        return PackedStub()


def test_madgan_sim_refuses_packed_discriminators():
    with pytest.raises(UserError, match="cannot be combined with model.pack > 1"):
        Madgan(mixture=MixtureGenerator, similarity_weight=0.1).build_networks(Nets())
    g, _ = Madgan(mixture=MixtureGenerator, k=2).build_networks(Nets())
    assert g.multiple == 2  # plain MAD-GAN packs fine: the mixture's blocks become whole packs


# A short budget that moves the samples on 2 CPU cores (shared by the MRGAN and MDGAN tests): lr 1e-3 like the other
# methods' learning tests, and a wider D (256 units): with 128 MAD-GAN's (k+1)-way D lags behind four moving
# generators and the run oscillates for 1000+ steps; the encoder methods also cover more modes with it. The averaged
# G and the decaying lr (as nsgan's test in tests/engine/test_train.py) settle the samples onto the modes: without
# them each method had runs that ended with no high-quality sample at all (10 seeds x 1 and 2 threads).
RUN = ["train.steps=300", "optim.lr_g=1e-3", "optim.lr_d=1e-3", "model.discriminator.hidden=256", "train.ema=0.99",
       "train.lr_decay=linear", "metrics=[mode_coverage,wasserstein]", *FAST]


def untrained_metrics(cfg):
    """The metrics of the freshly initialised nets: train() seeds the global RNG and then builds the same ones."""
    torch.manual_seed(cfg.seed)
    data = build.dataset(cfg)
    g, _ = build.networks(cfg, data.shape, build.method(cfg))
    return evaluate(g, cfg, data, torch.device("cpu"))


def assert_learns(method, tmp_path, *overrides, min_drop=0.25, on_modes=True):
    """The run lowers W1 to the ring by more than min_drop and, with on_modes, puts samples on the modes."""
    cfg = make_config(f"method={method}", *RUN, *overrides)
    before = untrained_metrics(cfg)
    train(cfg, tmp_path)
    after = json.loads((tmp_path / "metrics.json").read_text())["metrics"]
    # Untrained: samples bunched near the origin, W1 to the unit ring ~0.9-1, no sample within 3 std (0.03) of a
    # mode. The W1 noise between two 512-point samples of the ring itself is ~0.03.
    assert before["wasserstein"] > 0.9 and before["high_quality_pct"] == 0.0
    assert after["wasserstein"] < before["wasserstein"] - min_drop, (method, before, after)
    if on_modes:
        assert after["high_quality_pct"] > 0.0, (method, before, after)  # at least one of the 512 samples on a mode
    return after


def test_madgan_learns_the_ring_and_samples_from_every_generator(tmp_path):
    # Measured over 10 seeds x 1 and 2 threads (benchmarks/learning_margins.py, AMD EPYC, 2026-11-30): W1 drop
    # 0.222-0.706, high quality 0.0-1.0%. Four generators chasing one D settle slowly: in 300 steps they move
    # toward the ring in every run but reach a mode in only 14 of 20, so this test asks for the drop alone, at 0.1.
    assert_learns("madgan", tmp_path, min_drop=0.1, on_modes=False)
    path, _ = sample(str(tmp_path), 100, None, "last")
    samples = torch.from_numpy(np.load(path)["samples"])
    run = open_run(tmp_path)
    g = run.g.eval()
    assert isinstance(g, MixtureGenerator) and g.k == 4
    # exactly the evaluation noise stream's first 100 vectors, 25 through each generator in turn
    z = torch.randn(100, 2, generator=torch.Generator().manual_seed(run.cfg.seed + EVAL_SEED_OFFSET))
    labels = g.labels(100)
    assert torch.bincount(labels).tolist() == [25, 25, 25, 25]
    with torch.no_grad():
        for i in range(4):
            assert torch.allclose(samples[labels == i], g.generators[i](z[labels == i]), atol=1e-6)
