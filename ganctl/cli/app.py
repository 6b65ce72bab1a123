"""The `ganctl` command: Typer on the outside, Hydra on the inside.

`train` hands its extra arguments to Hydra's own entry point unchanged, so overrides, `-m` sweeps, launchers,
sweepers and `--cfg job` behave as in any Hydra app. Bad input of any kind becomes one line on stderr and exit
code 2; only genuine bugs show a traceback.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ganctl.errors import UserError

PASS_THROUGH = {"allow_extra_args": True, "ignore_unknown_options": True}
GROUPS = ("data", "model", "method", "metrics", "experiment", "modes")

app = typer.Typer(
    name="ganctl",
    help="Train, sample and evaluate GANs. Configs live in conf/; any Hydra override works after a command.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_show_locals=False,
)
err = Console(stderr=True)


def stdout() -> Console:
    """Standard output. Into a pipe or a file Rich would assume 80 columns and cut table cells (`ganctl report DIR |
    tee report.txt`); there, lines are as wide as their content needs."""
    return Console() if sys.stdout.isatty() else Console(width=100_000)


def print_version(value: bool) -> None:
    if value:
        import ganctl

        stdout().print(f"ganctl {ganctl.__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def options(version: bool = typer.Option(False, "--version", callback=print_version, is_eager=True,
                                         help="Print the version and exit.")) -> None:
    """Train, sample and evaluate GANs. Configs live in conf/; any Hydra override works after a command."""


def fail(message: str) -> None:
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    # SystemExit, not typer.Exit: it must pass through Hydra's job runner, which catches every Exception.
    raise SystemExit(2)


def one_line(text) -> str:
    """errors.one_line for the CLI's own messages, and for Hydra's and OmegaConf's errors, which span several lines
    (full_key, object_type, hints): keep the informative ones, joined by "; "."""
    noise = ("object_type", "reference_type", "Set the environment variable", "explicit_type", "Config search path",
             "provider=")
    lines, key = [], ""
    for line in (ln.strip() for ln in str(text).splitlines()):
        if line.startswith("full_key:"):
            key = line.split(":", 1)[1].strip()
        elif line and not line.startswith(noise):
            lines.append(line)
    message = "; ".join(lines)
    return f"{message} (key: {key})" if key and key not in message else message


def group_choices(group: str) -> list[str]:
    from ganctl.engine.config import CONF_DIR

    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))


@contextlib.contextmanager
def user_errors():
    """Turn every kind of bad input into `fail()`; let anything else raise with its traceback."""
    from hydra.errors import HydraException, MissingConfigException
    from omegaconf.errors import OmegaConfBaseException

    try:
        yield
    except UserError as e:
        fail(str(e))
    except MissingConfigException as e:
        group, _, choice = (e.missing_cfg_file or "").rpartition("/")
        options = e.options or (group_choices(group) if group else [])
        if options:  # unknown choice in a config group: name the known ones
            fail(f"unknown {group} '{choice}'; choose one of: {', '.join(sorted(options))}")
        fail(one_line(e))
    except (HydraException, OmegaConfBaseException) as e:
        cause = e.__cause__
        message = one_line(e)
        if cause is not None and one_line(cause) not in message:
            message += f"; {one_line(cause)}"
        fail(message)
    except OSError as e:  # after Hydra's: its MissingConfigException is an OSError too
        # An output folder that cannot be made or written, a full disk: the environment, not a bug.
        where = f"{e.filename}: " if e.filename else ""
        fail(one_line(f"{where}{e.strerror or e} (is the folder writable and the disk not full? hydra.run.dir=PATH "
                      f"chooses another run folder)"))


def run_hydra(task, overrides: list[str]) -> None:
    """Call `hydra.main` with the overrides as its command line: Hydra makes the run folders and sweeps."""
    import hydra

    from ganctl.engine.config import CONF_DIR, register

    register()

    def guarded_task(cfg):
        with user_errors():  # inside the job, so Hydra adds no "Error executing job" report of its own
            return task(cfg)

    # Hydra prints its own multi-line report and exits 1 unless this is set; we want the exception instead.
    os.environ["HYDRA_FULL_ERROR"] = "1"
    sys.argv = ["ganctl", *overrides]
    with user_errors():
        hydra.main(config_path=str(CONF_DIR), config_name="config", version_base="1.3")(guarded_task)()


@app.command(context_settings=PASS_THROUGH)
def train(ctx: typer.Context) -> None:
    """Train a GAN. Extra arguments are Hydra overrides:

    [bold]ganctl train method=wgan_gp data=ring8 train.steps=5000[/]
    [bold]ganctl train -m method=gan,nsgan,wgan,wgan_gp seed=0,1,2[/]   (a sweep; add hydra/launcher=joblib to run in parallel)
    [bold]ganctl train train.resume=outputs/2026-11-25/10-00-00 train.steps=4000[/]
    [bold]ganctl train --cfg job method=wgan[/]   (print the composed config)
    """
    def task(cfg):
        from ganctl.engine import train as engine_train  # torch loads only once the config composed cleanly

        return engine_train.main(cfg)

    from ganctl.engine import ranks  # torch-free: a data-parallel worker's own Hydra folder

    run_hydra(task, ranks.hydra_overrides(list(ctx.args)))


GENERATOR_HELP = ("auto: the averaged generator when the run had train.ema > 0, else G; ema: the averaged one; "
                  "raw: G's own weights.")


@app.command()
def sample(
    run_dir: str = typer.Argument(..., help="A run folder made by `ganctl train` (or a checkpoint .pt file)."),
    n: int = typer.Option(2500, "-n", "--n", help="Number of samples."),
    out: str | None = typer.Option(None, "--out", "-o", help="Output .npz (default: RUN_DIR/samples/...)."),
    checkpoint: str = typer.Option("last", "--checkpoint", "-c", help="last, best, or a path to a .pt file."),
    generator: str = typer.Option("auto", "--generator", "-g", help=GENERATOR_HELP),
) -> None:
    """Write N samples of a run's generator as .npz, plus a picture (image grid or 2-D density)."""
    with user_errors():
        from ganctl.engine import runs

        npz, png = runs.sample(run_dir, n, out, checkpoint, generator)
    stdout().print(f"samples: {npz}\npicture: {png}")


