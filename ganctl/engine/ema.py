"""An exponential moving average of the generator's weights (`train.ema`).

Yazici, Foo, Winkler, Yap, Piliouras, Chandrasekhar 2019, "The Unusual Effectiveness of Averaging in GAN
Training", arXiv:1806.04498 (ICLR 2019): sampling from an average of G's recent weights, not G's last iterate,
damps the cycling of the GAN game around its equilibrium; BigGAN and StyleGAN sample from such an average too.

    theta_ema <- decay * theta_ema + (1 - decay) * theta          after every generator update
    theta_ema  = theta                                            at the first one

PyTorch's `AveragedModel` with `get_ema_multi_avg_fn` does the arithmetic (one fused lerp over all tensors).
Batch-norm running statistics are averaged with the weights (`use_buffers=True`), so the averaged G normalises
with statistics of the same window of training as its weights.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn


def averaged(g: nn.Module, decay: float) -> AveragedModel:
    """A frozen copy of g whose weights follow g's by the EMA above; `.module` is a generator like g."""
    ema = AveragedModel(g, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)
    ema.requires_grad_(False)
    return ema


@torch.no_grad()
def update(ema: AveragedModel, g: nn.Module) -> None:
    ema.update_parameters(g)


def generator_state(ema_state: dict) -> dict:
    """The averaged generator's own state dict, from a checkpoint's `g_ema` (AveragedModel's keys are
    `module.<name>` plus its update count `n_averaged`): loads into a generator built like G."""
    return {k.removeprefix("module."): v for k, v in ema_state.items() if k.startswith("module.")}
