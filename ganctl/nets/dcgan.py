"""DCGAN-style convolutional generator and discriminator whose depth follows the image size.

Radford, Metz, Chintala 2015, "Unsupervised Representation Learning with Deep Convolutional GANs",
arXiv:1511.06434; layer choices as in the PyTorch DCGAN example (github.com/pytorch/examples, dcgan/main.py).

A square image of side S is reached from a start size s0 by n = log2(S / s0) stride-2 steps, where s0 is
S halved while it is even and >= 8: 8 -> 4 (n=1), 28 -> 7 (n=2), 32 -> 4 (n=3), 64 -> 4 (n=4).
With w = width and C0 = w * 2^(n-1) channels at the start size:

    G: z (B, z_dim) -> Linear -> (B, C0, s0, s0) -> BN, ReLU
       -> n x ConvTranspose2d(k=4, s=2, p=1), channels halving, BN + ReLU; the last one to C channels + tanh
    D: x (B, C, S, S) -> n x Conv2d(k=4, s=2, p=1), channels w, 2w, ..., C0, norm + LeakyReLU(0.2)
       (no norm on the first block, as in DCGAN) -> flatten (B, C0*s0*s0) -> Linear -> (B,) raw scores
       (or (B, outputs) when outputs > 1)

Deviations, with reasons: the paper's 64x64 net always takes four up-sampling steps from 4x4; here the
number of steps follows S, so 28x28 MNIST starts from 7x7. D's last map is flattened into one output as in
the paper (Sec. 3), but with no sigmoid: each method applies its own link (BCE-with-logits, hinge, or none
for a WGAN critic). The paper projects z to 1024 channels at 4x4; width=64 gives the PyTorch example's 512.
G's last layer is an ImageOutputConvTranspose2d (ganctl/nets/layers.py): nn.ConvTranspose2d's function and
parameters, computed by one matrix product per image and a fold, because oneDNN's CPU kernel into one channel
is slow.
"""

from torch import Tensor, nn

from ganctl.errors import UserError
from ganctl.nets.layers import (ImageOutputConvTranspose2d, check_data_shape, check_norm, check_outputs, make_norm,
                                 squeeze_single)

SUPPORTED = "square images with an even side >= 8 (e.g. 8, 28, 32, 64)"


def start_size(data_shape: tuple[int, ...]) -> tuple[int, int]:
    """Return (s0, n): the side the nets start from and the number of stride-2 steps to data_shape's side.

    Raises UserError for anything the architecture cannot produce.
    """
    data_shape = check_data_shape(data_shape)
    if len(data_shape) != 3 or data_shape[1] != data_shape[2]:
        raise UserError(f"DCGAN nets need {SUPPORTED}, got data_shape {data_shape}; for vector data use model=mlp")
    s0, n = data_shape[1], 0
    while s0 % 2 == 0 and s0 >= 8:
        s0, n = s0 // 2, n + 1
    if n == 0:  # odd or below 8: not one stride-2 step lands on a start size >= 4
        raise UserError(f"DCGAN nets need {SUPPORTED}, got side {data_shape[1]}; resize the data or use model=mlp")
    return s0, n


def dcgan_init(module: nn.Module) -> None:
    """DCGAN init (Radford et al., Sec. 3): weights ~ N(0, 0.02); batch-norm scale ~ N(1, 0.02); biases 0.

    Apply with `net.apply(dcgan_init)`. Layer/group norms keep PyTorch's (1, 0): the paper has none.
    """
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class DcganGenerator(nn.Module):
    def __init__(self, z_dim: int, data_shape: tuple[int, ...], width: int = 64):
        super().__init__()
        if width < 1:
            raise UserError(f"DCGAN width must be >= 1, got {width}; fix model.generator.width")
        data_shape = check_data_shape(data_shape)
        s0, n = start_size(data_shape)
        channels = data_shape[0]
        c0 = width * 2 ** (n - 1)
        self.start = (c0, s0, s0)
        # "Project and reshape" (DCGAN Fig. 1); no bias because the batch norm after it removes the mean
        self.project = nn.Linear(z_dim, c0 * s0 * s0, bias=False)
        self.project_norm = nn.Sequential(nn.BatchNorm2d(c0), nn.ReLU())
        blocks, c = [], c0
        for _ in range(n - 1):  # each step: (B, c, s, s) -> (B, c/2, 2s, 2s)
            blocks += [nn.ConvTranspose2d(c, c // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(c // 2), nn.ReLU()]
            c //= 2
        # No batch norm on the output layer: DCGAN (Sec. 3) found BN on every layer made samples oscillate
        # and dropped it here and on D's input. tanh because images are scaled to [-1, 1].
        blocks += [ImageOutputConvTranspose2d(c, channels, 4, 2, 1), nn.Tanh()]  # a fast CPU path, same function
        self.blocks = nn.Sequential(*blocks)
        self.apply(dcgan_init)

    def forward(self, z: Tensor) -> Tensor:
        h = self.project(z).view(z.shape[0], *self.start)  # (B, C0*s0*s0) -> (B, C0, s0, s0)
        return self.blocks(self.project_norm(h))  # (B, C, S, S)


class DcganDiscriminator(nn.Module):
    def __init__(self, data_shape: tuple[int, ...], width: int = 64, norm: str = "batch", outputs: int = 1):
        super().__init__()
        check_norm(norm)
        check_outputs(outputs)
        if width < 1:
            raise UserError(f"DCGAN width must be >= 1, got {width}; fix model.discriminator.width")
        data_shape = check_data_shape(data_shape)
        s0, n = start_size(data_shape)
        # No norm on the first block: the other half of DCGAN's fix for BN-induced instability (Sec. 3).
        blocks, c = [nn.Conv2d(data_shape[0], width, 4, 2, 1), nn.LeakyReLU(0.2)], width
        for _ in range(n - 1):  # each step: (B, c, s, s) -> (B, 2c, s/2, s/2)
            # bias is redundant before batch norm; group norm keeps it (its mean is over all channels at once)
            blocks += [nn.Conv2d(c, 2 * c, 4, 2, 1, bias=norm != "batch"), make_norm(norm, 2 * c, "2d"), nn.LeakyReLU(0.2)]
            c *= 2
        blocks.append(nn.Flatten())  # (B, C0, s0, s0) -> (B, C0*s0*s0)
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Linear(c * s0 * s0, outputs)  # raw scores, no sigmoid (see module docstring)
        self.apply(dcgan_init)

    def features(self, x: Tensor) -> Tensor:
        return self.blocks(x)  # (B, C0*s0*s0): what the head sees

    def forward(self, x: Tensor) -> Tensor:
        return squeeze_single(self.head(self.features(x)))
