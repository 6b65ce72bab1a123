"""`train.on_nan`: what training does when a loss, a gradient or a weight stops being finite.

- stop (the default): the first step whose D or G loss is not finite is recorded on the device as (step, loss_d,
  loss_g), without a host sync per step. `check()` reads that record when the losses are logged and before every
  checkpoint, together with a finite check of every weight, and stops the run naming the step and the loss (or the
  weight), so that NaN weights never overwrite a good checkpoint.
- skip_step: `keep_update()` decides, before the optimiser moves, whether an update's loss and gradients are finite
  (one host sync per update) and skips the update if not; skips are counted, logged, and the run gives up after
  MAX_SKIPPED of one network.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import torch
from torch import nn

from ganctl.errors import UserError

log = logging.getLogger("ganctl")

# train.on_nan=skip_step gives up after this many skipped updates of one network: it is not recovering.
MAX_SKIPPED = 100
ADVICE = "lower optim.lr_d / optim.lr_g"


class Divergence:
    def __init__(self, mode: str, nets: dict[str, nn.Module], ranks, device: torch.device, ckpt_dir: Path):
        self.skip = mode == "skip_step"
        self.nets, self.ranks, self.ckpt_dir = nets, ranks, ckpt_dir
        self.first_bad = torch.full((3,), -1.0, dtype=torch.float64, device=device)  # (step, loss_d, loss_g)
        self.skipped = {"d": 0, "g": 0}

    # ---- stop -------------------------------------------------------------------------------------------
    def record(self, step: int, loss_d: torch.Tensor, loss_g: torch.Tensor) -> None:
        """Keep (step, loss_d, loss_g) if this is the first step with a non-finite loss; no host sync."""
        losses = torch.stack([loss_d.detach(), loss_g.detach()]).double()
        new_bad = (~torch.isfinite(losses).all()) & (self.first_bad[0] < 0)
        self.first_bad = torch.where(new_bad, torch.cat([losses.new_tensor([step]), losses]), self.first_bad)

    def check(self, step: int) -> None:
        """Raise, naming the step and the loss, or the weight, if a loss or a weight went NaN/Inf."""
        bad_step, loss_d, loss_g = self.first_bad.tolist()
        weights = [p for net in self.nets.values() for p in net.parameters()]
        weights_ok = torch.stack([torch.isfinite(p).all() for p in weights]).all()
        if not self.ranks.any(bad_step >= 0 or not bool(weights_ok)):
            return
        if bad_step >= 0:
            name, value = ("loss/d", loss_d) if not math.isfinite(loss_d) else ("loss/g", loss_g)
            what = f"training diverged at step {int(bad_step)}: {name} = {value}"
        else:
            net_name, param = next((n, k) for n, net in self.nets.items()
                                   for k, p in net.named_parameters() if not torch.isfinite(p).all())
            what = f"training diverged by step {step}: weight {net_name}.{param} is NaN or Inf"
        raise UserError(f"{what}; {self.kept()} ({ADVICE}, or set train.on_nan=skip_step)")

    def check_logged(self, values: dict[str, float], step: int) -> None:
        """The logged means (a loss can be finite at every recorded step and still overflow in a mean)."""
        bad = [k for k, v in values.items() if not math.isfinite(v)]
        if bad:
            raise UserError(f"training diverged by step {step}: {bad[0]} = {values[bad[0]]}; {self.kept()} ({ADVICE})")

    def kept(self) -> str:
        last = self.ckpt_dir / "last.pt"
        return f"the last good checkpoint is {last}" if last.is_file() else "no checkpoint was written before it"

    # ---- skip_step --------------------------------------------------------------------------------------
    def flags(self, loss: torch.Tensor) -> list[torch.Tensor]:
        """What the ranks all-reduce with the gradients: whether this rank's loss is not finite (skip_step)."""
        return [(~torch.isfinite(loss.detach())).float()] if self.skip else []

    def keep_update(self, loss_flag: torch.Tensor, params: list[torch.Tensor], opt: torch.optim.Optimizer,
                    name: str, step: int) -> bool:
        """Whether the update may go ahead: every rank's loss (the all-reduced flag) and the gradients finite.
        Otherwise the gradients are dropped and the skip counted."""
        grads = [p.grad for p in params if p.grad is not None]
        if loss_flag.item() == 0 and bool(torch.isfinite(torch.nn.utils.get_total_norm(grads))):
            return True
        self.skipped[name] += 1
        opt.zero_grad(set_to_none=True)
        log.warning("step %d: skipped the %s update (non-finite loss or gradient; %d skipped so far)",
                    step + 1, name.upper(), self.skipped[name])
        if self.skipped[name] >= MAX_SKIPPED:
            raise UserError(f"training diverged: {MAX_SKIPPED} {name.upper()} updates skipped for NaN/Inf by step "
                            f"{step + 1}; {ADVICE}")
        return False

    def counts(self) -> dict[str, float]:
        return {f"train/skipped_{k}": float(v) for k, v in self.skipped.items()}
