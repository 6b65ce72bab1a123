"""EBGAN's energy, margin loss and pull-away term against hand computations; the auto-encoder is built for
vectors and images; a short run learns the ring and `ganctl sample` reopens it."""

import json

import numpy as np
import pytest
import torch
from torch import nn

from ganctl.engine import build, runs
from ganctl.methods.ebgan import AutoEncoder, Ebgan, pull_away_term
from ganctl.metrics.wasserstein import wasserstein
from tests.conftest import FAST, make_config
from tests.methods.ring import assert_learned, ring_run


class Energies(nn.Module):
    """A stand-in auto-encoder: given energies for real (first coordinate > 0) and fake batches, and codes."""

    def __init__(self, real, fake, codes=None):
        super().__init__()
        self.real, self.fake = torch.tensor(real), torch.tensor(fake)
        self.codes = codes

    def forward(self, x):
        return self.real if bool(x[0, 0] > 0) else self.fake

    def code_and_energy(self, x):
        return self.codes, self.forward(x)


def identity_g(z):
    return z


RUN = ["train.steps=300"]  # the short ring run (benchmarks/learning_margins.py runs it too)
REAL, Z = torch.ones(3, 2), -torch.ones(3, 2)  # identity G: fakes have first coordinate < 0


def test_discriminator_loss_is_real_energy_plus_clamped_margin_term():
    # m = 1: fake energies 0.25, 2.0, 0.9 cost [1 - E]^+ = 0.75, 0 (clamped), 0.1
    out = Ebgan(margin=1.0).discriminator_step(identity_g, Energies([0.1, 0.2, 0.6], [0.25, 2.0, 0.9]), REAL, Z)
    assert out["loss"].item() == pytest.approx(0.9 / 3 + 0.85 / 3)
    assert out["energy_real"].item() == pytest.approx(0.3) and out["energy_fake"].item() == pytest.approx(3.15 / 3)


def test_generator_loss_is_fake_energy_plus_weighted_pull_away_term():
    codes = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 2.0]])  # pairs: cos^2 = 1 (twice) and 0 (four times)
    out = Ebgan(pt_weight=0.1).generator_step(identity_g, Energies([0.0], [0.3, 0.6, 0.9], codes), REAL, Z)
    pt = 2 / 6  # 1/(N(N-1)) over ordered pairs i != j, N = 3
    assert out["pt"].item() == pytest.approx(pt)
    assert out["loss"].item() == pytest.approx(0.6 + 0.1 * pt)


def test_pull_away_term_is_0_for_orthogonal_and_1_for_parallel_codes():
    assert pull_away_term(torch.eye(4) * torch.tensor([1.0, 2.0, 0.5, 3.0])).item() == pytest.approx(0.0, abs=1e-7)
    same = torch.tensor([[0.3, -1.2, 2.0]]).repeat(5, 1) * torch.tensor([[1.0], [2.0], [0.1], [7.0], [1.0]])
    assert pull_away_term(same).item() == pytest.approx(1.0)  # scale does not matter, direction does
    assert pull_away_term(torch.tensor([[1.0, 0.0], [-1.0, 0.0]])).item() == pytest.approx(1.0)  # cos = -1


def test_pull_away_term_matches_a_plain_numpy_double_loop():
    s = np.array([[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0], [4.0, -1.0, 0.0], [0.2, 0.2, -3.0]])
    n, total = len(s), 0.0
    for i in range(n):
        for j in range(n):
            if i != j:
                total += (s[i] @ s[j] / (np.linalg.norm(s[i]) * np.linalg.norm(s[j]))) ** 2
    assert pull_away_term(torch.tensor(s)).item() == pytest.approx(total / (n * (n - 1)), rel=1e-12)
    # the first pair by hand: (1*-1 + 2*0.5 + 3*2)^2 / (14 * 5.25) = 36 / 73.5
    assert (s[0] @ s[1]) ** 2 / (14 * 5.25) == pytest.approx(36 / 73.5)


def test_auto_encoder_energy_is_mean_squared_reconstruction_error():
    encoder = nn.Linear(3, 2, bias=False)
    decoder = nn.Linear(2, 3, bias=False)
    with torch.no_grad():
        encoder.weight.copy_(torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]))  # keep x1, x2
        decoder.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 2.0], [0.0, 0.0]]))  # (x1, 2 x2, 0)
    ae = AutoEncoder(encoder, decoder)
    x = torch.tensor([[1.0, 2.0, 3.0], [0.0, -1.0, 1.0]])
    # reconstructions (1, 4, 0) and (0, -2, 0): squared errors (0, 4, 9) and (0, 1, 1), means 13/3 and 2/3
    assert ae(x).tolist() == pytest.approx([13 / 3, 2 / 3])
    code, energy = ae.code_and_energy(x)
    assert code.tolist() == [[1.0, 2.0], [0.0, -1.0]] and energy.tolist() == pytest.approx([13 / 3, 2 / 3])


@pytest.mark.parametrize("overrides, data_shape", [
    ([], (2,)),
    (["data=digits", "model=dcgan", "model.generator.width=8", "model.discriminator.width=8"], (1, 8, 8)),
])
def test_auto_encoder_is_built_from_the_configured_architectures(overrides, data_shape):
    cfg = make_config("method=ebgan", "method.code_dim=16", *overrides)
    g, d = build.networks(cfg, data_shape, build.method(cfg))
    x = torch.rand(4, *data_shape) * 2 - 1
    code, energy = d.code_and_energy(x)
    assert code.shape == (4, 16) and energy.shape == (4,)
    assert energy.tolist() == pytest.approx((d.decoder(code) - x).flatten(1).square().mean(1).tolist())
    assert g(torch.randn(4, cfg.model.z_dim)).shape == (4, *data_shape)


def test_ebgan_learns_the_ring_and_its_run_can_be_sampled(tmp_path):
    # the yaml's values as they are (margin 0.1 on the MSE energy, PT weight 0.1, Adam 1e-3)
    before, after = ring_run("ebgan", tmp_path, *RUN)
    assert_learned(before, after)
    npz, png = runs.sample(str(tmp_path), 512, None, "last")
    fake = np.load(npz)["samples"]
    assert fake.shape == (512, 2) and png.is_file()
    # the samples are those the final evaluation scored (eval.n = 512, same noise stream): same W1 to the test set
    data = build.dataset(make_config("method=ebgan", *FAST))
    w1 = wasserstein(real=data.test[:512], fake=torch.from_numpy(fake))
    assert w1 == pytest.approx(json.loads((tmp_path / "metrics.json").read_text())["metrics"]["wasserstein"], rel=1e-6)
