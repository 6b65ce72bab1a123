"""MixtureGenerator: k generators as one module, with balanced contiguous blocks and tied early layers."""

from functools import partial

import pytest
import torch
from torch import nn

from ganctl.errors import UserError
from ganctl.nets.dcgan import DcganGenerator
from ganctl.nets.mixture import MixtureGenerator, parametric_layers
from ganctl.nets.mlp import MlpGenerator

MLP = partial(MlpGenerator, z_dim=2, data_shape=(2,), hidden=8, depth=2)
DCGAN = partial(DcganGenerator, z_dim=3, data_shape=(1, 8, 8), width=4)  # 8x8: project, BN, one ConvTranspose
# The parametric layers of each, in forward order, and how many of them -1 ("all but the last") ties.
LAYERS = {"mlp": (MLP, 2, ["net.0", "net.2", "net.4"]), "dcgan": (DCGAN, 3, ["project", "project_norm.0", "blocks.0"])}


@pytest.mark.parametrize("n, multiple, sizes", [
    (256, 1, [64, 64, 64, 64]),
    (10, 1, [2, 3, 2, 3]),      # floor((i+1) * 10 / 4) - floor(i * 10 / 4): 2, 5-2, 7-5, 10-7
    (12, 2, [2, 4, 2, 4]),      # 6 packs of 2 split 1, 2, 1, 2: whole packs only
    (9, 2, [2, 2, 2, 3]),       # 9 is no multiple of 2: single samples
    (3, 1, [0, 1, 1, 1]),       # fewer samples than generators
])
def test_mixture_block_sizes_are_balanced_and_whole_packs(n, multiple, sizes):
    g = MixtureGenerator(MLP, k=4, multiple=multiple)
    assert g.block_sizes(n) == sizes
    assert g.labels(n).tolist() == [i for i, s in enumerate(sizes) for _ in range(s)]


@pytest.mark.parametrize("arch", sorted(LAYERS))
def test_mixture_sample_i_is_made_by_generator_labels_i(arch):
    make, z_dim, _ = LAYERS[arch]
    torch.manual_seed(0)
    g = MixtureGenerator(make, k=3)
    z = torch.randn(10, z_dim)
    out = g(z)
    labels = g.labels(10)
    assert labels.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 2]
    for i in range(3):
        # the same block through generator i alone (in train mode too: batch norm sees the same block)
        assert torch.equal(out[labels == i], g.generators[i](z[labels == i]))
    # generators differ (their last layer is their own), so the mixture is not k copies of one net
    assert not torch.allclose(g.generators[0](z), g.generators[1](z))
    each = g.each(z)
    assert each.shape == (3, 10, *g.generators[0](z).shape[1:])
    assert torch.equal(each[2], g.generators[2](z))


@pytest.mark.parametrize("arch", sorted(LAYERS))
def test_mixture_ties_all_but_the_last_layer_by_default(arch):
    make, _, names = LAYERS[arch]
    assert [name for name, _ in parametric_layers(make())] == names  # registration order, verified below to be
    torch.manual_seed(0)                                                # forward order too
    g = MixtureGenerator(make, k=3)
    assert g.shared_names == names[:-1]
    for other in g.generators[1:]:
        for name in names[:-1]:
            for p, p0 in zip(other.get_submodule(name).parameters(), g.generators[0].get_submodule(name).parameters()):
                assert p is p0
        last, last0 = other.get_submodule(names[-1]), g.generators[0].get_submodule(names[-1])
        assert last.weight is not last0.weight and not torch.equal(last.weight, last0.weight)


@pytest.mark.parametrize("arch", sorted(LAYERS))
def test_mixture_registration_order_is_forward_order(arch):
    make, z_dim, names = LAYERS[arch]
    net, called = make(), []
    for name, m in parametric_layers(net):
        m.register_forward_hook(lambda *_, name=name: called.append(name))
    net(torch.randn(4, z_dim))
    assert called == names


def test_mixture_parameter_count_counts_shared_layers_once():
    # MLP 2 -> 8 -> 8 -> 2: Linear weights + biases 24, 72, 18; k=4 sharing the first two layers
    g = MixtureGenerator(MLP, k=4)
    assert sum(p.numel() for p in g.parameters()) == 24 + 72 + 4 * 18
    assert sum(p.numel() for p in MixtureGenerator(MLP, k=4, shared_layers=0).parameters()) == 4 * (24 + 72 + 18)
    assert sum(p.numel() for p in MixtureGenerator(MLP, k=4, shared_layers=1).parameters()) == 24 + 4 * (72 + 18)


def test_mixture_state_dict_round_trip_keeps_layers_tied():
    torch.manual_seed(0)
    a, b = MixtureGenerator(MLP, k=2), MixtureGenerator(MLP, k=2)
    b.load_state_dict(a.state_dict())
    z = torch.randn(6, 2)
    assert torch.equal(a(z), b(z))
    assert b.generators[1].net[0].weight is b.generators[0].net[0].weight


@pytest.mark.parametrize("shared", [3, -4, 7])
def test_mixture_rejects_shared_layers_out_of_range(shared):
    with pytest.raises(UserError, match="does not fit a generator with 3 parametric layers"):
        MixtureGenerator(MLP, k=2, shared_layers=shared)


class Scrambled(nn.Module):
    """Registers its output layer first: tying "the first registered layer" would tie the last one to run."""

    def __init__(self):
        super().__init__()
        self.out = nn.Linear(8, 2)
        self.inp = nn.Linear(2, 8)

    def forward(self, z):
        return self.out(torch.relu(self.inp(z)))


def test_mixture_refuses_a_generator_whose_forward_order_differs_from_registration():
    g = MixtureGenerator(Scrambled, k=2, shared_layers=1)
    with pytest.raises(UserError, match="runs its layers in an order other than"):
        g(torch.randn(4, 2))
    MixtureGenerator(Scrambled, k=2, shared_layers=0)(torch.randn(4, 2))  # nothing tied: nothing to check
