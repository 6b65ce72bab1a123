"""Training speed: ganctl's engine against a plain PyTorch loop on the same nets, data and batch sizes, in one run.

Two jobs:
- DCGAN on 32x32x3 images (random CIFAR-shaped data, N = 10,000, held on the device for both loops; --shape 28 28 1
  for Fashion-MNIST's): images/s
  of the reference loop and of ganctl's engine, eager and with each fast option (train.channels_last,
  train.precision=bf16, train.compile, train.cuda_graphs on CUDA, and all of them together), at each batch
  size; the ratio column is engine / reference.
- The default 2-D MLP job (nsgan on ring8, 3x128 MLPs, batch 256) on the CPU, in steps/s.

The reference is the loop of the PyTorch DCGAN example (pytorch/examples, dcgan/main.py): BCE on D(x) and
D(G(z)) with label tensors, Adam(2e-4, betas 0.5, 0.999), the fake batch reused for G's step. It is written
below in its plainest form, without the example's per-step `.item()` prints (which would only slow it down),
and its batches are indexed from the same device tensor as the engine's, so both see the same data path. Both
warm up first (the engine for as many steps as it is timed: set-up, compilation and graph capture fall there);
the engine's figure is its own speed/steps_per_s log over the timed steps. Speed is measured here, never
asserted by a test. The reference's generator ends in a plain nn.ConvTranspose2d, as the example's does; ganctl's
ends in ImageOutputConvTranspose2d (ganctl/nets/layers.py), the same function with a faster CPU path, which
`--layers` times alone against nn.ConvTranspose2d.

    .venv/bin/python benchmarks/train_speed.py                     # what this machine can run (CPU: short)
    .venv/bin/python benchmarks/train_speed.py --batch-sizes 64 128 512 --steps 300   # the GPU table
    .venv/bin/python benchmarks/train_speed.py --layers            # the generator's output layer alone
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from hydra import compose, initialize_config_dir
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch import nn

from ganctl.engine import build
from ganctl.engine.config import CONF_DIR, register
from ganctl.engine.train import train
from ganctl.nets.layers import ImageOutputConvTranspose2d

OPTIONS = {  # name -> engine overrides
    "eager": [],
    "channels_last": ["train.channels_last=true"],
    "bf16": ["train.precision=bf16"],
    "compile": ["train.compile=true"],
    "cuda_graphs": ["train.cuda_graphs=true"],
    "all": ["train.channels_last=true", "train.precision=bf16", "train.cuda_graphs=true"],
}


def config(overrides: list[str]):
    register()
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        return compose("config", overrides=overrides)


def dcgan_overrides(device: str, batch: int, steps: int, images: Path) -> list[str]:
    return [f"device={device}", "data=array", f"data.path={images}", "model=dcgan", f"train.batch_size={batch}",
            "train.progress=false", "eval.at_end=false", f"train.sample_every={10 * steps}",
            f"train.checkpoint_every={10 * steps}"]


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def plain_pytorch(net: nn.Module) -> nn.Module:
    """net with each ImageOutputConvTranspose2d replaced by an nn.ConvTranspose2d holding the same parameters."""
    for name, child in net.named_children():
        if isinstance(child, ImageOutputConvTranspose2d):
            plain = nn.ConvTranspose2d(child.in_channels, child.out_channels, child.kernel_size, child.stride,
                                       child.padding, bias=child.bias is not None)
            plain.load_state_dict(child.state_dict())
            setattr(net, name, plain)
        else:
            plain_pytorch(child)
    return net


def time_layers(repeats: int) -> None:
    """The DCGAN generator's output layer at batch 64, nn.ConvTranspose2d against ImageOutputConvTranspose2d (whose
    fast path is for one channel: 3 channels take nn.ConvTranspose2d's path, so the two columns should agree)."""
    print("\nDCGAN generator output layer (k 4, s 2, p 1), batch 64, cpu; ms per call, best of", repeats)
    print(f"{'layer':<22}{'nn fwd':>9}{'ganctl fwd':>12}{'nn fwd+bwd':>12}{'ganctl fwd+bwd':>16}")
    for c_in, c_out, side in ((64, 1, 14), (64, 3, 16)):
        x = torch.randn(64, c_in, side, side, requires_grad=True)
        figures = []
        for layer_class in (nn.ConvTranspose2d, ImageOutputConvTranspose2d):
            layer = layer_class(c_in, c_out, 4, 2, 1)
            figures.append(best(lambda: calls_per_s(layer, x, backward=False), repeats))
            figures.append(best(lambda: calls_per_s(layer, x, backward=True), repeats))
        nn_fwd, nn_both, ours_fwd, ours_both = (1e3 / f for f in figures)
        print(f"{f'{c_in} -> {c_out}, {side} -> {2 * side}':<22}{nn_fwd:>9.2f}{ours_fwd:>12.2f}{nn_both:>12.2f}"
              f"{ours_both:>16.2f}")


