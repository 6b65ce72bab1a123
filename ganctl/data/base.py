"""The one shape every data set takes: train and test tensors already in memory, labels where known."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Dataset:
    """A data set held as tensors.

    Points are (N, d) float32; images are (N, C, H, W) float32 scaled to [-1, 1] (the generator's tanh range).
    Labels are (N,) int64 where the format has them. Mixtures of Gaussians also carry their mode centres and
    standard deviation, which the mode-coverage metric needs.
    """

    name: str
    train: torch.Tensor
    test: torch.Tensor
    train_labels: torch.Tensor | None = None
    test_labels: torch.Tensor | None = None
    modes: torch.Tensor | None = None  # (K, d) centres of a Gaussian mixture
    mode_std: float | None = None
    channel_data: str | None = None  # stacked images: the one-channel data set each channel comes from (its classifier
                                     # reads the channels' classes)

    @property
    def shape(self) -> tuple[int, ...]:
        """One sample's shape: (d,) for points, (C, H, W) for images."""
        return tuple(self.train.shape[1:])

    @property
    def is_image(self) -> bool:
        return len(self.shape) == 3

    def metric_context(self) -> dict:
        """Keyword arguments that metrics may ask for by name (e.g. mode coverage needs `modes`, `std`)."""
        context = {}
        if self.modes is not None:
            context["modes"] = self.modes
            context["std"] = self.mode_std
        if self.channel_data is not None:
            context["channel_data"] = self.channel_data
        return context