@app.command(context_settings=PASS_THROUGH)
def evaluate(
    ctx: typer.Context,
    run_dir: str | None = typer.Argument(None, help="A run folder made by `ganctl train`."),
    checkpoint: str | None = typer.Option(None, "--checkpoint", "-c",
                                          help="last (default), best, or a path to a .pt file."),
    real: str | None = typer.Option(None, "--real", help="Real samples, without a run: a folder of images, a "
                                    ".npy/.npz array or an IDX file."),
    fake: str | None = typer.Option(None, "--fake", help="Generated samples to score against --real (same formats)."),
    out: str | None = typer.Option(None, "--out", "-o", help="With --real/--fake: the metrics file "
                                   "(default: ./metrics.json)."),
    generator: str = typer.Option("auto", "--generator", "-g", help=GENERATOR_HELP),
) -> None:
    """Evaluate a run against held-out real data, or two sets of samples; print a table and write metrics.json.

    [bold]ganctl evaluate RUN_DIR [OVERRIDES][/] writes RUN_DIR/metrics.json and the run's TensorBoard;
    [bold]ganctl evaluate --real PATH --fake PATH [OVERRIDES] [--out FILE][/] writes ./metrics.json.
    Extra arguments are overrides: [bold]eval.n=5000[/], [bold]metrics=[fid,kid,is][/],
    [bold]metrics.features=inception metrics.inception_weights=PATH[/], [bold]data.path=/datasets/mnist[/].
    """
    overrides = list(ctx.args)
    with user_errors():
        from ganctl.engine import runs

        if real is not None or fake is not None:
            # Typer hands the first extra argument to the optional RUN_DIR. With sample files every positional
            # argument is a Hydra override (key=value, +key=value, ~key), so it goes back in front of the others.
            if run_dir is not None and ("=" in run_dir or run_dir.startswith("~")):
                overrides, run_dir = [run_dir, *overrides], None
            if run_dir is not None or checkpoint is not None:
                raise UserError("give either a run folder (ganctl evaluate RUN_DIR [--checkpoint ...]) or two sample "
                                "sets (ganctl evaluate --real PATH --fake PATH), not both")
            if real is None or fake is None:
                raise UserError("--real and --fake go together: ganctl evaluate --real PATH --fake PATH")
            metrics, path = runs.evaluate_files(real, fake, overrides, out or "metrics.json")
        else:
            if run_dir is None:
                raise UserError("give a run folder (ganctl evaluate RUN_DIR) or two sample sets "
                                "(ganctl evaluate --real PATH --fake PATH)")
            if out is not None:
                raise UserError("--out goes with --real/--fake; a run's metrics are written to RUN_DIR/metrics.json")
            metrics, path = runs.evaluate_run(run_dir, overrides, checkpoint or "last", generator)
    table = Table()  # no title: a long run path would wrap it into pieces
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in metrics.items():
        table.add_row(key, f"{value:.6g}")
    stdout().print(table)
    stdout().print(f"written: {path}")


