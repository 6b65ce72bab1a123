"""Checks shared by the network tests."""

from pathlib import Path

import torch
from torch import nn

MODEL_CONF = Path(__file__).resolve().parents[2] / "conf" / "model"


def change_from_rest_of_batch(d: nn.Module, x: torch.Tensor) -> float:
    """How much D's score for sample 0 moves when every other sample in the batch is replaced.

    WGAN-GP penalises the gradient of each sample's score with respect to that sample alone; that is only
    the quantity the paper means if the score ignores the rest of the batch, so this must be 0 for the
    norms a critic may use. Train mode, because that is where batch norm uses batch statistics (the D step).
    """
    d.train()
    other = x.clone()
    other[1:] = 3 * torch.randn_like(other[1:]) + 1  # a different batch mean and spread
    with torch.no_grad():
        return (d(x)[0] - d(other)[0]).abs().item()


def make_last_layer_constant(net: nn.Module, value: float) -> None:
    """Zero the last Linear/ConvTranspose2d's weight and set its bias to value, so that the net's output is
    exactly (output link)(value) for any input: the link (none, tanh, sigmoid) can then be read off."""
    last = [m for m in net.modules() if isinstance(m, (nn.Linear, nn.ConvTranspose2d))][-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.fill_(value)


def count(net: nn.Module, kind: type) -> int:
    return sum(isinstance(m, kind) for m in net.modules())
