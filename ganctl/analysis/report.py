"""A sweep's results side by side: `ganctl report SWEEP_DIR`.

A Hydra multirun leaves one job folder per run (`.hydra/overrides.yaml`, `metrics.json`, `samples/`). Jobs whose
overrides differ only in `seed=` are one configuration; for each, every metric in metrics.json (and the wall
time) is summarised over seeds as mean and sample standard deviation (ddof=1), or with `spread="sem"` the standard
error of the mean, std / sqrt(n), as the papers' tables report (PacGAN: 10 runs ± s.e.). Written beside each other:
a markdown table with one sample picture per configuration, the same numbers as JSON, and one TensorBoard
HParams entry per configuration.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from hydra.core.override_parser.overrides_parser import OverridesParser

from ganctl.engine.logging import TensorBoard
from ganctl.errors import UserError

log = logging.getLogger("ganctl")

FIRST = ("modes_captured", "high_quality_pct", "reverse_kl", "mode_tv")  # the mode-collapse numbers lead the table
LAST = "wall_time_s"
FORMATS = {"modes_captured": ".1f", "high_quality_pct": ".1f", "reverse_kl": ".3f", "mode_tv": ".3f", LAST: ".1f"}
DEFAULT_FORMAT = ".4g"
RAW = "raw_"


@dataclass
class Job:
    """One finished run of the sweep."""

    path: Path
    overrides: list[str]  # as Hydra recorded them, without `seed=`
    seed: int | None
    values: dict[str, float]  # metrics.json's metrics plus wall_time_s


@dataclass
class Summary:
    mean: float
    std: float | None  # sample standard deviation; None for a single value
    n: int


@dataclass
class Group:
    """The jobs of one configuration: the same overrides apart from the seed."""

    label: str
    slug: str  # the label as a file name, unique within the sweep
    overrides: list[str]
    jobs: list[Job]
    summary: dict[str, Summary]


def parse_overrides(overrides: list[str]) -> list:
    return OverridesParser.create().parse_overrides(overrides)


def is_seed(override) -> bool:
    return override.key_or_group == "seed"


def job_order(path: Path) -> tuple:
    """Hydra numbers job folders 0, 1, ... 10: sort them as numbers (any other name after, by name)."""
    return (0, int(path.name), "") if path.name.isdigit() else (1, 0, path.name)


def read_job(path: Path) -> Job:
    recorded = yaml.safe_load((path / ".hydra" / "overrides.yaml").read_text()) or []
    parsed = parse_overrides(recorded)
    seeds = [o.value() for o in parsed if is_seed(o)]
    if not seeds:  # the seed was not swept: the job's composed config has it
        config = yaml.safe_load((path / ".hydra" / "config.yaml").read_text()) or {}
        seeds = [config.get("seed")]
    try:
        result = json.loads((path / "metrics.json").read_text())
        values = dict(result["metrics"])
    except (ValueError, KeyError, TypeError):
        raise UserError(f"{path / 'metrics.json'} is not a ganctl metrics file (no \"metrics\" entry)") from None
    if LAST in result:
        values[LAST] = result[LAST]
    return Job(path, [text for text, o in zip(recorded, parsed) if not is_seed(o)], seeds[0], values)


def collect(sweep_dir: str | Path) -> list[Job]:
    """The finished jobs of a sweep, in job order. Unfinished ones (no metrics.json) are named in a warning."""
    sweep = Path(sweep_dir)
    if not sweep.is_dir():
        raise UserError(f"{sweep}: no such folder; give a sweep folder such as outputs/multirun/<date>/<time>")
    folders = sorted((p.parent.parent for p in sweep.glob("*/.hydra/overrides.yaml")), key=job_order)
    if not folders:
        raise UserError(f"{sweep} holds no job folders (sub-folders with .hydra/overrides.yaml); give the folder "
                        f"of a `ganctl train -m` sweep, such as outputs/multirun/<date>/<time>")
    unfinished = [p for p in folders if not (p / "metrics.json").is_file()]
    if len(unfinished) == len(folders):
        raise UserError(f"no job in {sweep} has finished: none of its {len(folders)} job folders has a metrics.json")
    if unfinished:
        log.warning("skipped %d job(s) without metrics.json (unfinished or failed): %s", len(unfinished),
                    ", ".join(str(p) for p in unfinished))
    return [read_job(p) for p in folders if p not in unfinished]


def summarise(values: list[float]) -> Summary:
    std = float(np.std(values, ddof=1)) if len(values) > 1 else None
    return Summary(float(np.mean(values)), std, len(values))


def shared_overrides(jobs: list[Job]) -> list[str]:
    """The overrides every job has, when the sweep has several configurations: they label none of them."""
    keys = {tuple(job.overrides) for job in jobs}
    if len(keys) < 2:
        return []
    return [o for o in jobs[0].overrides if all(o in key for key in keys)]


def slugify(label: str, taken: set[str]) -> str:
    """`method=gan model.pack=2` -> `method-gan_model.pack-2`; a number is added if another label gave the same."""
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", label.replace("=", "-")).strip("_") or "defaults"
    slug, i = base, 2
    while slug in taken:
        slug, i = f"{base}-{i}", i + 1
    return slug


def group_jobs(jobs: list[Job]) -> list[Group]:
    """One group per configuration, in the order of its first job; labelled by the overrides that set it apart."""
    by_overrides: dict[tuple[str, ...], list[Job]] = {}
    for job in jobs:
        by_overrides.setdefault(tuple(job.overrides), []).append(job)
    shared = shared_overrides(jobs)
    groups: list[Group] = []
    for overrides, members in by_overrides.items():
        label = " ".join(o for o in overrides if o not in shared) or "(defaults)"
        slug = slugify(label, {g.slug for g in groups})
        keys = {k for job in members for k in job.values}
        summary = {k: summarise([job.values[k] for job in members if k in job.values]) for k in keys}
        groups.append(Group(label, slug, list(overrides), members, summary))
    return groups


def metric_columns(groups: list[Group]) -> list[str]:
    """FIRST (when present), then the other metrics alphabetically, then the wall time. The raw generator's
    metrics beside an averaged one's (train.ema: raw_<metric>) stay in the JSON, out of the table."""
    keys = {k for group in groups for k in group.summary if not k.startswith(RAW)}
    rest = sorted(keys - set(FIRST) - {LAST})
    return [k for k in FIRST if k in keys] + rest + ([LAST] if LAST in keys else [])


