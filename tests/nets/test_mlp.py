import math

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from torch import nn

from ganctl.errors import UserError
from ganctl.nets.mlp import MlpDiscriminator, MlpGenerator
from tests.nets.helpers import MODEL_CONF, change_from_rest_of_batch, count, make_last_layer_constant

SHAPES = [(2,), (5,), (1, 8, 8), (3, 32, 32)]


@pytest.mark.parametrize("data_shape", SHAPES)
def test_mlp_shapes_follow_data_shape(data_shape):
    torch.manual_seed(0)
    g = MlpGenerator(z_dim=3, data_shape=data_shape, hidden=16, depth=2)
    d = MlpDiscriminator(data_shape, hidden=16, depth=2)
    fake = g(torch.randn(4, 3))
    assert fake.shape == (4, *data_shape)
    assert d(fake).shape == (4,)


def test_mlp_generator_points_end_linear():
    # Mixture modes sit at radius up to 4, out of tanh's reach: the output must pass the last layer's value through.
    g = MlpGenerator(z_dim=2, data_shape=(2,))
    make_last_layer_constant(g, 4.0)
    assert torch.equal(g(torch.randn(5, 2)), torch.full((5, 2), 4.0))


@pytest.mark.parametrize("data_shape", [(1, 8, 8), (3, 32, 32)])
def test_mlp_generator_images_end_in_tanh(data_shape):
    torch.manual_seed(0)
    g = MlpGenerator(z_dim=4, data_shape=data_shape, hidden=16)
    # Large z pushes pre-activations far out; the images must still lie in [-1, 1] (data range).
    fake = g(100 * torch.randn(8, 4))
    assert fake.min() >= -1 and fake.max() <= 1
    make_last_layer_constant(g, 10.0)
    assert torch.allclose(g(torch.randn(2, 4)), torch.full((2, *data_shape), math.tanh(10.0)))


@pytest.mark.parametrize("batch_norm, expected", [(False, 0), (True, 3)])
def test_mlp_generator_batch_norm_flag_adds_one_per_hidden_layer(batch_norm, expected):
    g = MlpGenerator(z_dim=2, data_shape=(2,), depth=3, batch_norm=batch_norm)
    assert count(g, nn.BatchNorm1d) == expected
    assert count(g, nn.Linear) == 4  # 3 hidden + output


def test_mlp_discriminator_returns_raw_scores():
    # Weight 0, bias -3: the score is exactly -3. A sigmoid would give 0.047, so no sigmoid is applied.
    d = MlpDiscriminator((2,))
    make_last_layer_constant(d, -3.0)
    assert torch.equal(d(torch.randn(6, 2)), torch.full((6,), -3.0))


@pytest.mark.parametrize("norm, kind", [("batch", nn.BatchNorm1d), ("layer", nn.LayerNorm)])
def test_mlp_discriminator_norm_puts_one_layer_per_hidden_layer(norm, kind):
    d = MlpDiscriminator((2,), depth=3, norm=norm)
    assert count(d, kind) == 3


def test_mlp_discriminator_norm_none_has_no_norm_layers():
    d = MlpDiscriminator((1, 8, 8), norm="none")
    assert count(d, nn.modules.batchnorm._BatchNorm) == 0
    assert count(d, nn.LayerNorm) == 0


@pytest.mark.parametrize("norm", ["none", "layer"])
def test_mlp_discriminator_scores_each_sample_alone(norm):
    torch.manual_seed(0)
    d = MlpDiscriminator((2,), norm=norm)
    # 0 up to float rounding: row 0's arithmetic never reads the other rows.
    assert change_from_rest_of_batch(d, torch.randn(16, 2)) < 1e-6


def test_mlp_discriminator_batch_norm_couples_samples():
    # The contrast that makes the test above meaningful: batch norm's statistics come from the whole batch.
    torch.manual_seed(0)
    d = MlpDiscriminator((2,), norm="batch")
    assert change_from_rest_of_batch(d, torch.randn(16, 2)) > 1e-3


def test_mlp_unknown_norm_is_a_user_error_listing_choices():
    with pytest.raises(UserError, match="none, batch, layer") as err:
        MlpDiscriminator((2,), norm="spectral")
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("data_shape", [(28, 28), (), (2, 0)])
def test_mlp_bad_data_shape_is_a_user_error(data_shape):
    with pytest.raises(UserError, match=r"\(d,\) for points or \(C, H, W\)"):
        MlpGenerator(z_dim=2, data_shape=data_shape)


def test_mlp_config_builds_the_documented_nets():
    path = MODEL_CONF / "mlp.yaml"
    assert path.read_text().startswith("# ")  # the help line `ganctl list` prints
    cfg = OmegaConf.load(path)
    g = instantiate(cfg.generator, z_dim=cfg.z_dim, data_shape=(2,))
    d = instantiate(cfg.discriminator, data_shape=(2,))
    assert isinstance(g, MlpGenerator) and isinstance(d, MlpDiscriminator)
    assert cfg.discriminator.norm == "none"  # a string, not YAML null
    assert count(g, nn.Linear) == cfg.generator.depth + 1
    assert d(g(torch.randn(3, cfg.z_dim))).shape == (3,)


def test_mlp_activation_option_replaces_the_hidden_nonlinearity():
    from torch import nn

    from ganctl.errors import UserError
    from ganctl.nets.mlp import MlpDiscriminator, MlpGenerator

    g = MlpGenerator(4, (2,), hidden=8, depth=2, activation="tanh")
    d = MlpDiscriminator((2,), hidden=8, depth=2, activation="tanh")
    for net in (g, d):
        kinds = {type(m) for m in net.modules()}
        assert nn.Tanh in kinds and nn.ReLU not in kinds and nn.LeakyReLU not in kinds
    z = torch.randn(5, 4)
    first, second, out = (m for m in g.net if isinstance(m, nn.Linear))
    torch.testing.assert_close(g(z), out(torch.tanh(second(torch.tanh(first(z))))))
    with pytest.raises(UserError, match="relu, leaky_relu, tanh"):
        MlpGenerator(4, (2,), activation="swish")
