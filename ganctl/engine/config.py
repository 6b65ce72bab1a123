"""The typed schema of `conf/config.yaml`, registered with Hydra so that wrong types and unknown keys fail at
composition time with Hydra's own message (which the CLI shortens to one line).

Groups whose keys depend on the choice (data, model, method, metrics) are typed `Any`: their `_target_`
constructors validate their own arguments.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, OmegaConf


# Choice-valued keys: a value outside the choices fails when the config is composed, with the choices named. StrEnum
# members are their strings (== "stop", f"{x}" gives "stop"), so the code compares them with plain strings.
class OnNan(StrEnum):
    stop = "stop"
    skip_step = "skip_step"


class Precision(StrEnum):
    fp32 = "fp32"
    bf16 = "bf16"


class BatchUnit(StrEnum):
    samples = "samples"
    packs = "packs"


class Schedule(StrEnum):
    alternating = "alternating"
    simultaneous = "simultaneous"


class LrDecay(StrEnum):
    constant = "constant"
    linear = "linear"
    cooldown = "cooldown"


class MonitorMode(StrEnum):
    min = "min"
    max = "max"


@dataclass
class OptimConfig:
    name: str = "adam"
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999


@dataclass
class TrainConfig:
    steps: int = 3000
    minutes: float | None = None  # wall-clock budget of the training loop: stop at the first step past it
    batch_size: int = 256
    batch_unit: BatchUnit = BatchUnit.samples
    schedule: Schedule = Schedule.alternating
    ema: float = 0.0
    lr_decay: LrDecay = LrDecay.constant
    cooldown: float = 0.2  # lr_decay=cooldown: the last fraction of the run (of train.steps or train.minutes)
    threads: int | None = None
    log_every: int = 50
    sample_every: int = 500
    checkpoint_every: int = 1000
    eval_every: int = 0
    resume: str | None = None
    progress: bool = True
    on_nan: OnNan = OnNan.stop
    compile: bool = False
    cuda_graphs: bool = False
    precision: Precision = Precision.fp32
    channels_last: bool = False


@dataclass
class TrainerConfig:
    devices: int = 1


@dataclass
class EvalConfig:
    n: int = 2500
    at_end: bool = True
    monitor: str = "wasserstein"
    monitor_mode: MonitorMode = MonitorMode.min


@dataclass
class ClassifierConfig:
    """`ganctl classifier` (ganctl/engine/classifier.py); `ganctl train` does not read it."""

    epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-3
    out: str | None = None


@dataclass
class Config:
    seed: int = 0
    device: str = "auto"
    name: str | None = None
    data: Any = MISSING
    model: Any = MISSING
    method: Any = MISSING
    metrics: Any = field(default_factory=dict)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    classifier: ClassifierConfig = field(default_factory=ClassifierConfig)


def _unique_run_dir(base: str, name: str | None) -> str:
    """outputs/<date>/<time>[_<name>], with -2, -3, ... appended if two runs start in the same second, so
    that a run never writes into another's folder. OmegaConf caches resolver results per argument, so the
    folder is chosen once per process."""
    base = f"{base}_{name}" if name else base
    candidate, k = base, 2
    while Path(candidate).exists():
        candidate, k = f"{base}-{k}", k + 1
    return candidate


def if_native_bf16(device: str, native, otherwise):
    """The `ganctl.native_bf16` resolver: `${ganctl.native_bf16:${device},A,B}` is A where the device computes
    bfloat16 natively (speed.native_bf16), else B. The image recipe picks its precision and length with it."""
    from ganctl.engine.speed import native_bf16  # imports torch: only when a config asks

    return native if native_bf16(str(device)) else otherwise


def register() -> None:
    ConfigStore.instance().store(name="ganctl_schema", node=Config)
    if not OmegaConf.has_resolver("ganctl.run_dir"):
        OmegaConf.register_new_resolver("ganctl.run_dir", _unique_run_dir, use_cache=True)
    if not OmegaConf.has_resolver("ganctl.native_bf16"):
        OmegaConf.register_new_resolver("ganctl.native_bf16", if_native_bf16)


# The configs: ganctl/conf, which in a checkout is a link to the repository's conf/ and in an installed wheel a copy.
CONF_DIR = Path(__file__).resolve().parents[1] / "conf"
