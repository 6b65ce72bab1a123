"""Feature spaces for evaluation (`metrics.features`): what the metrics compare real and generated samples in.

- raw: the samples themselves, flattened, (N, C, H, W) -> (N, C*H*W); no class probabilities, so the Inception
  Score and the MODE score are skipped.
- classifier: ganctl's small CNN (ganctl/metrics/classifier.py) from `metrics.classifier` (default
  outputs/classifiers/<data name>.pt, where `ganctl classifier` saves): features = its penultimate layer
  (N, 128), probs = softmax of its logits (N, classes).
- inception: the FID Inception-v3 (ganctl/metrics/inception.py) from `metrics.inception_weights`:
  features = pool3 (N, 2048); probs = softmax of pool3 @ fc.weight^T (N, 1008), torch-fidelity's
  'logits_unbiased' for its Inception Score (the fc bias left out). Images go in as uint8:
  round((x + 1) * 127.5) clamped to 0..255 (ganctl's [-1, 1] back to pixels; exact for images read from
  uint8 files), and a single grey channel is repeated to RGB.

Extraction runs in batches of `metrics.batch_size` under torch.inference_mode, on the evaluation device, with
a progress bar when asked for and more than one batch (50,000 Inception images take minutes on a GPU and
hours on a CPU; PyTorch-StudioGAN issue #136 asks for exactly this feedback).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from omegaconf import DictConfig
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from torch import Tensor, nn

from ganctl.engine.classifier import OUT_DIR as CLASSIFIER_DIR
from ganctl.errors import UserError
from ganctl.metrics.classifier import TRAIN_HINT, load_classifier
from ganctl.metrics.inception import load_inception

SPACES = ("raw", "classifier", "inception")


def space(settings: DictConfig) -> str:
    """metrics.features, checked."""
    name = settings.get("features", "raw")
    if name not in SPACES:
        raise UserError(f"metrics.features={name} is not known; choose one of: {', '.join(SPACES)}")
    return name


def classifier_outputs(net: nn.Module, x: Tensor) -> tuple[Tensor, Tensor]:
    """ganctl's classifier on images (b, C, S, S) in [-1, 1] -> (penultimate features (b, 128), softmax)."""
    feats = net.features(x)
    return feats, net.head(feats).softmax(dim=1)


def inception_outputs(net: nn.Module, x: Tensor) -> tuple[Tensor, Tensor]:
    """The FID Inception on images (b, 1 or 3, H, W) in [-1, 1] -> (pool3 (b, 2048), softmax of the unbiased
    logits (b, 1008))."""
    if x.shape[1] not in (1, 3):
        raise UserError(f"metrics.features=inception reads grey or RGB images, got {x.shape[1]} channels; use "
                        f"metrics.features=raw or classifier")
    pixels = ((x + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)  # [-1, 1] -> 0..255
    pixels = pixels.expand(-1, 3, -1, -1) if pixels.shape[1] == 1 else pixels  # (b, 1, H, W) -> (b, 3, H, W)
    pool3, _ = net(pixels)
    logits = pool3 @ net.fc.weight.T  # (b, 2048) -> (b, 1008): torch-fidelity's logits_unbiased, no fc bias
    return pool3, logits.softmax(dim=1)


@dataclass
class Extractor:
    """A frozen network that maps images to (features, class probabilities)."""

    name: str  # classifier | inception: recorded in the statistics cache's key
    weights: Path  # the file its weights came from (its hash is part of the cache key)
    net: nn.Module
    outputs: Callable[[nn.Module, Tensor], tuple[Tensor, Tensor]]  # one batch -> (features, probs)

    @torch.inference_mode()
    def extract(self, samples: Tensor, batch_size: int, progress: bool = False,
                label: str = "samples") -> tuple[Tensor, Tensor]:
        """(features (N, d), probs (N, K)) of samples (N, C, H, W), on the extractor's device."""
        if samples.ndim != 4:
            raise UserError(f"metrics.features={self.name} reads images, but the samples have shape "
                            f"{tuple(samples.shape[1:])}; use metrics.features=raw")
        device = next(self.net.parameters()).device
        starts = range(0, len(samples), batch_size)
        bar = Progress(TextColumn(f"[bold]{self.name} features of {label}"), BarColumn(), MofNCompleteColumn(),
                       TimeRemainingColumn(), transient=True, disable=not progress or len(starts) < 2)
        feats, probs = [], []
        with bar:
            task = bar.add_task(label, total=len(samples))
            for start in starts:
                f, p = self.outputs(self.net, samples[start : start + batch_size].to(device))
                feats.append(f)
                probs.append(p)
                bar.advance(task, len(f))
        return torch.cat(feats), torch.cat(probs)


def extractor(settings: DictConfig, data_name: str | None, device: torch.device) -> Extractor | None:
    """The network metrics.features names, loaded on `device`; None for raw features. A missing file is one
    UserError that says which key to set and how to get the file."""
    chosen = space(settings)
    if chosen == "raw":
        return None
    if settings.get("batch_size", 1) < 1:
        raise UserError(f"metrics.batch_size={settings.batch_size} must be a positive integer")
    if chosen == "classifier":
        path = settings.get("classifier")
        if not path:
            if data_name is None:
                raise UserError(f"metrics.features=classifier needs metrics.classifier=PATH, a file made by "
                                f"`ganctl classifier`; {TRAIN_HINT}")
            path = CLASSIFIER_DIR / f"{data_name}.pt"
        path = Path(path).expanduser()
        if not path.is_file():
            raise UserError(f"no classifier at {path} (metrics.classifier); {TRAIN_HINT} or set "
                            f"metrics.classifier=PATH")
        return Extractor("classifier", path, load_classifier(path).to(device), classifier_outputs)
    path = settings.get("inception_weights")
    net = load_inception(path)  # an unset or missing path: one line saying where to download the file
    return Extractor("inception", Path(path).expanduser(), net.to(device), inception_outputs)
