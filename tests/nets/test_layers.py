import pytest
import torch
from torch import nn

from ganctl.nets.layers import ImageOutputConvTranspose2d


def pair(c_in, c_out, kernel, stride, padding, bias):
    """nn.ConvTranspose2d and ImageOutputConvTranspose2d holding the same float64 parameters."""
    torch.manual_seed(0)
    reference = nn.ConvTranspose2d(c_in, c_out, kernel, stride, padding, bias=bias).double()
    fast = ImageOutputConvTranspose2d(c_in, c_out, kernel, stride, padding, bias=bias).double()
    fast.load_state_dict(reference.state_dict())  # the same parameter names and shapes
    return reference, fast


# DCGAN's output layer (k 4, s 2, p 1) into one channel, other kernels, strides and sizes, and a colour output
# (which takes nn.ConvTranspose2d's own path)
SHAPES = [(8, 1, 4, 2, 1, 7), (5, 1, 3, 1, 1, 6), (4, 1, 5, 3, 2, 4), (6, 3, 4, 2, 1, 5)]


@pytest.mark.parametrize("c_in, c_out, kernel, stride, padding, side", SHAPES)
@pytest.mark.parametrize("bias", [True, False])
def test_image_output_conv_transpose_is_conv_transpose(c_in, c_out, kernel, stride, padding, side, bias):
    reference, fast = pair(c_in, c_out, kernel, stride, padding, bias)
    x = torch.randn(3, c_in, side, side, dtype=torch.float64, requires_grad=True)
    weights = torch.randn_like(reference(x))  # a loss that weighs every output pixel differently
    grads = []
    for net in (reference, fast):
        y = net(x)
        params = [x, *net.parameters()]
        grads.append((y, torch.autograd.grad((y * weights).sum(), params)))
    (y_ref, g_ref), (y_fast, g_fast) = grads
    assert y_fast.shape == y_ref.shape
    torch.testing.assert_close(y_fast, y_ref, rtol=0, atol=1e-12)
    for a, b in zip(g_fast, g_ref):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


def test_image_output_conv_transpose_second_order_gradient_is_conv_transpose():
    # a gradient penalty on the generator's output layer (a double backward) sees the same function
    reference, fast = pair(6, 1, 4, 2, 1, True)
    x = torch.randn(2, 6, 5, 5, dtype=torch.float64, requires_grad=True)
    penalties = []
    for net in (reference, fast):
        (grad_x,) = torch.autograd.grad(net(x).pow(2).sum(), x, create_graph=True)
        penalties.append(torch.autograd.grad(grad_x.pow(2).sum(), list(net.parameters())))
    for a, b in zip(*penalties):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
