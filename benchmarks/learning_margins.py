"""The spread of the test suite's learning tests: each short ring run of tests/ over seeds and torch thread counts,
so that every threshold can sit well outside what a healthy run does on any CPU.

For each case: the W1 drop (untrained W1 - trained W1; the tests require > 0.25, MAD-GAN's > 0.1, Unrolled GAN's > 0.5)
and the trained high-quality share (the tests require > 0, MAD-GAN's nothing), over `--seeds` seeds x 1 and 2 threads.
Prints min / mean / max per case; `--each` every run.

    PYTHONPATH=. .venv/bin/python benchmarks/learning_margins.py --seeds 10

Beside other work, OMP_WAIT_POLICY=passive keeps the 2-thread runs from spinning on a busy core (the thread count,
not the wait policy, decides the results).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import torch

from ganctl.engine import build
from ganctl.engine.evaluate import evaluate
from ganctl.engine.train import train
from tests.conftest import FAST, make_config
from tests.engine.test_train import METHOD_RUNS
from tests.methods.test_dragan import RUN as DRAGAN_RUN
from tests.methods.test_ebgan import RUN as EBGAN_RUN
from tests.methods.test_lsgan_hinge import HINGE_RUN, LSGAN_RUN
from tests.methods.test_madgan import RUN as MADGAN_TEST_RUN
from tests.methods.test_presets import RUNS as PRESET_RUNS
from tests.methods.test_unrolled import RUN as UNROLLED_RUN

# Every budget comes from the tests themselves, so that this script measures what they run; one() adds the
# metrics and FAST.
MADGAN_RUN = [o for o in MADGAN_TEST_RUN if o not in FAST and not o.startswith("metrics=")]
CASES = {  # name -> overrides, as the tests run them
    **{f"train[{method}]": [f"method={method}", *overrides] for method, overrides in METHOD_RUNS.items()},
    **{f"presets[{method}]": [f"method={method}", *overrides] for method, overrides in PRESET_RUNS.items()},
    "dragan": ["method=dragan", *DRAGAN_RUN],
    "ebgan": ["method=ebgan", *EBGAN_RUN],
    "lsgan": ["method=lsgan", *LSGAN_RUN],
    "hinge": ["method=hinge", *HINGE_RUN],
    "madgan": ["method=madgan", *MADGAN_RUN],
    "mrgan": ["method=mrgan", *MADGAN_RUN],
    "mdgan": ["method=mdgan", *MADGAN_RUN, "method.geometric_weight=10"],
    "unrolled": UNROLLED_RUN,
}


def one(overrides: list[str], seed: int, threads: int) -> tuple[float, float]:
    torch.set_num_threads(threads)
    cfg = make_config(*overrides, f"seed={seed}", "metrics=[mode_coverage,wasserstein]", *FAST)
    torch.manual_seed(cfg.seed)
    data = build.dataset(cfg)
    g, _ = build.networks(cfg, data.shape, build.method(cfg))
    before = evaluate(g, cfg, data, torch.device("cpu"))["wasserstein"]
    with tempfile.TemporaryDirectory() as run_dir:
        train(cfg, Path(run_dir))
        after = json.loads((Path(run_dir) / "metrics.json").read_text())["metrics"]
    return before - after["wasserstein"], after["high_quality_pct"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--cases", nargs="*", default=list(CASES))
    parser.add_argument("--threads", nargs="*", type=int, default=[1, 2])
    parser.add_argument("--extra", nargs="*", default=[], help="overrides added to every case, to try a new budget")
    parser.add_argument("--each", action="store_true", help="also print every run: seed, threads, W1 drop, HQ %%")
    args = parser.parse_args()
    print("| test | runs | W1 drop min / mean / max | high quality % min / mean / max |")
    print("|---|---:|---:|---:|")
    for name in args.cases:
        runs = [(seed, threads) for seed in range(args.seeds) for threads in args.threads]
        results = np.array([one([*CASES[name], *args.extra], seed, threads) for seed, threads in runs])
        if args.each:
            for (seed, threads), (drop, hq) in zip(runs, results):
                print(f"  {name} seed {seed} threads {threads}: W1 drop {drop:.3f}, high quality {hq:.1f}%", flush=True)
        drop, hq = results[:, 0], results[:, 1]
        print(f"| {name} | {len(results)} | {drop.min():.3f} / {drop.mean():.3f} / {drop.max():.3f} | "
              f"{hq.min():.1f} / {hq.mean():.1f} / {hq.max():.1f} |", flush=True)


if __name__ == "__main__":
    main()