SPREADS = {"std": "sample standard deviation (ddof=1)", "sem": "standard error of the mean (std / sqrt(n))"}


def spread_of(s: Summary, spread: str) -> float | None:
    if s.std is None:
        return None
    return s.std if spread == "std" else s.std / np.sqrt(s.n)


def cell(group: Group, key: str, spread: str = "std") -> str:
    """`mean ± std` (or ± s.e.), `–` for a metric the group lacks, `(n=k)` when only some of its seeds have it."""
    s = group.summary.get(key)
    if s is None:
        return "–"
    fmt = FORMATS.get(key, DEFAULT_FORMAT)
    value = spread_of(s, spread)
    text = f"{s.mean:{fmt}} ± " + ("–" if value is None else f"{value:{fmt}}")
    return text if s.n == len(group.jobs) else f"{text} (n={s.n})"


def table(groups: list[Group], spread: str = "std") -> tuple[list[str], list[list[str]]]:
    """The report's table as text cells: a header and one row per configuration (markdown and the CLI share it)."""
    if spread not in SPREADS:
        raise UserError(f"--spread {spread} is not known; choose one of: {', '.join(SPREADS)}")
    columns = metric_columns(groups)
    header = ["configuration", "seeds", *columns]
    return header, [[g.label, str(len(g.jobs)), *(cell(g, k, spread) for k in columns)] for g in groups]


def final_picture(job: Job) -> Path | None:
    """The picture of the last training step (`samples/step_XXXXXXX.png`), if the job wrote any."""
    pictures = sorted((job.path / "samples").glob("step_*.png"), key=lambda p: int(p.stem.split("_")[1]))
    return pictures[-1] if pictures else None


def lowest_seed_job(group: Group) -> Job:
    return min(group.jobs, key=lambda job: (job.seed is None, job.seed or 0))


def hparam_value(override):
    """TensorBoard takes bool, int, float and str: lists, dicts and null are shown as their text."""
    value = override.value()
    return value if isinstance(value, (bool, int, float, str)) else override.get_value_element_as_str()


