"""Training curves beside an evaluation metric, and how well each curve predicts it: `ganctl plot RUN_DIR...`.

Reads the scalars a run logged to TensorBoard (`RUN_DIR/tb`): the losses `loss/d`, `loss/g`, the WGAN critic's
estimate `method/wasserstein` where the method logs one, and one metric `metric/<name>` (default: the run's
`eval.monitor`), logged every `train.eval_every` steps and once more at the end.

Alignment. Losses are logged every `train.log_every` steps, each value the mean over the steps since the last
log; the metric is logged at evaluation steps. Each metric point is paired with the loss value logged at the
same step or, when there is none, the nearest one before it (the latest training signal the evaluated generator
had seen); metric points before the first loss value are dropped, and so are those before `from_step` when it
is given (to leave out the first steps' transient; the picture still shows them). When eval_every is a multiple
of log_every, both of every pair are logged at the same step. A step logged twice (a later `ganctl evaluate` of
the same checkpoint) keeps its last value.

Correlation, over the n aligned pairs of one run (scipy.stats):
    Pearson r = cov(x, y) / (std(x) std(y))              (linear association)
    Spearman rho = Pearson r of the ranks of x and y     (any monotone association)
both in [-1, 1]; none below 3 pairs or for a constant series. Their p-values assume independent pairs, which
points of one training run are not (consecutive evaluations are autocorrelated): read them as optimistic.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml
from matplotlib.figure import Figure
from scipy import stats
from tensorboard.backend.event_processing.event_accumulator import SCALARS, EventAccumulator

from ganctl.errors import UserError

log = logging.getLogger("ganctl")

LOSSES = ("loss/d", "loss/g")
CRITIC = "method/wasserstein"  # E[D(x)] - E[D(G(z))] of a Wasserstein critic
ALIGNMENT = ("each metric point is paired with the loss logged at the same step, or the nearest step before it; "
             "a loss value is the mean over the train.log_every steps up to its step")
MIN_PAIRS = 3


@dataclass
class Series:
    steps: np.ndarray  # (n,) int, increasing, unique
    values: np.ndarray  # (n,) float


@dataclass
class Correlation:
    n: int
    pearson: float | None
    pearson_p: float | None
    spearman: float | None
    spearman_p: float | None


@dataclass
class RunCurves:
    path: Path
    label: str  # `nsgan on ring8` from the run's Hydra choices; the folder name without them
    metric: str  # the metric's name, without `metric/`
    from_step: int  # evaluation points before this step are not correlated
    series: dict[str, Series]  # tag -> the whole logged series (losses, critic estimate, metric)
    aligned: dict[str, Series] = field(default_factory=dict)  # curve tag -> its values at the metric's steps
    correlations: dict[str, Correlation] = field(default_factory=dict)  # curve tag -> its correlation

    @property
    def metric_tag(self) -> str:
        return f"metric/{self.metric}"

    @property
    def curves(self) -> list[str]:
        """The logged training curves whose correlation with the metric is measured."""
        return [tag for tag in (*LOSSES, CRITIC) if tag in self.series]


def event_folder(run_dir: Path) -> Path:
    """RUN_DIR/tb, or RUN_DIR itself when it holds the event files (a `tb/` folder given directly)."""
    if not run_dir.is_dir():
        raise UserError(f"{run_dir}: no such folder; give a run folder made by `ganctl train`")
    for folder in (run_dir / "tb", run_dir):
        if any(folder.glob("events.out.tfevents.*")):
            return folder
    raise UserError(f"{run_dir} holds no TensorBoard event files (expected {run_dir / 'tb'}/events.out.tfevents.*); "
                    "give a run folder made by `ganctl train`")


def read_scalars(folder: Path) -> dict[str, Series]:
    """Every scalar tag of the event files in `folder`, all points kept (no reservoir sampling)."""
    acc = EventAccumulator(str(folder), size_guidance={SCALARS: 0})
    quiet = logging.getLogger("tensorboard")  # its INFO lines ("No path found after ...") are not for users
    level = quiet.level
    quiet.setLevel(logging.WARNING)
    try:
        acc.Reload()
    finally:
        quiet.setLevel(level)
    out = {}
    for tag in acc.Tags()[SCALARS]:
        by_step = {event.step: event.value for event in acc.Scalars(tag)}  # a repeated step keeps its last value
        steps = np.array(sorted(by_step), dtype=np.int64)
        out[tag] = Series(steps, np.array([by_step[s] for s in steps], dtype=np.float64))
    return out


def run_config(run_dir: Path) -> tuple[dict, dict]:
    """The run's composed config and Hydra's group choices (`method: nsgan`), from `.hydra/`; empty if absent."""
    def load(name):
        path = run_dir / ".hydra" / name
        return (yaml.safe_load(path.read_text()) or {}) if path.is_file() else {}

    choices = load("hydra.yaml").get("hydra", {}).get("runtime", {}).get("choices", {})
    return load("config.yaml"), choices or {}


def align(curve: Series, at: Series) -> tuple[Series, Series]:
    """The curve's value at each step of `at`, taken at that step or the nearest logged step before it; points of
    `at` before the curve's first step are dropped. Returns (curve values, at values) on the kept steps."""
    index = np.searchsorted(curve.steps, at.steps, side="right") - 1  # last curve step <= each `at` step
    keep = index >= 0
    return Series(at.steps[keep], curve.values[index[keep]]), Series(at.steps[keep], at.values[keep])


