"""The engine's fast options: `train.compile`, `train.cuda_graphs`, `train.precision=bf16`, `train.channels_last`.

A GAN step on small images is dominated by kernel launches and Python, not arithmetic. Each option attacks that
without changing what a step computes (tests/engine/test_speed.py compares losses with the eager fp32 step):
- compile: torch.compile of the method's D and G loss functions (one fused graph each, forward and backward),
  as a single graph (fullgraph) where the method allows it, with graph breaks where it does not;
- cuda_graphs: the whole step (D updates, G update, optimiser steps) captured once as a CUDA graph and replayed
  with new data and noise copied into its static inputs: one launch per step instead of hundreds;
- precision=bf16: autocast of the forward passes to bfloat16 (same exponent range as float32: no loss scaling);
- channels_last: NHWC memory layout for conv nets and image batches, which cuDNN's fastest kernels expect.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable

import torch
from torch import nn

from ganctl.errors import UserError, one_line

log = logging.getLogger("ganctl")



def check(train_cfg, device: torch.device, world: int) -> None:
    if train_cfg.cuda_graphs:
        if device.type != "cuda":
            raise UserError("train.cuda_graphs=true needs a CUDA device (device=cuda); on the CPU use train.compile")
        if train_cfg.on_nan != "stop":
            raise UserError("train.cuda_graphs=true replays whole steps on the GPU, so it cannot skip one: use "
                            "train.on_nan=stop")
        if world > 1:
            raise UserError("train.cuda_graphs=true runs in one process; with trainer.devices > 1 use train.compile")
    if train_cfg.precision == "bf16" and device.type == "cpu" and not cpu_has_bf16():
        log.warning("train.precision=bf16 on a CPU without bfloat16 instructions (no AVX-512 BF16 or AMX): every "
                    "bf16 operation is emulated, about 17x slower than fp32 on the DCGAN step (docs/performance.md); "
                    "use train.precision=fp32 here")


def cpu_flags() -> set[str] | None:
    """This CPU's feature flags (/proc/cpuinfo's first `flags` line); None where they cannot be read."""
    try:
        with open("/proc/cpuinfo") as f:
            line = next((line for line in f if line.startswith("flags")), None)
    except OSError:
        return None
    return None if line is None else set(line.split(":", 1)[1].split())


def cpu_has_bf16(unknown: bool = True) -> bool:
    """Whether this CPU has bfloat16 arithmetic (the avx512_bf16 or amx_bf16 flag); `unknown` where the flags
    cannot be read (yes for the warning, no for native_bf16)."""
    flags = cpu_flags()
    return unknown if flags is None else bool(flags & {"avx512_bf16", "amx_bf16"})


def native_bf16(device: str) -> bool:
    """Whether the run's device (a config's `device`: auto, cpu, cuda, cuda:i) computes bfloat16 natively: a CUDA
    GPU with bf16 units, or a CPU with the avx512_bf16 or amx_bf16 flag. Unknown counts as no: a setting chosen by
    this (the `ganctl.native_bf16` config resolver, engine/config.py) must never land on the emulated path (17x
    slower)."""
    if device != "cpu" and torch.cuda.is_available():
        return torch.cuda.is_bf16_supported(including_emulation=False)
    return cpu_has_bf16(unknown=False)


def autocast(precision: str, device: torch.device):
    """The forward passes' precision; the backward runs outside it, as autocast intends."""
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def compiled(fn: Callable, step: str, double_backward: tuple[str, ...]) -> Callable:
    """The step's loss function compiled, or as it is (said once) if the method differentiates through a gradient
    in it: AOT autograd, which torch.compile's training path uses, has no double backward."""
    if step in double_backward:
        log.warning("train.compile: the %s step's loss contains a gradient (double backward), which torch.compile "
                    "cannot differentiate; it runs eagerly", step.upper())
        return fn
    return Compiled(fn, f"the {step.upper()} step")


class Compiled:
    """torch.compile(fn, fullgraph=True), falling back to a compile with graph breaks (said once) for a method
    whose step dynamo cannot trace as one graph."""

    def __init__(self, fn: Callable, name: str):
        self.fn, self.name = fn, name
        self.call = torch.compile(fn, fullgraph=True)

    def __call__(self, *args):
        try:
            return self.call(*args)
        except torch._dynamo.exc.Unsupported as e:  # raised while tracing, before anything ran
            reason = one_line(e, 160)
            log.warning("train.compile: %s is not one graph (%s); compiling it with graph breaks", self.name, reason)
            self.call = torch.compile(self.fn)
            return self.call(*args)


def channels_last(nets: list[nn.Module], data: torch.Tensor) -> torch.Tensor:
    """NHWC layout for every net and the image data (4-D); vector data is returned as it is."""
    if data.dim() != 4:
        return data
    for net in nets:
        net.to(memory_format=torch.channels_last)
    return data.contiguous(memory_format=torch.channels_last)


class GraphedStep:
    """One training step captured as a CUDA graph (PyTorch's "whole network capture").

    `body(reals, zs)` is the eager step: it reads its inputs only from the tensors it is given and returns the
    D and G outputs (dicts of tensors). The first `warmup` calls run eagerly on a side stream (real training
    steps; cuDNN and the allocator settle); the next call captures the graph, and every later call copies the
    new batches and noise into the captured inputs and replays it. The returned dicts are the graph's static
    outputs: read them (or copy them) before the next call.
    """

    def __init__(self, body: Callable, optimizers: list[torch.optim.Optimizer], warmup: int = 3):
        self.body, self.optimizers, self.warmup = body, optimizers, warmup
        self.graph: torch.cuda.CUDAGraph | None = None
        self.calls = 0

    def __call__(self, reals: list[torch.Tensor], zs: list[torch.Tensor]):
        if self.graph is not None:
            for static, new in zip(self.static_in, [*reals, *zs]):
                static.copy_(new)
            self.graph.replay()
            return self.static_out
        self.calls += 1
        if self.calls <= self.warmup:
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                out = self.body(reals, zs)
            torch.cuda.current_stream().wait_stream(side)
            return out
        # Capture: the graph records the kernels without running them, so this call replays once after.
        self.static_in = [t.clone() for t in [*reals, *zs]]
        n = len(reals)
        for opt in self.optimizers:
            opt.zero_grad(set_to_none=True)
        self.graph = torch.cuda.CUDAGraph()
        try:
            with torch.cuda.graph(self.graph):
                self.static_out = self.body(self.static_in[:n], self.static_in[n:])
        except RuntimeError as e:  # e.g. a host sync (.item()) or a data-dependent shape inside the method's step
            reason = one_line(e, 200)
            raise UserError(f"train.cuda_graphs: this method's step cannot be captured as a CUDA graph ({reason}); "
                            f"use train.compile=true instead") from None
        self.graph.replay()
        return self.static_out