@app.command()
def report(
    sweep_dir: str = typer.Argument(..., help="A `ganctl train -m` sweep folder: outputs/multirun/<date>/<time>."),
    out: str | None = typer.Option(None, "--out", "-o", help="The markdown report (default: SWEEP_DIR/report.md)."),
    spread: str = typer.Option("std", "--spread", help="std: sample standard deviation over seeds; sem: standard "
                               "error of the mean (std / sqrt(n)), as the papers' tables."),
) -> None:
    """Compare a sweep's configurations: mean ± std (or s.e.) over seeds of every metric, one row per configuration.

    Writes the table as markdown (with a sample picture per configuration) and JSON, and TensorBoard HParams
    entries: [bold]tensorboard --logdir SWEEP_DIR/report_tb[/].
    """
    with user_errors():
        from ganctl.analysis import report as report_lib

        groups, paths = report_lib.write_report(sweep_dir, out, spread)
        header, rows = report_lib.table(groups, spread)
    table = Table()
    for i, name in enumerate(header):
        table.add_column(name, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*(escape(c) for c in row))
    stdout().print(table)
    stdout().print("written:\n" + "\n".join(f"  {p}" for p in paths), highlight=False)


@app.command()
def plot(
    run_dirs: list[str] = typer.Argument(..., help="Run folders made by `ganctl train` (their tb/ is read)."),
    out: str | None = typer.Option(None, "--out", "-o", help="The PNG (default: RUN_DIR/curves.png for one run, "
                                   "./curves.png for several); the correlations go beside it as .json."),
    metric: str | None = typer.Option(None, "--metric", "-m", help="The metric to plot and correlate with "
                                      "(metric/NAME; default: each run's eval.monitor)."),
    from_step: int = typer.Option(0, "--from-step", help="Correlate only the evaluations at this step or later "
                                  "(leave out the first steps' transient); the picture still shows all."),
) -> None:
    """Plot each run's losses, WGAN critic estimate and an evaluation metric against the step, and measure how
    well each curve tracks the metric: Pearson and Spearman correlation over the metric's evaluation steps.

    [bold]ganctl plot outputs/2026-11-25/10-00-00 outputs/2026-11-25/11-00-00 --out curves.png[/]
    """
    with user_errors():
        from ganctl.analysis import plot as plot_lib

        runs, paths = plot_lib.plot(run_dirs, out, metric, from_step)
    caption = "loss at each evaluation step: the value logged at that step or the nearest before it"
    if from_step:
        caption += f"; evaluations before step {from_step} left out"
    table = Table(caption=caption, caption_justify="left")
    for name in ("run", "curve", "metric", "n", "Pearson r", "p", "Spearman ρ", "p"):
        table.add_column(name, justify="left" if name in ("run", "curve", "metric") else "right")

    def number(value: float | None, fmt: str) -> str:
        return "–" if value is None else f"{value:{fmt}}"

    for run in runs:
        for tag, c in run.correlations.items():
            table.add_row(escape(run.label), tag, run.metric, str(c.n), number(c.pearson, "+.3f"),
                          number(c.pearson_p, ".2g"), number(c.spearman, "+.3f"), number(c.spearman_p, ".2g"))
    stdout().print(table)
    stdout().print("written:\n" + "\n".join(f"  {p}" for p in paths), highlight=False)


@app.command(context_settings=PASS_THROUGH)
def classifier(ctx: typer.Context) -> None:
    """Train the small CNN that classifier-based metrics read images with, on a labelled data set, and save it
    (default: outputs/classifiers/<data name>.pt). Extra arguments are Hydra overrides:

    [bold]ganctl classifier data=mnist data.path=/datasets/mnist[/]   (what metrics=[stacked_mnist_modes] loads)
    [bold]ganctl classifier data=digits classifier.epochs=20 classifier.out=digits.pt[/]
    """
    with user_errors():
        from ganctl.engine import classifier as engine_classifier

        accuracy, path = engine_classifier.main(list(ctx.args))
    stdout().print(f"test accuracy: {accuracy:.4f}\nsaved: {path}", highlight=False)


def help_line(path: Path) -> str:
    """The first comment line of a config file that is not a Hydra package directive."""
    for line in path.read_text().splitlines():
        if line.startswith("#") and not line.startswith("# @package"):
            return line.lstrip("# ").strip()
    return ""


@app.command("list")
def list_choices() -> None:
    """The methods, data sets, networks and metrics that can be named, one line of help each."""
    from ganctl.engine.config import CONF_DIR

    for group in GROUPS:
        table = Table(title=f"{group}=", title_justify="left", show_header=False, box=None, padding=(0, 2))
        for path in sorted((CONF_DIR / group).glob("*.yaml")):
            table.add_row(f"[bold]{path.stem}[/]", help_line(path))
        stdout().print(table)
        stdout().print()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from ganctl.engine import ranks

    if not ranks.launched():
        app()
        return
    code = 0  # a data-parallel worker (torchrun or trainer.devices): leave without the C++ teardown
    try:
        app()
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    from ganctl.engine.distributed import exit_worker

    exit_worker(code)
