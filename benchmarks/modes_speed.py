"""Speed of the mode benchmark: steps/s of every remedy under `+experiment=modes_grid25 +modes=<method>`, beside a
plain PyTorch loop (nsgan, the PyTorch DCGAN example's loop) on the same nets and batch size, in one run, one
torch thread (as `make bench-modes` runs its jobs); and where an nsgan step's time goes (torch.profiler).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/modes_speed.py --steps 300
"""

from __future__ import annotations

import argparse
import platform
import tempfile
from pathlib import Path

import torch
from modes_table import ORDER
from train_speed import config, engine, mlp_reference

from ganctl.engine.train import train

METHODS = ORDER  # every remedy of the table, in its order


def protocol(method: str) -> list[str]:
    return ["+experiment=modes_grid25", f"+modes={method}", "train.progress=false", "eval.at_end=false",
            "train.sample_every=100000", "train.checkpoint_every=100000"]


def profile(steps: int) -> None:
    """The engine's nsgan steps under torch.profiler: the operators that take the CPU time."""
    with tempfile.TemporaryDirectory() as run_dir, torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        train(config([*protocol("nsgan"), f"train.steps={steps}"]), Path(run_dir))
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=300, help="timed steps per method (as many warm-up steps first)")
    parser.add_argument("--methods", nargs="*", default=METHODS)
    parser.add_argument("--profile", action="store_true", help="also print torch.profiler's table for nsgan")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"# {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch thread, torch {torch.__version__}")
    print("| method | batch (samples) | ganctl steps/s | plain loop steps/s (nsgan, same nets and batch) | ratio |")
    print("|---|---:|---:|---:|---:|")
    for method in args.methods:
        cfg = config(protocol(method))
        samples = cfg.train.batch_size * (cfg.model.pack if cfg.train.batch_unit == "packs" else 1)
        plain_cfg = config([*protocol("nsgan"), f"train.batch_size={samples}"])
        plain = mlp_reference(plain_cfg, args.steps, fresh_noise=True)
        ours = engine(protocol(method), args.steps)
        print(f"| `{method}` | {samples} | {ours:.0f} | {plain:.0f} | {ours / plain:.2f} |", flush=True)
    if args.profile:
        profile(args.steps)


if __name__ == "__main__":
    main()
