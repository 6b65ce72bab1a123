"""Training speed: ganctl's engine against a plain PyTorch loop on the same nets, data and batch size.

Prints steps/s for both in one run, side by side, on the 2-D MLP (the default job) and, where a GPU is
present, on the same job on CUDA. The plain loop is the textbook one: index a random batch, D step, G step,
no logging. The engine does the same work plus what a user gets from it (per-step loss accumulation on the
device, logging every 50 steps, the progress bar off to keep the terminal out of the measurement).

    .venv/bin/python benchmarks/train_speed.py [--steps 2000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from torch import nn

from ganctl.engine import build
from ganctl.engine.config import CONF_DIR, register
from ganctl.engine.train import train


def config(device: str, steps: int):
    register()
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        return compose("config", overrides=[
            f"device={device}", f"train.steps={steps}", "train.progress=false", "eval.at_end=false",
            f"train.sample_every={10 * steps}", f"train.checkpoint_every={10 * steps}"])


def plain_loop(cfg, device: torch.device, steps: int) -> float:
    """The reference: the same nets, optimisers and data, in the simplest loop that trains them."""
    torch.manual_seed(cfg.seed)
    data = build.dataset(cfg)
    g, d = (net.to(device) for net in build.networks(cfg, data.shape))
    opt_g = build.optimizer(g.parameters(), cfg.optim.lr_g, cfg, device)
    opt_d = build.optimizer(d.parameters(), cfg.optim.lr_d, cfg, device)
    train_data = data.train.to(device)
    n, batch, z_dim = train_data.shape[0], cfg.train.batch_size, cfg.model.z_dim
    softplus = nn.functional.softplus

    def step():
        real = train_data[torch.randint(0, n, (batch,), device=device)]
        fake = g(torch.randn(batch, z_dim, device=device)).detach()
        loss_d = softplus(-d(real)).mean() + softplus(d(fake)).mean()
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        loss_g = softplus(-d(g(torch.randn(batch, z_dim, device=device)))).mean()
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()

    for _ in range(20):  # warm-up: allocator, cuDNN autotuning
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps / (time.perf_counter() - start)


def engine(cfg, steps: int) -> float:
    """ganctl's loop; set-up (data, nets, TensorBoard writer) is timed separately and subtracted."""
    with tempfile.TemporaryDirectory() as run_dir:
        short = cfg.copy()
        short.train.steps = 20
        start = time.perf_counter()
        train(short, Path(run_dir) / "setup")  # set-up + 20 steps: what a run costs before its loop
        setup = time.perf_counter() - start
        start = time.perf_counter()
        train(cfg, Path(run_dir) / "run")
        total = time.perf_counter() - start
    return (steps - 20) / max(total - setup, 1e-9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, "
          f"torch {torch.__version__}" + (f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""))
    print(f"job: nsgan, ring8, MLP 3x128, batch 256, {args.steps} steps; best of {args.repeats}")
    print(f"{'device':<8}{'plain loop':>14}{'ganctl':>14}{'ratio':>8}")
    for name in devices:
        cfg = config(name, args.steps)
        device = build.device(name)
        plain = max(plain_loop(cfg, device, args.steps) for _ in range(args.repeats))
        ours = max(engine(cfg, args.steps) for _ in range(args.repeats))
        print(f"{name:<8}{plain:>10.0f} st/s{ours:>10.0f} st/s{ours / plain:>8.2f}")


if __name__ == "__main__":
    main()
