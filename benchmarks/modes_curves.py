"""Modes captured against the step, for the mode benchmark's runs evaluated during training: one panel per method
and data set, one line per seed, the raw G solid and the averaged G dashed; a table of the same numbers is printed.

    ganctl train -m +experiment=modes_ring8 +modes=ebgan,madgan seed=0,1,2 train.eval_every=1000 \\
        metrics=[mode_coverage] hydra.sweep.dir=SWEEP
    python benchmarks/modes_curves.py SWEEP [SWEEP ...] --out curves.png

It reads each job's tb/ (metric/modes_captured and metric/raw_modes_captured) and .hydra/overrides.yaml.
"""

import argparse
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import yaml  # noqa: E402
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402


def override(overrides: list[str], key: str) -> str:
    return next(o.split("=", 1)[1] for o in overrides if o.startswith(key + "="))


def read_runs(sweeps: list[str]) -> dict[tuple[str, str], dict[str, dict[str, list[tuple[int, float]]]]]:
    """{(data set, method): {seed: {tag: [(step, value), ...]}}}"""
    runs: dict = defaultdict(dict)
    for sweep in sweeps:
        for job in sorted(p for p in Path(sweep).iterdir() if (p / "tb").is_dir()):
            overrides = yaml.safe_load((job / ".hydra" / "overrides.yaml").read_text())
            data = override(overrides, "+experiment").removeprefix("modes_")
            events = EventAccumulator(str(job / "tb"), size_guidance={"scalars": 0})
            events.Reload()
            runs[(data, override(overrides, "+modes"))][override(overrides, "seed")] = {
                tag: [(e.step, e.value) for e in events.Scalars(f"metric/{tag}")]
                for tag in ("modes_captured", "raw_modes_captured", "high_quality_pct", "raw_high_quality_pct")}
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweeps", nargs="+")
    parser.add_argument("--out", default="modes_curves.png")
    args = parser.parse_args()
    runs = read_runs(args.sweeps)
    panels = sorted(runs)
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 2.8), squeeze=False)
    for ax, (data, method) in zip(axes[0], panels):
        modes = 8 if data.startswith("ring") else 25
        for i, (seed, tags) in enumerate(sorted(runs[(data, method)].items())):
            color = f"C{i}"
            ax.plot(*zip(*tags["raw_modes_captured"]), color=color, label=f"seed {seed}")
            ax.plot(*zip(*tags["modes_captured"]), color=color, linestyle="--", linewidth=0.8)
            print(f"{data} {method} seed {seed}: raw G modes "
                  + " ".join(f"{s // 1000}k:{v:.0f}" for s, v in tags["raw_modes_captured"])
                  + " | averaged G, last: "
                  + f"{tags['modes_captured'][-1][1]:.0f} modes, {tags['high_quality_pct'][-1][1]:.1f}% high quality")
        ax.axhline(modes, color="grey", linewidth=0.5)
        ax.set_ylim(0, modes + 1)
        ax.set_title(f"{method}, {data}", fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0][0].set_ylabel("modes captured", fontsize=8)
    axes[0][0].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