def finite_or_none(value) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def correlation(x: np.ndarray, y: np.ndarray) -> Correlation:
    """Pearson's and Spearman's coefficients (with p-values) of paired samples; None where undefined."""
    n = len(x)
    if n < MIN_PAIRS or np.ptp(x) == 0 or np.ptp(y) == 0:
        return Correlation(n, None, None, None, None)
    pearson, spearman = stats.pearsonr(x, y), stats.spearmanr(x, y)
    return Correlation(n, finite_or_none(pearson.statistic), finite_or_none(pearson.pvalue),
                       finite_or_none(spearman.statistic), finite_or_none(spearman.pvalue))


def load_run(run_dir: str | Path, metric: str | None = None, from_step: int = 0) -> RunCurves:
    """A run's curves and metric, aligned and correlated over the evaluation points at step >= from_step."""
    path = Path(run_dir)
    scalars = read_scalars(event_folder(path))
    config, choices = run_config(path)
    if metric is None:
        metric = (config.get("eval") or {}).get("monitor")
        if metric is None:
            raise UserError(f"{path}: no eval.monitor in .hydra/config.yaml to choose the metric; name it with --metric")
    metric = metric.removeprefix("metric/")
    available = sorted(t.removeprefix("metric/") for t in scalars if t.startswith("metric/"))
    if f"metric/{metric}" not in scalars:
        raise UserError(f"{path} has no metric/{metric} in its TensorBoard logs; it has: "
                        f"{', '.join(available) or 'no metric at all (train with train.eval_every=N)'}; "
                        "choose one with --metric")
    missing = [t for t in LOSSES if t not in scalars]
    if missing:
        raise UserError(f"{path} has no {', '.join(missing)} in its TensorBoard logs; is it a `ganctl train` run?")
    label = f"{choices['method']} on {choices['data']}" if "method" in choices and "data" in choices else None
    wanted = [*LOSSES, CRITIC, f"metric/{metric}"]
    run = RunCurves(path, label or path.resolve().name, metric, from_step,
                    {t: scalars[t] for t in wanted if t in scalars})
    evaluated = run.series[run.metric_tag]
    kept = evaluated.steps >= from_step
    evaluated = Series(evaluated.steps[kept], evaluated.values[kept])
    for tag in run.curves:
        curve, target = align(run.series[tag], evaluated)
        run.aligned[tag] = curve
        run.aligned[run.metric_tag] = target  # losses and critic are logged at the same steps: the same pairs kept
        run.correlations[tag] = correlation(curve.values, target.values)
    n = len(evaluated.steps)
    if n < MIN_PAIRS:
        log.warning("%s: metric/%s has %d point(s) at step >= %d; correlations need at least %d (train with "
                    "train.eval_every=N)", path, metric, n, from_step, MIN_PAIRS)
    return run