def write_tensorboard(groups: list[Group], tb_root: Path) -> None:
    """One HParams entry per configuration under tb_root/<slug>/: its overrides, and `mean/` and `std/` of each
    metric (no `std/` from a single seed)."""
    for old in tb_root.glob("*/events.out.tfevents.*"):  # a rerun replaces, rather than duplicates, the entries
        old.unlink()
    for group in groups:
        values = {o.key_or_group: hparam_value(o) for o in parse_overrides(group.overrides)}
        metrics = {f"mean/{k}": s.mean for k, s in group.summary.items()}
        metrics.update({f"std/{k}": s.std for k, s in group.summary.items() if s.std is not None})
        tb = TensorBoard(tb_root / group.slug)
        tb.hparams_entry(values, metrics, step=0)
        tb.close()


def copy_pictures(groups: list[Group], picture_dir: Path) -> dict[str, Path]:
    """Each group's final sample picture of its lowest-seed job, as picture_dir/<slug>.png; keyed by slug."""
    pictures = {}
    for group in groups:
        source = final_picture(lowest_seed_job(group))
        if source is not None:
            picture_dir.mkdir(parents=True, exist_ok=True)
            pictures[group.slug] = picture_dir / f"{group.slug}.png"
            shutil.copyfile(source, pictures[group.slug])
    return pictures


def markdown(sweep: Path, groups: list[Group], shared: list[str], pictures: dict[str, Path], out: Path,
             spread: str = "std") -> str:
    header, rows = table(groups, spread)
    n_jobs = sum(len(g.jobs) for g in groups)
    lines = [f"# Sweep report: {sweep.name}", "",
             f"{n_jobs} finished job{'s' * (n_jobs != 1)} in {len(groups)} "
             f"configuration{'s' * (len(groups) != 1)}, from `{sweep}`."]
    if shared:
        lines.append(f"Every job also has `{' '.join(shared)}`.")
    lines += [f"Each cell: mean ± {SPREADS[spread]} over seeds.", "",
              "| " + " | ".join(header) + " |",
              "|" + "|".join([" --- ", " ---: "] + [" ---: "] * (len(header) - 2)) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    if pictures:
        lines += ["", "## Samples at the last step (lowest seed of each configuration)"]
    for group in groups:
        if group.slug in pictures:
            seed = lowest_seed_job(group).seed
            link = pictures[group.slug].relative_to(out.parent).as_posix()
            lines += ["", f"### {group.label}", "", f"![{group.label}, seed {seed}]({link})"]
    return "\n".join(lines) + "\n"


def report_json(sweep: Path, groups: list[Group], shared: list[str], pictures: dict[str, Path], out: Path) -> dict:
    return {
        "sweep": str(sweep),
        "shared_overrides": shared,
        "configurations": [{
            "label": g.label,
            "overrides": g.overrides,
            "seeds": len(g.jobs),
            "jobs": [{"folder": job.path.name, "seed": job.seed} for job in g.jobs],
            "picture": pictures[g.slug].relative_to(out.parent).as_posix() if g.slug in pictures else None,
            "metrics": {k: {"mean": s.mean, "std": s.std, "sem": spread_of(s, "sem"), "n": s.n}
                        for k, s in sorted(g.summary.items())},
        } for g in groups],
    }


def write_report(sweep_dir: str | Path, out: str | Path | None = None,
                 spread: str = "std") -> tuple[list[Group], list[Path]]:
    """Summarise a sweep and write OUT (default SWEEP_DIR/report.md), and beside it, named after it, the JSON
    (report.json), the pictures (report/) and the TensorBoard entries (report_tb/). Returns the groups and the
    paths written."""
    sweep = Path(sweep_dir).resolve()
    out_path = Path(out) if out else sweep / "report.md"
    if out_path.suffix != ".md":
        raise UserError(f"--out {out_path}: the report is markdown; give a file name ending in .md")
    jobs = collect(sweep)
    groups = group_jobs(jobs)
    shared = shared_overrides(jobs)

    picture_dir = out_path.with_suffix("")
    pictures = copy_pictures(groups, picture_dir)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(markdown(sweep, groups, shared, pictures, out_path, spread))
    json_path = out_path.with_suffix(".json")
    json_path.write_text(json.dumps(report_json(sweep, groups, shared, pictures, out_path), indent=2) + "\n")
    tb_root = out_path.with_name(f"{out_path.stem}_tb")
    write_tensorboard(groups, tb_root)
    return groups, [out_path, json_path, picture_dir, tb_root]
