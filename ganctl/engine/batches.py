"""Shuffled mini-batches, from a data set held on the training device where it fits.

No DataLoader: the whole train tensor lives on the device, each epoch is one `randperm` on the device from a
dedicated generator, and a batch is an index into it, so a step copies nothing from the host. A set too large
for the GPU stays in pinned host memory instead: the batch is gathered on the host and copied asynchronously
(the only per-step host work, and only then). The state (generator, permutation, position) goes into
checkpoints so that a resumed run sees the same batches.
"""

from __future__ import annotations

import torch


class BatchSampler:
    def __init__(self, data: torch.Tensor, batch_size: int, seed: int, device: torch.device | None = None):
        batch_size = min(batch_size, data.shape[0])
        self.device = torch.device(device) if device is not None else data.device
        self.streaming = data.device != self.device
        if self.streaming and self.device.type == "cuda":
            data = data.pin_memory()  # page-locked: the copy to the GPU runs asynchronously
        self.data, self.batch_size = data, batch_size
        self.generator = torch.Generator(device=data.device).manual_seed(seed)
        self.order = self._new_order()
        self.position = 0

    def _new_order(self) -> torch.Tensor:
        return torch.randperm(self.data.shape[0], generator=self.generator, device=self.data.device)

    def next(self) -> torch.Tensor:
        # Drop the last incomplete batch of an epoch: every step sees batch_size samples (BN statistics and
        # loss scales stay comparable).
        if self.position + self.batch_size > self.order.shape[0]:
            self.order, self.position = self._new_order(), 0
        index = self.order[self.position : self.position + self.batch_size]
        self.position += self.batch_size
        batch = self.data[index]
        if self.streaming:
            pinned = self.device.type == "cuda"
            batch = (batch.pin_memory() if pinned else batch).to(self.device, non_blocking=pinned)
        return batch

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state(), "order": self.order.cpu(), "position": self.position}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])
        self.order = state["order"].to(self.data.device)
        self.position = int(state["position"])
