"""docs/benchmarks.md's image table from a `make bench-images` sweep: `ganctl report`'s report.json, each method's
mean ± standard error over seeds, beside the real-vs-real reference row (benchmarks/image_reference.py's JSON).

    python benchmarks/images_table.py outputs/benchmarks/images/report.json reference.json [raw]

The averaged G's figures (train.ema), with the raw G's FID beside them; with `raw`, the raw generator's (raw_*: the
last iterate), with the averaged G's FID beside them. The steps column is where each run stopped: the sweep gives
every method the same minutes, so it says how many G steps a method's objective made in them (read from each job's
metrics.json).
"""

import json
import statistics
import sys
from pathlib import Path

from modes_table import cell

COLUMNS = [("fid", ".1f"), ("kid_mean", ".2f"), ("is_mean", ".2f"), ("classes_covered", ".1f"),
           ("class_min_pct", ".1f"), ("precision", ".3f"), ("recall", ".3f"), ("nn1_accuracy", ".3f")]
HEADER = ["steps", "FID", "KID", "score", "classes", "rarest class %", "precision", "recall", "1-NN"]


def steps_cell(sweep: Path, configuration: dict) -> str:
    steps = [json.loads((sweep / job["folder"] / "metrics.json").read_text())["step"]
             for job in configuration["jobs"]]
    return f"{statistics.mean(steps):,.0f}" + (f" ({min(steps):,}-{max(steps):,})" if len(steps) > 1 else "")


def main(report_path: str, reference_path: str, generator: str = "ema") -> None:
    report = json.loads(open(report_path).read())
    reference = json.loads(open(reference_path).read())
    sweep = Path(report["sweep"])
    prefix, other_fid, other = ("raw_", "fid", "averaged") if generator == "raw" else ("", "raw_fid", "raw")
    header = HEADER + [f"{other} G FID", "training time (s)"]
    print("| method | seeds | " + " | ".join(header) + " |")
    print("|---|---:|" + "---:|" * len(header))
    for c in report["configurations"]:
        method = next(o.split("=")[1] for o in c["overrides"] if o.startswith("method="))
        cells = [cell(c["metrics"].get(prefix + k), fmt) for k, fmt in COLUMNS]
        cells += [cell(c["metrics"].get(other_fid), ".1f"), cell(c["metrics"].get("wall_time_s"), ".0f")]
        print(f"| `{method}` | {c['seeds']} | {steps_cell(sweep, c)} | " + " | ".join(cells) + " |")
    values = [f"{reference[k]:{fmt}}" if k in reference else "–" for k, fmt in COLUMNS]
    print("| *real train vs real test* | – | – | " + " | ".join(values) + " | – | – |")


if __name__ == "__main__":
    main(*sys.argv[1:4])
