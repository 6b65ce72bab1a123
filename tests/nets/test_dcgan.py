import math

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from torch import nn

from ganctl.errors import UserError
from ganctl.nets.dcgan import DcganDiscriminator, DcganGenerator, start_size
from tests.nets.helpers import MODEL_CONF, change_from_rest_of_batch, count, make_last_layer_constant

# side -> (start size s0, stride-2 steps n), worked out by hand: halve while even and >= 8
STEPS = {8: (4, 1), 28: (7, 2), 32: (4, 3), 64: (4, 4)}


@pytest.mark.parametrize("side", list(STEPS))
@pytest.mark.parametrize("channels", [1, 3])
def test_dcgan_shapes_follow_image_size(side, channels):
    torch.manual_seed(0)
    s0, n = STEPS[side]
    assert start_size((channels, side, side)) == (s0, n)
    g = DcganGenerator(z_dim=10, data_shape=(channels, side, side), width=8)
    d = DcganDiscriminator((channels, side, side), width=8)
    assert g.start == (8 * 2 ** (n - 1), s0, s0)
    assert count(g, nn.ConvTranspose2d) == n and count(d, nn.Conv2d) == n
    fake = g(torch.randn(4, 10))
    assert fake.shape == (4, channels, side, side)
    assert fake.min() >= -1 and fake.max() <= 1
    assert d(fake).shape == (4,)


def test_dcgan_default_width_matches_pytorch_example_at_64():
    g = DcganGenerator(z_dim=100, data_shape=(3, 64, 64))
    d = DcganDiscriminator((3, 64, 64))
    assert g.start == (512, 4, 4)  # ngf * 8 at 4x4 in pytorch/examples dcgan
    assert [m.out_channels for m in d.modules() if isinstance(m, nn.Conv2d)] == [64, 128, 256, 512]
    assert d.head.in_features == 512 * 4 * 4


def test_dcgan_generator_ends_in_tanh():
    g = DcganGenerator(z_dim=10, data_shape=(1, 28, 28), width=8)
    make_last_layer_constant(g, 10.0)
    g.eval()  # batch norm on running stats, so the batch of 2 is not the point here
    assert torch.allclose(g(torch.randn(2, 10)), torch.full((2, 1, 28, 28), math.tanh(10.0)))


@pytest.mark.parametrize("norm", ["none", "batch", "layer"])
def test_dcgan_discriminator_returns_raw_scores(norm):
    # Weight 0, bias -3: the score is exactly -3, where a sigmoid would give 0.047.
    d = DcganDiscriminator((3, 32, 32), width=8, norm=norm)
    make_last_layer_constant(d, -3.0)
    assert torch.equal(d(torch.randn(4, 3, 32, 32)), torch.full((4,), -3.0))


def test_dcgan_init_statistics():
    torch.manual_seed(0)
    nets = [DcganGenerator(z_dim=100, data_shape=(3, 64, 64)), DcganDiscriminator((3, 64, 64))]
    convs = [m for net in nets for m in net.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear))]
    norms = [m for net in nets for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(convs) == 10 and len(norms) == 7  # G: Linear + 4 deconvs, 4 BN; D: 4 convs + Linear, 3 BN
    # Tolerance: N iid draws of N(mu, 0.02^2) give a sample mean with standard error 0.02/sqrt(N) and a sample
    # std with standard error 0.02/sqrt(2N); 5 standard errors (a false alarm ~1e-6 per check) still rejects
    # PyTorch's default kaiming-uniform init, whose std 1/sqrt(3 fan_in) is 0.009..0.083 for these layers.
    for m in convs + norms:
        w, big_n = m.weight.detach(), m.weight.numel()
        mean = 1.0 if m in norms else 0.0
        assert abs(w.mean().item() - mean) < 5 * 0.02 / math.sqrt(big_n)
        assert abs(w.std().item() - 0.02) < 5 * 0.02 / math.sqrt(2 * big_n)
        if m.bias is not None:
            assert torch.count_nonzero(m.bias) == 0
    first = nn.Conv2d(3, 64, 4)  # the default init, to show the check above has teeth
    assert abs(first.weight.std().item() - 0.02) > 5 * 0.02 / math.sqrt(2 * first.weight.numel())


def test_dcgan_norm_choices_build_the_named_layers():
    # 32x32: three conv blocks, the first without norm, so two norm layers
    assert count(DcganDiscriminator((3, 32, 32), width=8, norm="batch"), nn.BatchNorm2d) == 2
    layer = DcganDiscriminator((3, 32, 32), width=8, norm="layer")
    assert [m.num_groups for m in layer.modules() if isinstance(m, nn.GroupNorm)] == [1, 1]
    none = DcganDiscriminator((3, 32, 32), width=8, norm="none")
    assert count(none, nn.modules.batchnorm._BatchNorm) == 0 and count(none, nn.GroupNorm) == 0


@pytest.mark.parametrize("norm", ["none", "layer"])
def test_dcgan_discriminator_scores_each_sample_alone(norm):
    torch.manual_seed(0)
    d = DcganDiscriminator((1, 28, 28), width=8, norm=norm)
    # 0 up to float rounding: sample 0's arithmetic never reads the other samples.
    assert change_from_rest_of_batch(d, torch.randn(8, 1, 28, 28)) < 1e-6


def test_dcgan_discriminator_batch_norm_couples_samples():
    # The contrast that makes the test above meaningful.
    torch.manual_seed(0)
    d = DcganDiscriminator((1, 28, 28), width=8, norm="batch")
    assert change_from_rest_of_batch(d, torch.randn(8, 1, 28, 28)) > 1e-4


@pytest.mark.parametrize("data_shape", [(1, 28, 32), (1, 27, 27), (3, 6, 6), (3, 4, 4), (2,)])
@pytest.mark.parametrize("net", ["generator", "discriminator"])
def test_dcgan_unsupported_shape_is_a_user_error_naming_sizes(data_shape, net):
    with pytest.raises(UserError, match="8, 28, 32, 64") as err:
        if net == "generator":
            DcganGenerator(z_dim=10, data_shape=data_shape)
        else:
            DcganDiscriminator(data_shape)
    assert "model=mlp" in str(err.value) and "\n" not in str(err.value)


def test_dcgan_unknown_norm_is_a_user_error_listing_choices():
    with pytest.raises(UserError, match="none, batch, layer"):
        DcganDiscriminator((1, 28, 28), norm="instance")


def test_dcgan_config_builds_the_documented_nets():
    path = MODEL_CONF / "dcgan.yaml"
    assert path.read_text().startswith("# ")  # the help line `ganctl list` prints
    cfg = OmegaConf.load(path)
    g = instantiate(cfg.generator, z_dim=cfg.z_dim, data_shape=(1, 28, 28))
    d = instantiate(cfg.discriminator, data_shape=(1, 28, 28))
    assert isinstance(g, DcganGenerator) and isinstance(d, DcganDiscriminator)
    assert g.start == (128, 7, 7) and count(d, nn.BatchNorm2d) == 1
    assert d(g(torch.randn(2, cfg.z_dim))).shape == (2,)
    # what the WGAN-GP method config does: override norm on whichever discriminator is chosen
    critic = instantiate(OmegaConf.merge(cfg.discriminator, {"norm": "none"}), data_shape=(1, 28, 28))
    assert count(critic, nn.modules.batchnorm._BatchNorm) == 0
