"""An exponential moving average of the generator's weights (`train.ema`).

Yazici, Foo, Winkler, Yap, Piliouras, Chandrasekhar 2019, "The Unusual Effectiveness of Averaging in GAN
Training", arXiv:1806.04498 (ICLR 2019): sampling from an average of G's recent weights, not G's last iterate,
damps the cycling of the GAN game around its equilibrium; BigGAN and StyleGAN sample from such an average too.

    theta_ema <- decay * theta_ema + (1 - decay) * theta          after every generator update
    theta_ema  = theta                                            at the first one

PyTorch's `AveragedModel` holds the average (its state dict, `module.*` and `n_averaged`, is what checkpoints keep).
Batch-norm running statistics are averaged with the weights, so the averaged G normalises with statistics of the
same window of training as its weights. The update is written here rather than with `update_parameters`, which
reads `n_averaged` on the host at every call (a device sync per step on a GPU); whether the first update has
happened is tracked on the host instead.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel


class AveragedGenerator:
    def __init__(self, g: nn.Module, decay: float):
        self.decay = decay
        self.model = AveragedModel(g, use_buffers=True)
        self.model.requires_grad_(False)
        self.module = self.model.module  # a generator like g, for sampling
        self.started = False

    @torch.no_grad()
    def update(self, g: nn.Module) -> None:
        mine = [*self.module.parameters(), *self.module.buffers()]
        theirs = [*g.parameters(), *g.buffers()]
        floats = [(a, b) for a, b in zip(mine, theirs) if a.is_floating_point()]
        if self.started:
            torch._foreach_lerp_([a for a, _ in floats], [b for _, b in floats], 1 - self.decay)
        else:
            torch._foreach_copy_([a for a, _ in floats], [b for _, b in floats])
            self.started = True
        for a, b in zip(mine, theirs):
            if not a.is_floating_point():  # batch norm's num_batches_tracked: G's own count
                a.copy_(b)
        self.model.n_averaged += 1

    def state_dict(self) -> dict:
        return self.model.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state)
        self.started = bool(self.model.n_averaged > 0)  # one read, at resume


def generator_state(ema_state: dict) -> dict:
    """The averaged generator's own state dict, from a checkpoint's `g_ema` (AveragedModel's keys are
    `module.<name>` plus its update count `n_averaged`): loads into a generator built like G."""
    return {k.removeprefix("module."): v for k, v in ema_state.items() if k.startswith("module.")}
