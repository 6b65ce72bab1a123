"""The FID Inception-v3: the network behind FID, KID and the Inception Score, with its TensorFlow input pipeline.

Szegedy, Vanhoucke, Ioffe, Shlens, Wojna 2016, "Rethinking the Inception Architecture for Computer Vision",
arXiv:1512.00567 (the architecture); Heusel et al. 2017, "GANs Trained by a Two Time-Scale Update Rule Converge
to a Local Nash Equilibrium", arXiv:1706.08500 (FID on its pool3 features). The weights are TensorFlow's 2015
ImageNet graph (inception-2015-12-05.tgz), ported to PyTorch by pytorch-fid and by torch-fidelity; both files
hold the same tensors under the same key names, and either loads here:
    pytorch-fid:    pt_inception-2015-12-05-6726825d.pth       (https://github.com/mseitzer/pytorch-fid/releases)
    torch-fidelity: weights-inception-2015-12-05-6726825d.pth  (https://github.com/toshas/torch-fidelity/releases)

Pipeline, for uint8 images x (n, 3, H, W) in 0..255 (the default resize="tf", as in TensorFlow's FID graph and
torch-fidelity, so FID, KID and IS equal theirs):
    x (n, 3, H, W) as float 0..255 -> TF1 bilinear resize to (299, 299) -> (x - 128) / 128, in [-1, 0.992]
      -> stem: 5 conv-BN-ReLU units, 2 max pools                 -> (n, 192, 35, 35)
      -> Mixed_5b..5d (A), 6a (B), 6b..6e (C)                     -> (n, 768, 17, 17)
      -> Mixed_7a (D), 7b, 7c (E)                                 -> (n, 2048, 8, 8)
      -> spatial mean                                            = pool3 (n, 2048), the FID/KID features
      -> fc (1008 x 2048, bias)                                  = logits (n, 1008)
Every unit is conv (no bias) -> BatchNorm (eps 0.001, running statistics) -> ReLU. The FID network differs
from torchvision's Inception-v3 in three places, all TensorFlow behaviour: the 3x3 average pools in the A, C
and E blocks divide by the number of in-image pixels (count_include_pad=False), Mixed_7c's pool branch is a
3x3 *max* pool (stride 1, pad 1), and there are 1008 classes. torch-fidelity's Inception Score uses logits
without the fc bias ('logits_unbiased' = pool3 @ fc.weight.T); compute that from pool3 where IS must match it.

TF1 resize (tf.image.resize_bilinear, align_corners=False, before half_pixel_centers existed): output pixel i
reads the input at src = i * (in / out), computed in float32 -- no half-pixel offset, so the image shifts by
about half an input pixel against torch's F.interpolate (which samples (i + 0.5) * in / out - 0.5) -- with
lo = floor(src), hi = min(lo + 1, in - 1), and lerp weights src - lo along each axis. resize="torch" instead
reproduces pytorch-fid's default pipeline: F.interpolate(x / 255, bilinear, align_corners=False), then 2x - 1;
its FID differs slightly from TensorFlow's.

Adapted from (architecture and conventions, re-written): torch-fidelity,
https://github.com/toshas/torch-fidelity/blob/master/torch_fidelity/feature_extractor_inceptionv3.py and
interpolate_compat_tensorflow.py, Apache License 2.0; pytorch-fid,
https://github.com/mseitzer/pytorch-fid/blob/master/src/pytorch_fid/inception.py, Apache License 2.0; TensorFlow's
resize_bilinear_op.cc and image_resizer_state.h, Apache License 2.0.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganctl.errors import UserError
from ganctl.metrics.weights_file import load_weights_file

SIZE = 299  # input side of the network; every image is resized to SIZE x SIZE
FEATURES = 2048  # pool3
CLASSES = 1008  # TensorFlow's 2015 ImageNet graph: 1000 classes plus 8 unused outputs
WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"
WEIGHTS_URL = f"https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/{WEIGHTS_FILE}"
WEIGHTS_HINT = (f"download {WEIGHTS_FILE} from {WEIGHTS_URL} (or torch-fidelity's "
                f"weights-inception-2015-12-05-6726825d.pth) and pass metrics.inception_weights=PATH")
RESIZES = ("tf", "torch")


def resize_bilinear_tf1(x: Tensor, size: tuple[int, int]) -> Tensor:
    """TensorFlow 1.x resize_bilinear (align_corners=False, no half-pixel centres) of float images (n, c, H, W)
    to (n, c, *size); see the module docstring for the sampling positions."""

    def taps(n_in: int, n_out: int) -> tuple[Tensor, Tensor, Tensor]:
        # float32 on purpose: TF computes scale = in / out and src = i * scale in float, and a float64 src can
        # land on the other side of an integer, moving a tap by one pixel.
        scale = torch.tensor(n_in, dtype=torch.float32) / n_out
        src = torch.arange(n_out, dtype=torch.float32) * scale  # (n_out,)
        lo = src.floor()
        lerp = (src - lo).to(device=x.device, dtype=x.dtype)
        lo = lo.long().clamp_max(n_in - 1)
        hi = (lo + 1).clamp_max(n_in - 1)
        return lo.to(x.device), hi.to(x.device), lerp

    y_lo, y_hi, y_lerp = taps(x.shape[2], size[0])
    x_lo, x_hi, x_lerp = taps(x.shape[3], size[1])
    top, bottom = x[:, :, y_lo], x[:, :, y_hi]  # (n, c, out_h, W) each
    # TF's order of operations: interpolate along x in the two rows, then between the rows.
    top = top[..., x_lo] + (top[..., x_hi] - top[..., x_lo]) * x_lerp  # (n, c, out_h, out_w)
    bottom = bottom[..., x_lo] + (bottom[..., x_hi] - bottom[..., x_lo]) * x_lerp
    return top + (bottom - top) * y_lerp[:, None]


def avg_pool_tf(x: Tensor) -> Tensor:
    """3x3 average pool, stride 1, 'SAME' padding, averaging only the pixels inside the image (TensorFlow)."""
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


class BatchNormFrozen(nn.Module):
    """Inference-only BatchNorm: y = (x - running_mean) / sqrt(running_var + eps) * weight + bias.

    Holds exactly the four tensors the weights files store (nn.BatchNorm2d adds num_batches_tracked)."""

    def __init__(self, channels: int, eps: float = 0.001):  # TensorFlow's epsilon in this graph
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.register_buffer("running_mean", torch.zeros(channels))
        self.register_buffer("running_var", torch.ones(channels))

    def forward(self, x: Tensor) -> Tensor:
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps)


class Unit(nn.Module):
    """conv (no bias) -> BatchNorm -> ReLU; its tensors are `conv.weight` and `bn.*` in the weights files."""

    def __init__(self, c_in: int, c_out: int, kernel, stride: int = 1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False)
        self.bn = BatchNormFrozen(c_out)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.bn(self.conv(x)))


# The blocks keep torchvision's class and attribute names (A..E, branch1x1, ...): they are the key names
# of the weights files. Branch outputs are concatenated in this order, which the fc weights depend on.
class InceptionA(nn.Module):
    """35x35 block: 1x1 | 1x1, 5x5 | 1x1, 3x3, 3x3 | avg pool, 1x1  -> 224 + pool_features channels."""

    def __init__(self, c_in: int, pool_features: int):
        super().__init__()
        self.branch1x1 = Unit(c_in, 64, 1)
        self.branch5x5_1 = Unit(c_in, 48, 1)
        self.branch5x5_2 = Unit(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = Unit(c_in, 64, 1)
        self.branch3x3dbl_2 = Unit(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = Unit(96, 96, 3, padding=1)
        self.branch_pool = Unit(c_in, pool_features, 1)

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([
            self.branch1x1(x),
            self.branch5x5_2(self.branch5x5_1(x)),
            self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
            self.branch_pool(avg_pool_tf(x)),
        ], 1)


class InceptionB(nn.Module):
    """35 -> 17 reduction (Mixed_6a): 3x3/2 | 1x1, 3x3, 3x3/2 | max pool 3x3/2  -> 384 + 96 + c_in channels."""

    def __init__(self, c_in: int):
        super().__init__()
        self.branch3x3 = Unit(c_in, 384, 3, stride=2)
        self.branch3x3dbl_1 = Unit(c_in, 64, 1)
        self.branch3x3dbl_2 = Unit(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = Unit(96, 96, 3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([
            self.branch3x3(x),
            self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
            F.max_pool2d(x, kernel_size=3, stride=2),
        ], 1)


class InceptionC(nn.Module):
    """17x17 block with factorised 7x7s (c7 channels inside): 1x1 | 1x1, 1x7, 7x1 | 1x1, 7x1, 1x7, 7x1, 1x7 |
    avg pool, 1x1  -> 4 x 192 = 768 channels."""

    def __init__(self, c_in: int, c7: int):
        super().__init__()
        row, col = {"kernel": (1, 7), "padding": (0, 3)}, {"kernel": (7, 1), "padding": (3, 0)}
        self.branch1x1 = Unit(c_in, 192, 1)
        self.branch7x7_1 = Unit(c_in, c7, 1)
        self.branch7x7_2 = Unit(c7, c7, **row)
        self.branch7x7_3 = Unit(c7, 192, **col)
        self.branch7x7dbl_1 = Unit(c_in, c7, 1)
        self.branch7x7dbl_2 = Unit(c7, c7, **col)
        self.branch7x7dbl_3 = Unit(c7, c7, **row)
        self.branch7x7dbl_4 = Unit(c7, c7, **col)
        self.branch7x7dbl_5 = Unit(c7, 192, **row)
        self.branch_pool = Unit(c_in, 192, 1)

    def forward(self, x: Tensor) -> Tensor:
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        b7dbl = self.branch7x7dbl_1(x)
        for unit in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
            b7dbl = unit(b7dbl)
        return torch.cat([self.branch1x1(x), b7, b7dbl, self.branch_pool(avg_pool_tf(x))], 1)


class InceptionD(nn.Module):
    """17 -> 8 reduction (Mixed_7a): 1x1, 3x3/2 | 1x1, 1x7, 7x1, 3x3/2 | max pool 3x3/2  -> 320 + 192 + c_in."""

    def __init__(self, c_in: int):
        super().__init__()
        self.branch3x3_1 = Unit(c_in, 192, 1)
        self.branch3x3_2 = Unit(192, 320, 3, stride=2)
        self.branch7x7x3_1 = Unit(c_in, 192, 1)
        self.branch7x7x3_2 = Unit(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = Unit(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = Unit(192, 192, 3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        b7x3 = self.branch7x7x3_1(x)
        for unit in (self.branch7x7x3_2, self.branch7x7x3_3, self.branch7x7x3_4):
            b7x3 = unit(b7x3)
        return torch.cat([self.branch3x3_2(self.branch3x3_1(x)), b7x3, F.max_pool2d(x, kernel_size=3, stride=2)], 1)


class InceptionE(nn.Module):
    """8x8 block with split 3x3s: 1x1 | 1x1, (1x3 & 3x1) | 1x1, 3x3, (1x3 & 3x1) | pool, 1x1
    -> 320 + 768 + 768 + 192 = 2048 channels. pool="max" in Mixed_7c (the FID graph's quirk), "avg" in 7b."""

    def __init__(self, c_in: int, pool: str):
        super().__init__()
        self.pool = pool
        self.branch1x1 = Unit(c_in, 320, 1)
        self.branch3x3_1 = Unit(c_in, 384, 1)
        self.branch3x3_2a = Unit(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = Unit(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = Unit(c_in, 448, 1)
        self.branch3x3dbl_2 = Unit(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = Unit(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = Unit(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = Unit(c_in, 192, 1)

    def forward(self, x: Tensor) -> Tensor:
        b3 = self.branch3x3_1(x)
        b3dbl = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        pooled = F.max_pool2d(x, kernel_size=3, stride=1, padding=1) if self.pool == "max" else avg_pool_tf(x)
        return torch.cat([
            self.branch1x1(x),
            self.branch3x3_2a(b3), self.branch3x3_2b(b3),
            self.branch3x3dbl_3a(b3dbl), self.branch3x3dbl_3b(b3dbl),
            self.branch_pool(pooled),
        ], 1)


class InceptionV3(nn.Module):
    """The FID Inception-v3, frozen and in eval mode: uint8 images (n, 3, H, W) -> (pool3 (n, 2048), logits
    (n, 1008)), float32 (see the module docstring).

    weights_path: a pytorch-fid or torch-fidelity weights file; None keeps PyTorch's random initialisation
    (for tests; metrics load through `load_inception`, which refuses None). resize: "tf" (TensorFlow's FID,
    torch-fidelity) or "torch" (pytorch-fid), the whole input pipeline.
    """

    def __init__(self, weights_path: str | Path | None, resize: str = "tf"):
        super().__init__()
        if resize not in RESIZES:
            raise UserError(f"the Inception resize is one of {', '.join(RESIZES)}, got {resize!r}")
        self.resize = resize
        self.Conv2d_1a_3x3 = Unit(3, 32, 3, stride=2)  # (n, 32, 149, 149)
        self.Conv2d_2a_3x3 = Unit(32, 32, 3)  # (n, 32, 147, 147)
        self.Conv2d_2b_3x3 = Unit(32, 64, 3, padding=1)  # (n, 64, 147, 147), then max pool -> 73 x 73
        self.Conv2d_3b_1x1 = Unit(64, 80, 1)  # (n, 80, 73, 73)
        self.Conv2d_4a_3x3 = Unit(80, 192, 3)  # (n, 192, 71, 71), then max pool -> 35 x 35
        self.Mixed_5b = InceptionA(192, pool_features=32)  # (n, 256, 35, 35)
        self.Mixed_5c = InceptionA(256, pool_features=64)  # (n, 288, 35, 35)
        self.Mixed_5d = InceptionA(288, pool_features=64)  # (n, 288, 35, 35)
        self.Mixed_6a = InceptionB(288)  # (n, 768, 17, 17)
        self.Mixed_6b = InceptionC(768, c7=128)
        self.Mixed_6c = InceptionC(768, c7=160)
        self.Mixed_6d = InceptionC(768, c7=160)
        self.Mixed_6e = InceptionC(768, c7=192)  # (n, 768, 17, 17)
        self.Mixed_7a = InceptionD(768)  # (n, 1280, 8, 8)
        self.Mixed_7b = InceptionE(1280, pool="avg")  # (n, 2048, 8, 8)
        self.Mixed_7c = InceptionE(2048, pool="max")  # (n, 2048, 8, 8)
        self.fc = nn.Linear(FEATURES, CLASSES)
        if weights_path is not None:
            file = Path(weights_path).expanduser()
            self.load_state_dict(self.checked(read_weights(file), file))
        self.eval().requires_grad_(False)

    def checked(self, state: Mapping, file: Path) -> dict[str, Tensor]:
        """`state` without num_batches_tracked, if its keys and shapes are the FID Inception's; else UserError."""
        # pytorch-fid's file comes from a torchvision module, whose BatchNorms may add num_batches_tracked;
        # inference never reads it. Otherwise both files use these very names (torch-fidelity's converter maps
        # TensorFlow's node names onto torchvision's), so nothing else needs renaming.
        state = {k: v for k, v in state.items() if not str(k).endswith(".num_batches_tracked")}
        own = self.state_dict()
        missing = [k for k in own if k not in state]
        unexpected = [str(k) for k in state if k not in own]
        if missing or unexpected:
            parts = [f"{label} {', '.join(keys[:3])}" + (f" (+{len(keys) - 3} more)" if len(keys) > 3 else "")
                     for label, keys in (("missing", missing), ("unexpected", unexpected)) if keys]
            raise UserError(f"{file} does not hold the FID Inception's weights ({'; '.join(parts)}); {WEIGHTS_HINT}")
        for key, tensor in own.items():
            value = state[key]
            if not torch.is_tensor(value) or tuple(value.shape) != tuple(tensor.shape):
                got = tuple(value.shape) if torch.is_tensor(value) else type(value).__name__
                raise UserError(f"{file} does not hold the FID Inception's weights ({key} is {got}, not "
                                f"{tuple(tensor.shape)}); {WEIGHTS_HINT}")
        return state

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        if not torch.is_tensor(images) or images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3:
            got = f"{images.dtype} of shape {tuple(images.shape)}" if torch.is_tensor(images) else type(images).__name__
            raise UserError(f"the Inception network reads uint8 RGB images (n, 3, H, W) in 0..255, got {got} "
                            f"(repeat a grey channel 3 times)")
        x = images.to(self.fc.weight.device, torch.float32)  # 0..255
        if self.resize == "tf":
            # TensorFlow's graph computes (x - 128) * 0.0078125; dividing by 128 is the same bits (a power of 2).
            x = (resize_bilinear_tf1(x, (SIZE, SIZE)) - 128) / 128
        else:
            x = 2 * F.interpolate(x / 255, size=(SIZE, SIZE), mode="bilinear", align_corners=False) - 1
        if self.Conv2d_1a_3x3.conv.weight.is_contiguous(memory_format=torch.channels_last):
            # A network moved to channels_last (NHWC; ganctl/engine/features.py does) gets its batch in that format
            # too, so that no convolution converts layouts on the way. Same values, another memory order.
            x = x.contiguous(memory_format=torch.channels_last)  # (n, 3, 299, 299), NHWC strides
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, kernel_size=3, stride=2)  # (n, 64, 73, 73)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, kernel_size=3, stride=2)  # (n, 192, 35, 35)
        for block in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b, self.Mixed_6c,
                      self.Mixed_6d, self.Mixed_6e, self.Mixed_7a, self.Mixed_7b, self.Mixed_7c):
            x = block(x)
        pool3 = x.mean(dim=(2, 3))  # (n, 2048, 8, 8) -> (n, 2048)
        return pool3, self.fc(pool3)


def read_weights(file: Path) -> Mapping:
    """The dict in a weights file; a missing or unreadable file is one UserError that says where to get one."""
    state = load_weights_file(file, "Inception weights", "an Inception weights file", WEIGHTS_HINT)
    if not isinstance(state, Mapping):
        raise UserError(f"{file} is not an Inception weights file (it holds a {type(state).__name__}, not a "
                        f"state dict); {WEIGHTS_HINT}")
    return state


def load_inception(path: str | Path | None, resize: str = "tf") -> InceptionV3:
    """The FID Inception with the weights at `path` (metrics.inception_weights), on the CPU, frozen, eval mode."""
    if path is None or not str(path).strip():
        raise UserError(f"metrics.inception_weights is not set; {WEIGHTS_HINT}")
    return InceptionV3(path, resize=resize)


def random_weights(seed: int = 0) -> dict[str, Tensor]:
    """A state dict with the weights files' keys and shapes and random values, for tests that need no download.

    Convolutions and fc are He-scaled (std sqrt(2 / fan_in)) and the BatchNorms near identity, so activations
    stay of order 1 through all 94 units and feature comparisons are not comparisons of zeros.
    """
    gen = torch.Generator().manual_seed(seed)
    with torch.device("meta"):  # shapes only: no memory, no initialisation
        shapes = {k: v.shape for k, v in InceptionV3(None).state_dict().items()}
    state = {}
    for key, shape in shapes.items():
        if key.endswith(".conv.weight") or key == "fc.weight":
            fan_in = shape[1:].numel()
            state[key] = torch.randn(shape, generator=gen) * (2 / fan_in) ** 0.5
        elif key.endswith((".running_var", "bn.weight")):
            state[key] = 0.5 + torch.rand(shape, generator=gen)  # in [0.5, 1.5): positive
        else:  # bn.bias, bn.running_mean, fc.bias
            state[key] = 0.1 * torch.randn(shape, generator=gen)
    return state


def save_random_weights(path: str | Path, seed: int = 0) -> Path:
    """Write `random_weights(seed)` to `path` as a weights file that load_inception reads; returns the path."""
    file = Path(path)
    torch.save(random_weights(seed), file)
    return file
