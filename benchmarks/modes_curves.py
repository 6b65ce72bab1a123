"""Modes captured against the step, for the mode benchmark's runs evaluated during training: one panel per method
and data set, one line per seed, the raw G solid and the averaged G dashed; a table of the same numbers is printed.

    ganctl train -m +experiment=modes_ring8 +modes=ebgan,madgan seed=0,1,2 train.eval_every=1000 \\
        metrics=[mode_coverage] hydra.sweep.dir=SWEEP
    python benchmarks/modes_curves.py SWEEP [SWEEP ...] --out curves.png

It reads the sweeps' finished jobs and their tb/ with `ganctl report`'s and `ganctl plot`'s readers.
"""

import argparse
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ganctl.analysis.plot import Series, event_folder, read_scalars  # noqa: E402
from ganctl.analysis.report import collect  # noqa: E402


def override(overrides: list[str], key: str) -> str:
    return next(o.split("=", 1)[1] for o in overrides if o.startswith(key + "="))


def read_runs(sweeps: list[str]) -> dict[tuple[str, str], dict[int, dict[str, Series]]]:
    """{(data set, method): {seed: {tag: Series}}} for the finished jobs of each sweep (`ganctl report`'s reader)."""
    runs: dict = defaultdict(dict)
    for sweep in sweeps:
        for job in collect(sweep):
            data = override(job.overrides, "+experiment").removeprefix("modes_")
            scalars = read_scalars(event_folder(job.path))
            runs[(data, override(job.overrides, "+modes"))][job.seed] = {
                tag: scalars[f"metric/{tag}"] for tag in ("modes_captured", "raw_modes_captured", "high_quality_pct")}
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
            raw, averaged = tags["raw_modes_captured"], tags["modes_captured"]
            ax.plot(raw.steps, raw.values, color=color, label=f"seed {seed}")
            ax.plot(averaged.steps, averaged.values, color=color, linestyle="--", linewidth=0.8)
            print(f"{data} {method} seed {seed}: raw G modes "
                  + " ".join(f"{s // 1000}k:{v:.0f}" for s, v in zip(raw.steps, raw.values))
                  + f" | averaged G, last: {averaged.values[-1]:.0f} modes, "
                  + f"{tags['high_quality_pct'].values[-1]:.1f}% high quality")
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
