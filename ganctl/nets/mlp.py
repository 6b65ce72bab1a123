"""MLP generator and discriminator for vector data (2-D mixtures) and small flattened images.

The toy-data setting is that of the 2-D mixture experiments in Unrolled GAN (Metz et al. 2016,
arXiv:1611.02163) and PacGAN (Lin et al. 2017, arXiv:1712.04086): a few fully connected ReLU layers on
each side, which is all an 8-Gaussian ring or a 5x5 grid needs. Width and depth are config values, so a
paper's exact sizes are an override away (model.generator.hidden=400 ...).

    G: z (B, z_dim) -> [Linear -> (BatchNorm1d) -> ReLU] x depth -> Linear -> (B, *data_shape), tanh for images
    D: x (B, *data_shape) -> flatten -> [Linear -> norm -> LeakyReLU(0.2)] x depth -> Linear -> (B,) raw scores
    `activation` replaces ReLU / LeakyReLU(0.2) (the Unrolled GAN notebook's nets use tanh on both sides).
       (or (B, outputs) when outputs > 1, e.g. MAD-GAN's k+1 classes or an encoder's code)
"""

from torch import Tensor, nn

from ganctl.errors import UserError
from ganctl.nets.layers import check_data_shape, check_norm, check_outputs, is_image, make_norm, numel, squeeze_single


ACTIVATIONS = {"relu": nn.ReLU, "leaky_relu": lambda: nn.LeakyReLU(0.2), "tanh": nn.Tanh}


def _activation(name: str) -> nn.Module:
    if name not in ACTIVATIONS:
        raise UserError(f"MLP activation={name} is not known; choose one of: {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


def _check_size(hidden: int, depth: int) -> None:
    if hidden < 1 or depth < 0:
        raise UserError(f"MLP needs hidden >= 1 and depth >= 0, got hidden={hidden}, depth={depth}; fix model.*.hidden/depth")


class MlpGenerator(nn.Module):
    def __init__(self, z_dim: int, data_shape: tuple[int, ...], hidden: int = 128, depth: int = 3, batch_norm: bool = False,
                 activation: str = "relu"):
        super().__init__()
        self.data_shape = check_data_shape(data_shape)
        _check_size(hidden, depth)
        _activation(activation)
        layers, width = [], z_dim
        for _ in range(depth):
            # bias is redundant right before batch norm, which subtracts the mean anyway
            layers += [nn.Linear(width, hidden, bias=not batch_norm)]
            layers += [nn.BatchNorm1d(hidden)] if batch_norm else []
            layers += [_activation(activation)]
            width = hidden
        layers.append(nn.Linear(width, numel(self.data_shape)))
        # Images are scaled to [-1, 1], so tanh matches their range; points stay linear because
        # mixture components sit at radius ~2-4, out of tanh's reach.
        if is_image(self.data_shape):
            layers.append(nn.Tanh())
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        x = self.net(z)  # (B, prod(data_shape))
        return x.view(z.shape[0], *self.data_shape)  # (B, prod(data_shape)) -> (B, *data_shape)


class MlpDiscriminator(nn.Module):
    def __init__(self, data_shape: tuple[int, ...], hidden: int = 128, depth: int = 3, norm: str = "none",
                 outputs: int = 1, activation: str = "leaky_relu"):
        super().__init__()
        self.data_shape = check_data_shape(data_shape)
        check_norm(norm)
        check_outputs(outputs)
        _check_size(hidden, depth)
        _activation(activation)
        layers, width = [nn.Flatten()], numel(self.data_shape)  # (B, *data_shape) -> (B, prod(data_shape))
        for _ in range(depth):
            layers += [nn.Linear(width, hidden, bias=norm != "batch"), make_norm(norm, hidden, "1d"), _activation(activation)]
            width = hidden
        self.body = nn.Sequential(*layers)
        # No sigmoid: each method applies its own link (BCE-with-logits, hinge, or none for a WGAN critic).
        self.head = nn.Linear(width, outputs)

    def features(self, x: Tensor) -> Tensor:
        return self.body(x)  # (B, hidden): what the head sees

    def forward(self, x: Tensor) -> Tensor:
        return squeeze_single(self.head(self.features(x)))
