"""An independent reference of the FID Inception-v3, for parity tests: a layer table and a small interpreter.

Written from the architecture definitions of pytorch-fid (src/pytorch_fid/inception.py: torchvision's
Inception-v3 with FIDInceptionA/C/E_1/E_2 patched in) and torch-fidelity
(torch_fidelity/feature_extractor_inceptionv3.py), not from ganctl: every conv-BN-ReLU unit is one row of
UNITS (its key prefix, channels, kernel, stride, padding), every mixed block a list of branches, and the
network runs on the raw state dict with plain tensor operations (BatchNorm written out, TensorFlow's padding-
excluding average pool as a sum over a count, the TF1 resize as two interpolation matrices in numpy).
"""

import numpy as np
import torch
import torch.nn.functional as F

# (key prefix, in channels, out channels, (kh, kw), stride, (ph, pw))
STEM = [
    ("Conv2d_1a_3x3", 3, 32, (3, 3), 2, (0, 0)),
    ("Conv2d_2a_3x3", 32, 32, (3, 3), 1, (0, 0)),
    ("Conv2d_2b_3x3", 32, 64, (3, 3), 1, (1, 1)),
    ("Conv2d_3b_1x1", 64, 80, (1, 1), 1, (0, 0)),
    ("Conv2d_4a_3x3", 80, 192, (3, 3), 1, (0, 0)),
]


def block_a(name, c, pool):  # Mixed_5b/5c/5d
    return [(f"{name}.{u}", *rest) for u, *rest in [
        ("branch1x1", c, 64, (1, 1), 1, (0, 0)),
        ("branch5x5_1", c, 48, (1, 1), 1, (0, 0)),
        ("branch5x5_2", 48, 64, (5, 5), 1, (2, 2)),
        ("branch3x3dbl_1", c, 64, (1, 1), 1, (0, 0)),
        ("branch3x3dbl_2", 64, 96, (3, 3), 1, (1, 1)),
        ("branch3x3dbl_3", 96, 96, (3, 3), 1, (1, 1)),
        ("branch_pool", c, pool, (1, 1), 1, (0, 0)),
    ]]


def block_b(name, c):  # Mixed_6a
    return [(f"{name}.{u}", *rest) for u, *rest in [
        ("branch3x3", c, 384, (3, 3), 2, (0, 0)),
        ("branch3x3dbl_1", c, 64, (1, 1), 1, (0, 0)),
        ("branch3x3dbl_2", 64, 96, (3, 3), 1, (1, 1)),
        ("branch3x3dbl_3", 96, 96, (3, 3), 2, (0, 0)),
    ]]


def block_c(name, c, c7):  # Mixed_6b..6e
    r, k = ((1, 7), (0, 3)), ((7, 1), (3, 0))  # a 1x7 row and a 7x1 column
    return [(f"{name}.{u}", ci, co, kern, 1, pad) for u, ci, co, (kern, pad) in [
        ("branch1x1", c, 192, ((1, 1), (0, 0))),
        ("branch7x7_1", c, c7, ((1, 1), (0, 0))),
        ("branch7x7_2", c7, c7, r),
        ("branch7x7_3", c7, 192, k),
        ("branch7x7dbl_1", c, c7, ((1, 1), (0, 0))),
        ("branch7x7dbl_2", c7, c7, k),
        ("branch7x7dbl_3", c7, c7, r),
        ("branch7x7dbl_4", c7, c7, k),
        ("branch7x7dbl_5", c7, 192, r),
        ("branch_pool", c, 192, ((1, 1), (0, 0))),
    ]]


def block_d(name, c):  # Mixed_7a
    return [(f"{name}.{u}", *rest) for u, *rest in [
        ("branch3x3_1", c, 192, (1, 1), 1, (0, 0)),
        ("branch3x3_2", 192, 320, (3, 3), 2, (0, 0)),
        ("branch7x7x3_1", c, 192, (1, 1), 1, (0, 0)),
        ("branch7x7x3_2", 192, 192, (1, 7), 1, (0, 3)),
        ("branch7x7x3_3", 192, 192, (7, 1), 1, (3, 0)),
        ("branch7x7x3_4", 192, 192, (3, 3), 2, (0, 0)),
    ]]


def block_e(name, c):  # Mixed_7b, 7c
    return [(f"{name}.{u}", *rest) for u, *rest in [
        ("branch1x1", c, 320, (1, 1), 1, (0, 0)),
        ("branch3x3_1", c, 384, (1, 1), 1, (0, 0)),
        ("branch3x3_2a", 384, 384, (1, 3), 1, (0, 1)),
        ("branch3x3_2b", 384, 384, (3, 1), 1, (1, 0)),
        ("branch3x3dbl_1", c, 448, (1, 1), 1, (0, 0)),
        ("branch3x3dbl_2", 448, 384, (3, 3), 1, (1, 1)),
        ("branch3x3dbl_3a", 384, 384, (1, 3), 1, (0, 1)),
        ("branch3x3dbl_3b", 384, 384, (3, 1), 1, (1, 0)),
        ("branch_pool", c, 192, (1, 1), 1, (0, 0)),
    ]]


UNITS = [
    *STEM,
    *block_a("Mixed_5b", 192, 32), *block_a("Mixed_5c", 256, 64), *block_a("Mixed_5d", 288, 64),
    *block_b("Mixed_6a", 288),
    *block_c("Mixed_6b", 768, 128), *block_c("Mixed_6c", 768, 160), *block_c("Mixed_6d", 768, 160),
    *block_c("Mixed_6e", 768, 192),
    *block_d("Mixed_7a", 768),
    *block_e("Mixed_7b", 1280), *block_e("Mixed_7c", 2048),
]
FC = (1008, 2048)


