"""Maxout MLP discriminator: the discriminator of the 2-D mixture benchmarks (PacGAN Table 1).

Maxout units: Goodfellow, Warde-Farley, Mirza, Courville, Bengio 2013, "Maxout Networks", arXiv:1302.4389;
h_j(x) = max_{p=1..pieces} (W x + b)_{j,p}. The original GAN paper's discriminators used them, and PacGAN
(Lin et al. 2018, arXiv:1712.04086, Sec. 5.1) follows VEEGAN's 2-D setting with a discriminator of 3 maxout
layers of 200 units and 5 pieces each (the config `conf/model/pacgan_mlp.yaml`).

    D: x (B, *data_shape) -> flatten -> [Linear(., units * pieces) -> max over pieces] x depth -> Linear -> (B,)
"""

from torch import Tensor, nn

from ganctl.errors import UserError
from ganctl.nets.layers import check_data_shape, check_outputs, numel, squeeze_single


class Maxout(nn.Module):
    """A linear map to units * pieces values, then the max over each unit's pieces: (B, in) -> (B, units)."""

    def __init__(self, in_features: int, units: int, pieces: int):
        super().__init__()
        self.units, self.pieces = units, pieces
        self.linear = nn.Linear(in_features, units * pieces)

    def forward(self, x: Tensor) -> Tensor:
        h = self.linear(x).view(x.shape[0], self.units, self.pieces)  # (B, units * pieces) -> (B, units, pieces)
        return h.amax(dim=2)  # (B, units)


class MaxoutDiscriminator(nn.Module):
    def __init__(self, data_shape: tuple[int, ...], hidden: int = 200, depth: int = 3, pieces: int = 5,
                 outputs: int = 1, norm: str = "none"):
        super().__init__()
        self.data_shape = check_data_shape(data_shape)
        check_outputs(outputs)
        if hidden < 1 or depth < 1 or pieces < 1:
            raise UserError(f"a maxout discriminator needs hidden, depth and pieces >= 1, got hidden={hidden}, "
                            f"depth={depth}, pieces={pieces}; fix model.discriminator.*")
        if norm != "none":  # maxout nets carry no normalisation in the papers that use them
            raise UserError(f"the maxout discriminator has no norm layers, got norm={norm}; use norm=none")
        layers, width = [nn.Flatten()], numel(self.data_shape)  # (B, *data_shape) -> (B, prod(data_shape))
        for _ in range(depth):
            layers.append(Maxout(width, hidden, pieces))
            width = hidden
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, outputs)  # raw scores: each method applies its own link

    def features(self, x: Tensor) -> Tensor:
        return self.body(x)  # (B, hidden)

    def forward(self, x: Tensor) -> Tensor:
        return squeeze_single(self.head(self.features(x)))