def calls_per_s(layer: nn.Module, x: torch.Tensor, backward: bool, calls: int = 50) -> float:
    def call():
        if backward:
            layer(x).sum().backward()
        else:
            with torch.no_grad():
                layer(x)

    for _ in range(5):
        call()
    start = time.perf_counter()
    for _ in range(calls):
        call()
    return calls / (time.perf_counter() - start)


def reference_loop(cfg, device: torch.device, steps: int, fresh_noise: bool = False) -> float:
    """The DCGAN example's loop on ganctl's nets; returns steps/s. fresh_noise: G's update draws its own noise
    batch (one more G forward), as Goodfellow et al.'s Algorithm 1 and ganctl's engine do, instead of reusing
    the fake batch of D's update."""
    torch.manual_seed(cfg.seed)
    data = build.dataset(cfg)
    net_g, net_d = (plain_pytorch(net).to(device) for net in build.networks(cfg, data.shape, build.method(cfg)))
    opt_g = torch.optim.Adam(net_g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(net_d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    criterion = nn.BCEWithLogitsLoss()  # ganctl's D outputs logits; the example's Sigmoid+BCELoss, fused
    images = data.train.to(device)
    batch, z_dim = cfg.train.batch_size, cfg.model.z_dim
    real_label = torch.ones(batch, device=device)
    fake_label = torch.zeros(batch, device=device)

    def step():
        real = images[torch.randint(0, len(images), (batch,), device=device)]
        net_d.zero_grad()
        err_real = criterion(net_d(real), real_label)
        err_real.backward()
        fake = net_g(torch.randn(batch, z_dim, device=device))
        err_fake = criterion(net_d(fake.detach()), fake_label)
        err_fake.backward()
        opt_d.step()
        net_g.zero_grad()
        if fresh_noise:
            fake = net_g(torch.randn(batch, z_dim, device=device))
        err_g = criterion(net_d(fake), real_label)
        err_g.backward()
        opt_g.step()

    for _ in range(steps):  # warm-up, as long as the timed part (as for the engine): allocator, cuDNN autotuning
        step()
    synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    synchronize(device)
    return steps / (time.perf_counter() - start)


def engine(overrides: list[str], steps: int) -> float:
    """ganctl's loop in steps/s: `steps` warm-up steps (set-up, compilation, graph capture), then `steps` timed
    ones, read from the engine's own speed/steps_per_s log (time between its logs at steps and 2*steps)."""
    with tempfile.TemporaryDirectory() as run_dir:
        train(config([*overrides, f"train.steps={2 * steps}", f"train.log_every={steps}"]), Path(run_dir))
        events = EventAccumulator(str(Path(run_dir) / "tb"), size_guidance={"scalars": 0}).Reload()
        return events.Scalars("speed/steps_per_s")[-1].value


def best(fn, repeats: int) -> float:
    return max(fn() for _ in range(repeats))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=None,
                        help="DCGAN batch sizes (default: 64 128 512 on CUDA, 64 on the CPU)")
    parser.add_argument("--steps", type=int, default=None, help="timed DCGAN steps (default: 300 CUDA, 5 CPU)")
    parser.add_argument("--options", nargs="+", default=None, choices=list(OPTIONS),
                        help="engine options (default: all that the device runs; the CPU skips compile, slow to build)")
    parser.add_argument("--mlp-steps", type=int, default=2000, help="timed steps of the 2-D MLP job (0: skip it)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--layers", action="store_true", help="time only the generator's output layer")
    parser.add_argument("--shape", type=int, nargs=3, default=[32, 32, 3], metavar=("H", "W", "C"),
                        help="DCGAN image shape (default 32 32 3, CIFAR's; 28 28 1 for Fashion-MNIST's)")
    args = parser.parse_args()
    cuda = args.device.startswith("cuda")
    batch_sizes = args.batch_sizes or ([64, 128, 512] if cuda else [64])
    steps = args.steps or (300 if cuda else 5)
    options = args.options or (list(OPTIONS) if cuda else ["eager", "channels_last", "bf16"])
    if not cuda:
        options = [o for o in options if o not in ("cuda_graphs", "all")]
    gpu = f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ", no CUDA GPU"
    print(f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, "
          f"torch {torch.__version__}{gpu}; {time.strftime('%Y-%m-%d')}")
    if args.layers:
        time_layers(args.repeats)
        return

    with tempfile.TemporaryDirectory() as folder:
        images = Path(folder) / "images.npy"
        height, width, channels = args.shape
        np.save(images, np.random.default_rng(0).integers(0, 256, (10_000, height, width, channels), dtype=np.uint8))
        print(f"\nDCGAN {height}x{width}x{channels} (width 64), nsgan, {args.device}; {steps} timed steps after warm-up; "
              f"best of {args.repeats}; images/s")
        print("reference: the example's loop (G's update reuses D's fake batch); same alg.: the example's loop with "
              "fresh noise for G's update, as the engine does")
        print(f"{'batch':>6} {'option':<14}{'reference':>11}{'same alg.':>11}{'ganctl':>11}{'ratio':>7}{'ratio':>7}")
        for batch in batch_sizes:
            base = dcgan_overrides(args.device, batch, steps, images)
            cfg = config(base)
            ref = batch * best(lambda: reference_loop(cfg, build.device(args.device), steps), args.repeats)
            same = batch * best(lambda: reference_loop(cfg, build.device(args.device), steps, True), args.repeats)
            for option in options:
                ours = batch * best(lambda: engine([*base, *OPTIONS[option]], steps), args.repeats)
                print(f"{batch:>6} {option:<14}{ref:>11,.0f}{same:>11,.0f}{ours:>11,.0f}{ours / ref:>7.2f}"
                      f"{ours / same:>7.2f}")

    if args.mlp_steps <= 0:
        return
    print(f"\n2-D MLP (nsgan, ring8, 3x128, batch 256), cpu; {args.mlp_steps} timed steps; best of {args.repeats}; "
          f"steps/s")
    base = ["device=cpu", "train.progress=false", "eval.at_end=false", f"train.sample_every={100 * args.mlp_steps}",
            f"train.checkpoint_every={100 * args.mlp_steps}"]
    cfg = config(base)
    ref = best(lambda: mlp_reference(cfg, args.mlp_steps), args.repeats)
    same = best(lambda: mlp_reference(cfg, args.mlp_steps, True), args.repeats)
    ours = best(lambda: engine(base, args.mlp_steps), args.repeats)
    print(f"{'reference':>11}{'same alg.':>11}{'ganctl':>11}{'ratio':>7}{'ratio':>7}\n"
          f"{ref:>11,.0f}{same:>11,.0f}{ours:>11,.0f}{ours / ref:>7.2f}{ours / same:>7.2f}")


def mlp_reference(cfg, steps: int, fresh_noise: bool = False) -> float:
    """The same example loop on the 2-D job (softplus forms of the same BCE losses)."""
    torch.manual_seed(cfg.seed)
    data = build.dataset(cfg)
    g, d = build.networks(cfg, data.shape, build.method(cfg))
    betas = (cfg.optim.beta1, cfg.optim.beta2)  # torch's default Adam, as a plain loop writes it
    opt_g = torch.optim.Adam(g.parameters(), lr=cfg.optim.lr_g, betas=betas)
    opt_d = torch.optim.Adam(d.parameters(), lr=cfg.optim.lr_d, betas=betas)
    points, batch, z_dim = data.train, cfg.train.batch_size, cfg.model.z_dim
    softplus = nn.functional.softplus

    def step():
        real = points[torch.randint(0, len(points), (batch,))]
        fake = g(torch.randn(batch, z_dim))
        loss_d = softplus(-d(real)).mean() + softplus(d(fake.detach())).mean()
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        if fresh_noise:
            fake = g(torch.randn(batch, z_dim))
        loss_g = softplus(-d(fake)).mean()
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()

    for _ in range(steps):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return steps / (time.perf_counter() - start)


if __name__ == "__main__":
    main()