def expected_shapes() -> dict:
    """Every key of the standard weights file -> its shape."""
    shapes = {}
    for prefix, c_in, c_out, (kh, kw), _, _ in UNITS:
        shapes[f"{prefix}.conv.weight"] = (c_out, c_in, kh, kw)
        for stat in ("weight", "bias", "running_mean", "running_var"):
            shapes[f"{prefix}.bn.{stat}"] = (c_out,)
    shapes["fc.weight"], shapes["fc.bias"] = FC, FC[:1]
    return shapes


# Mixed blocks as branches of steps, run left to right; a tuple forks into units whose outputs are concatenated;
# "avg" is TensorFlow's 3x3 average pool without the padding, "max1" a 3x3 max pool (stride 1, 'SAME'), "max2"
# a 3x3 max pool with stride 2 ('VALID').
A = [["branch1x1"], ["branch5x5_1", "branch5x5_2"], ["branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3"],
     ["avg", "branch_pool"]]
B = [["branch3x3"], ["branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3"], ["max2"]]
C = [["branch1x1"], ["branch7x7_1", "branch7x7_2", "branch7x7_3"],
     ["branch7x7dbl_1", "branch7x7dbl_2", "branch7x7dbl_3", "branch7x7dbl_4", "branch7x7dbl_5"],
     ["avg", "branch_pool"]]
D = [["branch3x3_1", "branch3x3_2"], ["branch7x7x3_1", "branch7x7x3_2", "branch7x7x3_3", "branch7x7x3_4"], ["max2"]]


def e_block(pool):
    return [["branch1x1"], ["branch3x3_1", ("branch3x3_2a", "branch3x3_2b")],
            ["branch3x3dbl_1", "branch3x3dbl_2", ("branch3x3dbl_3a", "branch3x3dbl_3b")], [pool, "branch_pool"]]


BLOCKS = [("Mixed_5b", A), ("Mixed_5c", A), ("Mixed_5d", A), ("Mixed_6a", B), ("Mixed_6b", C), ("Mixed_6c", C),
          ("Mixed_6d", C), ("Mixed_6e", C), ("Mixed_7a", D), ("Mixed_7b", e_block("avg")),
          ("Mixed_7c", e_block("max1"))]  # the FID graph's max pool in the last block


def tf1_resize_numpy(images: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """TF1 resize_bilinear (align_corners=False, no half-pixel centres) of (n, c, H, W) as out = Ry @ x @ Rx^T,
    float64. Row i of R has weight 1 - f at floor(s) and f at min(floor(s) + 1, in - 1), s = i * in / out
    (float32, as TensorFlow computes it)."""

    def matrix(n_in, n_out):
        r = np.zeros((n_out, n_in))
        for i in range(n_out):
            s = np.float32(i) * (np.float32(n_in) / np.float32(n_out))
            lo = int(np.floor(s))
            f = float(s) - lo
            r[i, lo] += 1 - f
            r[i, min(lo + 1, n_in - 1)] += f
        return r

    ry, rx = matrix(images.shape[2], out_h), matrix(images.shape[3], out_w)
    return np.einsum("ih,nchw,jw->ncij", ry, images.astype(np.float64), rx)


def _unit(state, row, x):
    prefix, _, _, _, stride, padding = row
    x = F.conv2d(x, state[f"{prefix}.conv.weight"], stride=stride, padding=padding)
    bn = {s: state[f"{prefix}.bn.{s}"][None, :, None, None] for s in ("weight", "bias", "running_mean", "running_var")}
    x = (x - bn["running_mean"]) / torch.sqrt(bn["running_var"] + 0.001) * bn["weight"] + bn["bias"]
    return x.clamp_min(0)


def _avg_pool_valid_only(x):
    # Sum over the 3x3 window (zero padding adds nothing), divided by how many window pixels lie in the image.
    ones = torch.ones_like(x[:1, :1])
    count = F.conv2d(F.pad(ones, (1, 1, 1, 1)), torch.ones(1, 1, 3, 3, dtype=x.dtype))
    window_sum = F.conv2d(F.pad(x, (1, 1, 1, 1)), torch.ones(x.shape[1], 1, 3, 3, dtype=x.dtype), groups=x.shape[1])
    return window_sum / count


def reference_features(state: dict, images: np.ndarray, dtype=torch.float64):
    """(pool3, logits) of uint8 images (n, 3, H, W), computed in `dtype` from the state dict alone."""
    rows = {row[0]: row for row in UNITS}
    state = {k: v.to(dtype) for k, v in state.items()}
    x = torch.from_numpy(tf1_resize_numpy(images, 299, 299)).to(dtype)
    x = (x - 128) / 128
    for row in STEM[:3]:
        x = _unit(state, row, x)
    x = F.max_pool2d(x, 3, 2)
    for row in STEM[3:]:
        x = _unit(state, row, x)
    x = F.max_pool2d(x, 3, 2)
    ops = {"avg": _avg_pool_valid_only,
           "max1": lambda t: F.max_pool2d(F.pad(t, (1, 1, 1, 1), value=float("-inf")), 3, 1),
           "max2": lambda t: F.max_pool2d(t, 3, 2)}

    def run(block, step, t):
        if isinstance(step, tuple):
            return torch.cat([run(block, s, t) for s in step], 1)
        return ops[step](t) if step in ops else _unit(state, rows[f"{block}.{step}"], t)

    for name, branches in BLOCKS:
        outputs = []
        for branch in branches:
            t = x
            for step in branch:
                t = run(name, step, t)
            outputs.append(t)
        x = torch.cat(outputs, 1)
    pool3 = x.flatten(2).mean(-1)
    return pool3, pool3 @ state["fc.weight"].T + state["fc.bias"]
