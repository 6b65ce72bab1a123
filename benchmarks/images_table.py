"""docs/benchmarks.md's image table from a `make bench-images` sweep: `ganctl report`'s report.json, each method's
mean ± standard error over seeds, beside the real-vs-real reference row (benchmarks/image_reference.py's JSON).

    python benchmarks/images_table.py outputs/benchmarks/images/report.json reference.json [raw]

With `raw`, the raw generator's figures (raw_*: the last iterate, scored beside the averaged G of train.ema).
"""

import json
import sys

from modes_table import cell

COLUMNS = [("fid", ".1f"), ("kid_mean", ".2f"), ("is_mean", ".2f"), ("classes_covered", ".1f"),
           ("class_min_pct", ".1f"), ("precision", ".3f"), ("recall", ".3f"), ("nn1_accuracy", ".3f"),
           ("wall_time_s", ".0f")]
HEADER = ["FID", "KID", "score", "classes", "rarest class %", "precision", "recall", "1-NN", "wall time (s)"]


def main(report_path: str, reference_path: str, generator: str = "ema") -> None:
    report = json.loads(open(report_path).read())
    reference = json.loads(open(reference_path).read())
    print("| method | seeds | " + " | ".join(HEADER) + " |")
    print("|---|---:|" + "---:|" * len(HEADER))
    for c in report["configurations"]:
        method = next(o.split("=")[1] for o in c["overrides"] if o.startswith("method="))
        prefix = "raw_" if generator == "raw" else ""
        cells = [cell(c["metrics"].get(k if k == "wall_time_s" else prefix + k), fmt) for k, fmt in COLUMNS]
        print(f"| `{method}` | {c['seeds']} | " + " | ".join(cells) + " |")
    values = [f"{reference[k]:{fmt}}" if k in reference else "–" for k, fmt in COLUMNS]
    print("| *real train vs real test* | – | " + " | ".join(values) + " |")


if __name__ == "__main__":
    main(*sys.argv[1:4])
