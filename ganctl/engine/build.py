"""Turn a composed config into objects: device, data set, networks, method, optimisers.

Everything here is generic: `_target_` in the config names the class, so the engine never branches on which
method, network or data set was chosen.
"""

from __future__ import annotations

import torch
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig
from torch import nn

from ganctl.data.base import Dataset
from ganctl.errors import UserError, one_line
from ganctl.methods.base import Method
from ganctl.nets import options as options_lib

OPTIMIZERS = ("adam", "rmsprop")


def environment(dev: torch.device) -> dict:
    """What a run's float results depend on besides its config: torch's version, the processor, the thread count."""
    import platform

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    info = {"torch": torch.__version__, "python": platform.python_version(), "cpu": cpu,
            "threads": torch.get_num_threads(), "device": str(dev)}
    if dev.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(dev)
    return info


def device(name: str) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name not in ("cpu", "cuda") and not name.startswith("cuda:"):
        raise UserError(f"device={name} is not known; use auto, cpu or cuda")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"device={name} was asked for but this torch build sees no CUDA GPU; use device=cpu")
    dev = torch.device(name)
    if dev.type == "cuda":
        # Safe speed-ups: cuDNN picks the fastest conv algorithm for our fixed shapes, and float32 matmuls
        # use TF32 tensor cores (10-bit mantissa products, float32 accumulation; fine for GAN training).
        torch.backends.cudnn.benchmark = True
        torch.set_float32_matmul_precision("high")
    return dev


def build(spec: DictConfig, what: str, **kwargs):
    """instantiate(spec, **kwargs), with a bad argument turned into one line naming the config node."""
    try:
        return instantiate(spec, **kwargs)
    except InstantiationException as e:
        cause = e.__cause__
        if isinstance(cause, UserError):
            raise cause from None
        # Hydra's message spans lines (target, full key, cause): keep its gist on one line.
        gist = one_line(cause or e)
        raise UserError(f"{what}: {gist}") from None


def dataset(cfg: DictConfig) -> Dataset:
    return build(cfg.data, "data")


class Networks:
    """The `NetworkFactory` handed to `Method.build_networks`: fresh nets of the configured architectures,
    with the model's discriminator options (`model.pack`, `model.spectral_norm`, `model.minibatch_*`) and the
    initialisation and batch-norm settings of every net (`model.init`, `model.bn_momentum`)."""

    def __init__(self, cfg: DictConfig, data_shape: tuple[int, ...]):
        self.model, self.data_shape, self.z_dim = cfg.model, tuple(data_shape), cfg.model.z_dim
        self.pack = int(self.model.get("pack", 1))
        if self.pack < 1:
            raise UserError(f"model.pack={self.pack} must be a positive integer (1: no packing)")
        if cfg.train.get("batch_unit", "samples") == "samples" and cfg.train.batch_size % self.pack:
            raise UserError(f"train.batch_size={cfg.train.batch_size} is not a multiple of model.pack={self.pack} "
                            f"(or count the batch in packs: train.batch_unit=packs)")
        self.init, self.init_scale = self.model.get("init"), self.model.get("init_scale", 0.02)
        self.bn_momentum = self.model.get("bn_momentum")
        if self.init is not None and not self.init_scale > 0:
            raise UserError(f"model.init_scale={self.init_scale} must be positive")
        if self.bn_momentum is not None and not 0 <= self.bn_momentum <= 1:
            raise UserError(f"model.bn_momentum={self.bn_momentum} must be in [0, 1] (null: PyTorch's 0.1)")

    def configured(self, net: nn.Module) -> nn.Module:
        """Apply model.init and model.bn_momentum to a freshly built net (before any option wraps it)."""
        if self.init is not None:
            options_lib.initialise(net, self.init, self.init_scale)
        if self.bn_momentum is not None:
            options_lib.set_bn_momentum(net, self.bn_momentum)
        return net

    def generator(self, z_dim: int | None = None) -> nn.Module:
        return self.configured(build(self.model.generator, "model.generator", z_dim=z_dim or self.z_dim,
                                     data_shape=self.data_shape))

    def discriminator(self, outputs: int = 1, options: bool = True) -> nn.Module:
        pack = self.pack if options else 1
        d = self.configured(build(self.model.discriminator, "model.discriminator",
                                  data_shape=options_lib.packed_shape(self.data_shape, pack), outputs=outputs))
        if not options:
            return d
        if self.model.get("minibatch_discrimination", False):
            options_lib.add_minibatch_discrimination(d, self.model.get("minibatch_kernels", 100),
                                                     self.model.get("minibatch_kernel_dim", 5))
        if self.model.get("spectral_norm", False):
            options_lib.add_spectral_norm(d)
        return options_lib.Packed(d, pack) if pack > 1 else d


def networks(cfg: DictConfig, data_shape: tuple[int, ...], method: Method) -> tuple[nn.Module, nn.Module]:
    """(G, D) as the method builds them from the configured architectures."""
    return method.build_networks(Networks(cfg, data_shape))


def method(cfg: DictConfig) -> Method:
    m = build(cfg.method, "method")
    if not isinstance(m, Method):
        raise UserError(f"method._target_ {cfg.method._target_} is not a ganctl.methods.base.Method")
    return m


def optimizer(params, lr: float, cfg: DictConfig, dev: torch.device, capturable: bool = False) -> torch.optim.Optimizer:
    """capturable: keep the step counts on the device, as a CUDA graph capture of the update needs."""
    params = list(params)
    if cfg.optim.name == "adam":
        # The fused kernel updates all parameters in one call (one launch on CUDA, one vectorised loop on the CPU,
        # where torch's default is a Python loop over tensors); the same maths, rounded in another order.
        return torch.optim.Adam(params, lr=lr, betas=(cfg.optim.beta1, cfg.optim.beta2), fused=True,
                                capturable=capturable)
    if cfg.optim.name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, capturable=capturable)
    raise UserError(f"optim.name={cfg.optim.name} is not known; choose one of: {', '.join(OPTIMIZERS)}")