def legend_label(tag: str, c: Correlation | None) -> str:
    if c is None or c.pearson is None:
        return tag
    return f"{tag}  (r = {c.pearson:+.3f}, ρ = {c.spearman:+.3f})"


def draw(runs: list[RunCurves], out: Path) -> None:
    """One row of panels per run: the losses, the critic's estimate (when any run has one), the metric."""
    with_critic = any(CRITIC in run.series for run in runs)
    columns = 3 if with_critic else 2
    fig = Figure(figsize=(5.2 * columns, 3.4 * len(runs)), layout="constrained")
    axes = fig.subplots(len(runs), columns, squeeze=False, sharex="row")
    for row, run in zip(axes, runs):
        panels = [(row[0], list(LOSSES), "loss")]
        if with_critic:
            panels.append((row[1], [CRITIC] if CRITIC in run.series else [], "critic estimate"))
        panels.append((row[-1], [run.metric_tag], run.metric))
        for ax, tags, ylabel in panels:
            for tag in tags:
                s = run.series[tag]
                is_metric = tag == run.metric_tag
                ax.plot(s.steps, s.values, marker="o" if is_metric else None, markersize=3,
                        linewidth=1.4 if is_metric else 1.0, label=legend_label(tag, run.correlations.get(tag)))
            if not tags:
                ax.axis("off")
                ax.text(0.5, 0.5, f"no {CRITIC}: not logged by this method", ha="center", va="center",
                        transform=ax.transAxes, color="grey")
                continue
            ax.legend(fontsize=8, loc="best")
            ax.set_xlabel("step")
            ax.set_ylabel(ylabel)
            if run.from_step > 0:
                ax.axvline(run.from_step, color="grey", linestyle=":", linewidth=1)
            ax.grid(alpha=0.3)
        folder = run.path.resolve().name
        row[0].set_title(run.label if run.label == folder else f"{run.label}  ({folder})", loc="left", fontsize=10)
    start = f" from step {runs[0].from_step} (dotted line)" if runs[0].from_step else ""
    fig.suptitle("r, ρ: Pearson and Spearman correlation of the curve with the metric over the evaluation steps"
                 f"{start} (each paired with the loss logged at that step or the nearest before)", fontsize=9)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)


def as_json(runs: list[RunCurves]) -> dict:
    return {
        "alignment": ALIGNMENT,
        "runs": [{
            "run": str(run.path),
            "label": run.label,
            "metric": run.metric,
            "from_step": run.from_step,
            "steps": run.aligned[run.metric_tag].steps.tolist() if run.aligned else [],
            "values": {tag: s.values.tolist() for tag, s in run.aligned.items()},
            "correlations": {tag: vars(c) for tag, c in run.correlations.items()},
        } for run in runs],
    }


def default_out(run_dirs: list[str]) -> Path:
    """RUN_DIR/curves.png for one run; ./curves.png for several."""
    return Path(run_dirs[0]) / "curves.png" if len(run_dirs) == 1 else Path("curves.png")


def plot(run_dirs: list[str], out: str | Path | None = None, metric: str | None = None, from_step: int = 0
         ) -> tuple[list[RunCurves], list[Path]]:
    """Read, correlate and draw the runs; write OUT (a PNG) and the correlations beside it as OUT.json.
    Returns the runs and the paths written."""
    if not run_dirs:
        raise UserError("give at least one run folder: ganctl plot RUN_DIR...")
    out_path = Path(out) if out else default_out(run_dirs)
    if out_path.suffix.lower() != ".png":
        raise UserError(f"--out {out_path}: the picture is a PNG; give a file name ending in .png")
    if from_step < 0:
        raise UserError(f"--from-step {from_step} must be 0 or a positive step")
    runs = [load_run(d, metric, from_step) for d in run_dirs]
    draw(runs, out_path)
    json_path = out_path.with_suffix(".json")
    json_path.write_text(json.dumps(as_json(runs), indent=2) + "\n")
    return runs, [out_path, json_path]
