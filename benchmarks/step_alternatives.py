"""Two ways to make the mode benchmark's small steps cheaper, measured against the eager step in one run: torch.compile
(of the two losses, and of the whole step with its optimiser updates) and several seeds trained as one vectorised
model (torch.func.stack_module_state + vmap). nsgan's step on the benchmark's nets (`+experiment=modes_grid25`:
G and D 3 x 128, batch 64), one torch thread as `make bench-modes` runs its jobs; fused Adam in every variant.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/step_alternatives.py --steps 400 --seeds 3
"""

from __future__ import annotations

import argparse
import copy
import platform
import time

import torch
from torch.func import functional_call, stack_module_state, vmap
from train_speed import config

from ganctl.engine import build

softplus = torch.nn.functional.softplus


def adams(g_params, d_params, cfg):
    """G's and D's optimisers as the engine builds them for the protocol: fused Adam at each player's rate."""
    betas = (cfg.optim.beta1, cfg.optim.beta2)
    return (torch.optim.Adam(g_params, lr=cfg.optim.lr_g, betas=betas, fused=True),
            torch.optim.Adam(d_params, lr=cfg.optim.lr_d, betas=betas, fused=True))


def timed(step, inputs, steps: int) -> tuple[float, float]:
    """(seconds of the first `steps` calls, which include compilation; steps/s of the next `steps`)."""
    start = time.perf_counter()
    for _ in range(steps):
        step(*inputs())
    warm = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(steps):
        step(*inputs())
    return warm, steps / (time.perf_counter() - start)


def one_seed(cfg, compile_mode: str):
    """nsgan's alternating step for one G and D; compile_mode: "" (eager), "losses" or "step"."""
    data = build.dataset(cfg)
    g, d = build.networks(cfg, data.shape, build.method(cfg))
    opt_g, opt_d = adams(g.parameters(), d.parameters(), cfg)

    def loss_d(real, z):
        with torch.no_grad():
            fake = g(z)
        return softplus(-d(real)).mean() + softplus(d(fake)).mean()

    def loss_g(z):
        return softplus(-d(g(z))).mean()

    if compile_mode == "losses":
        loss_d, loss_g = torch.compile(loss_d), torch.compile(loss_g)

    def step(real, z_d, z_g):
        opt_d.zero_grad(set_to_none=True)
        loss_d(real, z_d).backward()
        opt_d.step()
        opt_g.zero_grad(set_to_none=True)
        loss_g(z_g).backward()
        opt_g.step()

    return torch.compile(step) if compile_mode == "step" else step


def stacked_seeds(cfg, seeds: int):
    """The same step for `seeds` independent (G, D) pairs at once: their weights stacked, the nets vmapped."""
    data = build.dataset(cfg)
    pairs = [build.networks(cfg, data.shape, build.method(cfg)) for _ in range(seeds)]
    g_params = {k: v.detach().requires_grad_() for k, v in stack_module_state([g for g, _ in pairs])[0].items()}
    d_params = {k: v.detach().requires_grad_() for k, v in stack_module_state([d for _, d in pairs])[0].items()}
    g_shape, d_shape = copy.deepcopy(pairs[0][0]).to("meta"), copy.deepcopy(pairs[0][1]).to("meta")
    g = vmap(lambda p, z: functional_call(g_shape, p, (z,)))
    d = vmap(lambda p, x: functional_call(d_shape, p, (x,)))
    opt_g, opt_d = adams(g_params.values(), d_params.values(), cfg)

    def step(real, z_d, z_g):
        with torch.no_grad():
            fake = g(g_params, z_d)
        # summed over seeds: each seed's gradient is its own loss's, since the seeds share no weight
        loss_d = (softplus(-d(d_params, real)).flatten(1).mean(1) + softplus(d(d_params, fake)).flatten(1).mean(1)).sum()
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        loss_g = softplus(-d(d_params, g(g_params, z_g))).flatten(1).mean(1).sum()
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()

    return step


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=400, help="warm-up steps, then as many timed steps")
    parser.add_argument("--seeds", type=int, default=3, help="seeds in the vectorised model")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    cfg = config(["+experiment=modes_grid25", "+modes=nsgan"])
    batch, z_dim = cfg.train.batch_size, cfg.model.z_dim

    def inputs(seeds: int | None = None):
        shape = (batch, 2) if seeds is None else (seeds, batch, 2)
        noise = shape[:-1] + (z_dim,)
        return torch.randn(shape), torch.randn(noise), torch.randn(noise)

    print(f"# {platform.processor() or platform.machine()}, 1 torch thread, torch {torch.__version__}, "
          f"nsgan on the 2D-grid protocol's nets, batch {batch}")
    print("| variant | first steps (s) | steps/s | seed-steps/s | vs eager |")
    print("|---|---:|---:|---:|---:|")
    eager = None
    for name, step, make_inputs, seeds in [
        ("eager", one_seed(cfg, ""), inputs, 1),
        ("torch.compile of the losses", one_seed(cfg, "losses"), inputs, 1),
        ("torch.compile of the whole step", one_seed(cfg, "step"), inputs, 1),
        (f"{args.seeds} seeds vmapped", stacked_seeds(cfg, args.seeds), lambda: inputs(args.seeds), args.seeds),
    ]:
        warm, rate = timed(step, make_inputs, args.steps)
        eager = eager or rate
        print(f"| {name} | {warm:.1f} | {rate:.0f} | {rate * seeds:.0f} | {rate * seeds / eager:.2f} |", flush=True)


if __name__ == "__main__":
    main()
