"""Discriminator options: minibatch discrimination against the paper's formula, packing, spectral norm, maxout."""

import math

import pytest
import torch
from torch import nn

from ganctl.engine import build
from ganctl.errors import UserError
from ganctl.methods import penalties
from ganctl.nets.maxout import Maxout, MaxoutDiscriminator
from ganctl.nets.options import MinibatchDiscrimination, Packed
from tests.conftest import make_config


def test_minibatch_discrimination_matches_the_papers_sums_by_hand():
    torch.manual_seed(0)
    layer = MinibatchDiscrimination(in_features=3, kernels=2, kernel_dim=2)
    f = torch.randn(4, 3)
    out = layer(f)
    assert out.shape == (4, 3 + 2)
    assert torch.equal(out[:, :3], f)
    m = (f @ layer.T).view(4, 2, 2)  # M_i as a (B, C) matrix per sample
    for i in range(4):
        for b in range(2):
            expected = sum(math.exp(-(m[i, b] - m[j, b]).abs().sum().item()) for j in range(4) if j != i)
            assert out[i, 3 + b].item() == pytest.approx(expected, rel=1e-5)


def test_minibatch_discrimination_sees_a_collapsed_batch():
    # Identical samples: every c_b = exp(0) = 1, so o_b = N - 1, the largest value it can take.
    layer = MinibatchDiscrimination(in_features=5, kernels=3, kernel_dim=4)
    out = layer(torch.ones(6, 5))
    assert torch.allclose(out[:, 5:], torch.full((6, 3), 5.0))


def discriminator_from_config(*overrides, shape=(2,)):
    cfg = make_config("train.batch_size=8", *overrides)
    return build.Networks(cfg, shape).discriminator()


def test_minibatch_discrimination_makes_scores_depend_on_the_rest_of_the_batch():
    torch.manual_seed(0)
    d = discriminator_from_config("model.minibatch_discrimination=true", "model.minibatch_kernels=4")
    x = torch.randn(8, 2)
    other = x.clone()
    other[1:] += 5.0
    assert not torch.allclose(d(x)[0], d(other)[0])
    plain = discriminator_from_config()
    assert torch.allclose(plain(x)[0], plain(other)[0])


def test_packed_discriminator_scores_concatenated_packs():
    torch.manual_seed(0)
    d = discriminator_from_config("model.pack=4")
    assert isinstance(d, Packed) and d.d.body[1].in_features == 8  # 4 samples of 2 coordinates
    x = torch.randn(8, 2)
    assert d(x).shape == (2,)
    # Pack 0 is samples 0..3 concatenated in order.
    assert torch.allclose(d(x)[0], d.d(x[:4].reshape(1, 8))[0])
    images = torch.randn(6, 1, 8, 8)
    conv = build.Networks(make_config("model=dcgan", "model.pack=2", "train.batch_size=6"), (1, 8, 8)).discriminator()
    assert conv(images).shape == (3,)
    assert conv.d.blocks[0].in_channels == 2


def test_packing_needs_a_batch_size_it_divides():
    with pytest.raises(UserError, match="multiple of model.pack"):
        build.Networks(make_config("model.pack=3", "train.batch_size=8"), (2,))
    with pytest.raises(UserError, match="model.pack=0"):
        build.Networks(make_config("model.pack=0"), (2,))


def test_gradient_penalty_is_taken_per_pack():
    # D(pack) = w . pack: each pack's gradient is w whatever the data, so the penalty is (|w| - 1)^2 exactly;
    # per-sample norms would see only pieces of w and give a different value.
    w = torch.tensor([3.0, 0.0, 0.0, 4.0])  # |w| = 5
    d = Packed(lambda x: x @ w, pack=2)
    assert penalties.gradient_penalty(d, torch.randn(6, 2)).item() == pytest.approx(16.0)


def test_spectral_norm_bounds_every_weight_by_one():
    torch.manual_seed(0)
    d = discriminator_from_config("model.spectral_norm=true")
    d.train()
    for _ in range(30):  # power iterations converge over forward passes
        d(torch.randn(8, 2))
    linears = [m for m in d.modules() if isinstance(m, nn.Linear)]
    assert linears
    for layer in linears:
        assert torch.linalg.matrix_norm(layer.weight, ord=2).item() == pytest.approx(1.0, abs=0.02)


def test_maxout_takes_the_max_over_each_units_pieces():
    layer = Maxout(in_features=1, units=2, pieces=3)
    with torch.no_grad():
        layer.linear.weight.copy_(torch.tensor([[1.0], [-1.0], [2.0], [0.5], [0.0], [-3.0]]))
        layer.linear.bias.zero_()
    x = torch.tensor([[2.0], [-1.0]])
    # unit 0 pieces: (x, -x, 2x); unit 1 pieces: (0.5x, 0, -3x)
    assert torch.equal(layer(x), torch.tensor([[4.0, 1.0], [1.0, 3.0]]))


def test_pacgan_model_config_builds_the_papers_nets():
    cfg = make_config("model=pacgan_mlp", "train.batch_size=100")
    nets = build.Networks(cfg, (2,))
    d, g = nets.discriminator(), nets.generator()
    assert isinstance(d, MaxoutDiscriminator)
    assert [m.linear.out_features for m in d.modules() if isinstance(m, Maxout)] == [1000, 1000, 1000]
    assert [m.out_features for m in g.modules() if isinstance(m, nn.Linear)] == [400, 400, 400, 400, 2]
    assert sum(isinstance(m, nn.BatchNorm1d) for m in g.modules()) == 4
    assert d(g(torch.randn(100, 2))).shape == (100,)


def test_discriminator_with_several_outputs_returns_a_score_matrix():
    torch.manual_seed(0)
    for overrides, shape in [((), (2,)), (("model=dcgan",), (1, 8, 8)), (("model=pacgan_mlp",), (2,))]:
        nets = build.Networks(make_config("train.batch_size=4", *overrides), shape)
        assert nets.discriminator(outputs=5)(torch.randn(4, *shape)).shape == (4, 5)
    with pytest.raises(UserError, match="outputs >= 1"):
        MaxoutDiscriminator((2,), outputs=0)
