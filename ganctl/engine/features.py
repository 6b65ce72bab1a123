"""Feature spaces for evaluation (`metrics.features`): what the metrics compare real and generated samples in.

- auto: classifier for images when a classifier file for the data set exists (metrics.classifier, or
  outputs/classifiers/<data name>.pt), else raw, saying once how to make one; raw for 2-D points. An image run's
  default (conf/data_defaults/images.yaml): metrics in a learned space out of the box, and a working fallback.
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
hours on a CPU; PyTorch-StudioGAN issue #136 asks for exactly this feedback). Features and probabilities stay
on that device; the statistics computed from them too.

Arithmetic (`metrics.precision`), for either network:
- fp32: IEEE float32 throughout. On CUDA, TF32 is switched off for cuBLAS matmuls and cuDNN convolutions while
  features are extracted (the engine turns it on for training, build.device), so FID agrees with pytorch-fid's
  and torch-fidelity's float32 numbers; the previous settings are restored afterwards.
- tf32: the same with TF32 allowed (10-bit mantissa products, float32 accumulation; Ampere and newer GPUs). On a
  CPU there is no TF32: it is fp32, and the log says so once.
- bf16: the forward under torch.autocast(bfloat16) (convolutions and matmuls in bfloat16, 8-bit mantissa),
  features and probabilities cast back to float32. Works on a CPU too, but without native bfloat16 units it is
  slower there than fp32 (docs/performance.md).
evaluate.score() reports the FID of a fast path beside the same FID from fp32 features of the same samples.
The Inception network and its 299 x 299 input batches are channels_last (NHWC) on every device: cuDNN's
tensor-core convolutions want NHWC, and on the 2-core CPU of docs/performance.md oneDNN was faster too
(fp32 1.3-1.4x at batch 8, bf16 3x), at the cost of float32 rounding differences (~1e-5 on features of
order 10) against the NCHW layout.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from omegaconf import DictConfig, open_dict
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from torch import Tensor, nn

from ganctl.errors import UserError
from ganctl.metrics.classifier import DEFAULT_DIR, TRAIN_HINT, check_trained_on, load_classifier
from ganctl.metrics.inception import load_inception

log = logging.getLogger("ganctl")

SPACES = ("auto", "raw", "classifier", "inception")
PRECISIONS = ("fp32", "tf32", "bf16")  # metrics.precision; the module docstring says what each one does
_said_once: set[str] = set()  # log lines written at most once per process


def space(settings: DictConfig) -> str:
    """metrics.features, checked."""
    name = settings.get("features", "raw")
    if name not in SPACES:
        raise UserError(f"metrics.features={name} is not known; choose one of: {', '.join(SPACES)}")
    return name


def precision(settings: DictConfig, device: torch.device | None = None) -> str:
    """metrics.precision, checked; with a device, as it runs there: tf32 on a CPU is fp32 (said once in the log)."""
    name = settings.get("precision", "fp32")
    if name not in PRECISIONS:
        raise UserError(f"metrics.precision={name} is not known; choose one of: {', '.join(PRECISIONS)} (fp32: "
                        f"exact, tf32: TF32 tensor cores on CUDA, bf16: bfloat16 autocast)")
    if device is None:
        return name
    if name == "tf32" and device.type != "cuda":
        if "tf32" not in _said_once:
            _said_once.add("tf32")
            log.info("metrics.precision=tf32 computes features in fp32 on the %s: TF32 is a CUDA tensor-core "
                     "format", device.type)
        return "fp32"
    if name == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported(including_emulation=False):
        raise UserError(f"metrics.precision=bf16 needs a GPU with bfloat16 units (Ampere or newer), not "
                        f"{torch.cuda.get_device_name(device)}; use metrics.precision=fp32 or tf32")
    return name


@contextlib.contextmanager
def numerics(precision: str, device: torch.device) -> Iterator[None]:
    """The arithmetic of `precision` (fp32 | tf32 | bf16, as `precision()` returns it) for the code inside."""
    if device.type == "cuda":
        # Through PyTorch's per-backend fp32_precision, saved and restored whatever happens inside: restoring
        # them also restores what set_float32_matmul_precision (build.device) and the legacy allow_tf32 flags
        # read, whereas setting a legacy flag here would leave the other API's getters raising (mixed APIs).
        cuda, cudnn = torch.backends.cuda.matmul, torch.backends.cudnn.conv
        before = cuda.fp32_precision, cudnn.fp32_precision
        cuda.fp32_precision = cudnn.fp32_precision = "tf32" if precision == "tf32" else "ieee"
    autocast = (torch.autocast(device.type, dtype=torch.bfloat16) if precision == "bf16"
                else contextlib.nullcontext())
    try:
        with autocast:
            yield
    finally:
        if device.type == "cuda":
            cuda.fp32_precision, cudnn.fp32_precision = before


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
    precision: str = "fp32"  # metrics.precision as it runs on the net's device (features.precision)

    @torch.inference_mode()
    def extract(self, samples: Tensor, batch_size: int, progress: bool = False,
                label: str = "samples") -> tuple[Tensor, Tensor]:
        """(features (N, d), probs (N, K)) of samples (N, C, H, W), float32 on the extractor's device, computed
        in self.precision's arithmetic."""
        if samples.ndim != 4:
            raise UserError(f"metrics.features={self.name} reads images, but the samples have shape "
                            f"{tuple(samples.shape[1:])}; use metrics.features=raw")
        device = next(self.net.parameters()).device
        starts = range(0, len(samples), batch_size)
        bar = Progress(TextColumn(f"[bold]{self.name} {self.precision} features of {label}"), BarColumn(),
                       MofNCompleteColumn(), TimeRemainingColumn(), transient=True,
                       disable=not progress or len(starts) < 2)
        feats, probs = [], []
        with bar, numerics(self.precision, device):
            task = bar.add_task(label, total=len(samples))
            for start in starts:
                f, p = self.outputs(self.net, samples[start : start + batch_size].to(device))
                feats.append(f.float())  # bf16: back to float32 (a no-op in fp32 and tf32)
                probs.append(p.float())
                bar.advance(task, len(f))
        return torch.cat(feats), torch.cat(probs)


