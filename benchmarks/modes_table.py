"""docs/benchmarks.md's mode-coverage tables from a `make bench-modes` sweep: `ganctl report`'s report.json, one
table per data set, each method's mean ± standard error over seeds beside the published rows.

    python benchmarks/modes_table.py outputs/benchmarks/modes/report.json
"""

import json
import sys

# Published rows, transcribed from the authors' table images. PacGAN Table 1 (fjxmlzn/PacGAN,
# synthetic_data_experiments/results/Table1.png): 10 trials, mean ± standard error. VEEGAN Table 1 (akashgit/VEEGAN,
# tab.png): modes / % high quality, no reverse KL.
PUBLISHED = {
    "ring8": [("GAN (PacGAN Table 1)", "6.3", "98.2", "0.45"), ("PacGAN2", "7.9", "95.6", "0.07"),
              ("PacGAN3", "7.8", "97.7", "0.10"), ("PacGAN4", "7.8", "95.9", "0.07"),
              ("GAN (VEEGAN Table 1)", "1", "99.3", "–"), ("Unrolled GAN (VEEGAN Table 1)", "7.6", "35.6", "–"),
              ("VEEGAN (VEEGAN Table 1)", "8", "52.9", "–")],
    "grid25": [("GAN (PacGAN Table 1)", "17.3", "94.8", "0.70"), ("PacGAN2", "23.8", "91.3", "0.13"),
               ("PacGAN3", "24.6", "94.2", "0.06"), ("PacGAN4", "24.8", "93.6", "0.04"),
               ("GAN (VEEGAN Table 1)", "3.3", "0.5", "–"), ("Unrolled GAN (VEEGAN Table 1)", "23.6", "16", "–"),
               ("VEEGAN (VEEGAN Table 1)", "24.6", "40", "–")],
}
# Every remedy of the table, in the Makefile's MODES_METHODS order: the rows come out in it whatever order the
# sweep's jobs ran in (benchmarks/modes_speed.py times the same list)
ORDER = ["nsgan", "pacgan2", "pacgan3", "pacgan4", "minibatch", "unrolled", "dragan", "ebgan", "madgan", "mrgan", "mdgan"]
COLUMNS = [("modes_captured", ".1f"), ("high_quality_pct", ".1f"), ("reverse_kl", ".3f"),
           ("raw_high_quality_pct", ".1f"), ("wall_time_s", ".0f")]


def cell(metric: dict | None, fmt: str) -> str:
    if metric is None:
        return "–"
    sem = "–" if metric["sem"] is None else f"{metric['sem']:{fmt}}"
    return f"{metric['mean']:{fmt}} ± {sem}"


def modes_of(configuration: dict) -> str:
    return next(o.split("=")[1] for o in configuration["overrides"] if o.startswith("+modes="))


def rank(method: str) -> int:
    return ORDER.index(method) if method in ORDER else len(ORDER)


def main(path: str) -> None:
    report = json.loads(open(path).read())
    for data in ("ring8", "grid25"):
        rows = [c for c in report["configurations"] if f"modes_{data}" in " ".join(c["overrides"])]
        if not rows:
            continue
        modes = 8 if data == "ring8" else 25
        print(f"\n| method | seeds | modes (of {modes}) | high quality % | reverse KL | raw G high quality % | wall time (s) |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for method, c in sorted(((modes_of(c), c) for c in rows), key=lambda mc: rank(mc[0])):
            cells = [cell(c["metrics"].get(k), fmt) for k, fmt in COLUMNS]
            print(f"| `{method}` | {c['seeds']} | " + " | ".join(cells) + " |")
        for name, *published in PUBLISHED[data]:
            runs = "10" if "VEEGAN" not in name else "–"  # PacGAN: 10 trials; VEEGAN's table does not say here
            print(f"| *{name}, published* | {runs} | " + " | ".join(published) + " | – | – |")


if __name__ == "__main__":
    main(sys.argv[1])
