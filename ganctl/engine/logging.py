"""TensorBoard logging and the on-device accumulation of step statistics.

Losses are summed on the device and read back once per `train.log_every` steps (one host synchronisation),
never per step.
"""

from __future__ import annotations

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from torch.utils.tensorboard import SummaryWriter
from torch.utils.tensorboard.summary import hparams


class Accumulator:
    """Running means of scalar tensors, kept on the device until `flush()`."""

    def __init__(self):
        self.sums: dict[str, torch.Tensor] = {}
        self.counts: dict[str, int] = {}

    def add(self, prefix: str, values: dict[str, torch.Tensor]) -> None:
        for key, value in values.items():
            tag = f"{prefix}{key}"
            value = value.detach().float()
            # clone: a CUDA-graph step returns the same output tensors each step, overwritten by the next
            self.sums[tag] = self.sums[tag] + value if tag in self.sums else value.clone()
            self.counts[tag] = self.counts.get(tag, 0) + 1

    def flush(self, reduce=None) -> dict[str, float]:
        """The means since the last flush; `reduce` (e.g. the mean over data-parallel ranks) is applied to the
        stacked means before the one host sync."""
        if not self.sums:
            return {}
        tags = list(self.sums)
        means = torch.stack([self.sums[t] / self.counts[t] for t in tags])
        means = (reduce(means) if reduce else means).tolist()  # the one sync
        self.sums, self.counts = {}, {}
        return dict(zip(tags, means))


def flat_hparams(cfg: DictConfig) -> dict:
    """Every scalar leaf of the config as `a.b.c: value`: what TensorBoard's HParams tab compares."""
    flat = {}

    def walk(node, prefix):
        for key, value in node.items():
            name = f"{prefix}{key}"
            if isinstance(value, dict):
                walk(value, f"{name}.")
            elif isinstance(value, (bool, int, float, str)):
                flat[name] = value
            elif value is None:
                flat[name] = "null"

    walk(OmegaConf.to_container(cfg, resolve=True), "")
    return flat


class TensorBoard:
    """The run's TensorBoard writer; with enabled=False (data-parallel ranks other than 0) every call does
    nothing, so the training loop needs no rank checks around it."""

    def __init__(self, log_dir, purge_step: int | None = None, enabled: bool = True):
        # purge_step: a resumed run drops events logged after its checkpoint, so curves do not double back.
        self.writer = SummaryWriter(str(log_dir), purge_step=purge_step) if enabled else None

    def scalars(self, values: dict[str, float], step: int) -> None:
        if self.writer is None:
            return
        for tag, value in values.items():
            self.writer.add_scalar(tag, value, step)

    def picture(self, tag: str, picture: np.ndarray, step: int) -> None:
        if self.writer is not None:
            self.writer.add_image(tag, picture, step, dataformats="HWC")

    def config(self, cfg: DictConfig) -> None:
        if self.writer is None:
            return
        text = OmegaConf.to_yaml(cfg, resolve=True)
        self.writer.add_text("config", "```\n" + text + "\n```", 0)  # code block: keep YAML indentation

    def hparams(self, cfg: DictConfig, metrics: dict[str, float], step: int) -> None:
        """The run's config and final metrics in the HParams tab."""
        self.hparams_entry(flat_hparams(cfg), {f"metric/{k}": v for k, v in metrics.items()}, step)

    def hparams_entry(self, values: dict, metrics: dict[str, float], step: int) -> None:
        """One row of the HParams tab, in this writer's own event file (not the sub-folder
        `SummaryWriter.add_hparams` creates), so that runs line up side by side. The metrics are also logged as
        scalars: the tab shows a metric's value only from a scalar of the same tag."""
        if self.writer is None:
            return
        for summary in hparams(values, metrics):
            self.writer.file_writer.add_summary(summary)
        self.scalars(metrics, step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