def classifier_file(settings: DictConfig, data_name: str | None) -> Path | None:
    """metrics.classifier, or the file `ganctl classifier` saves for data_name; None when neither is known."""
    path = settings.get("classifier")
    if not path:
        return None if data_name is None else DEFAULT_DIR / f"{data_name}.pt"
    return Path(path).expanduser()


def resolve(settings: DictConfig, data_name: str | None, images: bool) -> str:
    """metrics.features as it will run: `auto` becomes classifier or raw (module docstring); the others, checked."""
    chosen = space(settings)
    if chosen != "auto":
        return chosen
    if not images:
        return "raw"
    path = classifier_file(settings, data_name)
    if path is not None and path.is_file():
        return "classifier"
    key = f"auto:{path}"
    if key not in _said_once:
        _said_once.add(key)
        where = f"no classifier for {data_name} at {path}" if path else "no classifier given (metrics.classifier)"
        log.warning("metrics.features=auto: %s, so the metrics compare raw pixels and skip the class-probability "
                    "ones; `ganctl classifier data=%s` makes one for later runs (`ganctl evaluate RUN "
                    "metrics.features=classifier` then scores this one with it)", where, data_name or "...")
    return "raw"


def resolved(settings: DictConfig, data_name: str | None, images: bool) -> DictConfig:
    """A copy of `settings` with metrics.features made concrete (resolve)."""
    chosen = resolve(settings, data_name, images)
    if settings.get("features", "raw") == chosen:
        return settings
    copy = settings.copy()
    with open_dict(copy):
        copy.features = chosen
    return copy


def extractor(settings: DictConfig, data_name: str | None, device: torch.device) -> Extractor | None:
    """The network metrics.features names, loaded on `device`; None for raw features. A missing file is one
    UserError that says which key to set and how to get the file; a classifier trained on another data set than
    data_name is refused (its features and classes describe that set, not this one)."""
    chosen = resolve(settings, data_name, images=True)  # callers resolve first (score, train); images if left to here
    if chosen == "raw":
        precision(settings)  # no network runs, but a typo fails wherever it is set
        return None
    numbers = precision(settings, device)
    if settings.get("batch_size", 1) < 1:
        raise UserError(f"metrics.batch_size={settings.batch_size} must be a positive integer")
    if chosen == "classifier":
        path = classifier_file(settings, data_name)
        if path is None:
            raise UserError(f"metrics.features=classifier needs metrics.classifier=PATH, a file made by "
                            f"`ganctl classifier`; {TRAIN_HINT}")
        if not path.is_file():
            raise UserError(f"no classifier at {path} (metrics.classifier); {TRAIN_HINT} or set "
                            f"metrics.classifier=PATH")
        net = load_classifier(path)
        if data_name is not None:
            check_trained_on(net, data_name, f"not {data_name}: its features and classes describe that data set",
                             "metrics.classifier")
        return Extractor("classifier", path, net.to(device), classifier_outputs, numbers)
    path = settings.get("inception_weights")
    net = load_inception(path)  # an unset or missing path: one line saying where to download the file
    # channels_last (module docstring); the network's forward puts its input batches in the same format.
    net = net.to(device).to(memory_format=torch.channels_last)
    return Extractor("inception", Path(path).expanduser(), net, inception_outputs, numbers)
