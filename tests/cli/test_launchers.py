"""Sweeps through the launcher and sweeper configs in conf/hydra/, run by the CLI as a user runs them.

Each launcher must change where a job runs, never what it computes: its jobs are checked against the same jobs
run one after another by Hydra's basic launcher, checkpoint file against checkpoint file, byte for byte.
"""

import json
import os
import re
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf
from submitit.core.utils import pickle_load

from ganctl.engine.config import CONF_DIR, register
from tests.conftest import run_cli

# A few seconds per job on 2 CPU cores; the cost of a sweep is mostly process start-up (torch, plugins).
QUICK = ["train.steps=20", "train.threads=1", "train.sample_every=10", "data.n_train=1024", "data.n_test=256", "eval.n=256",
         "train.progress=false", "train.log_every=10"]
MONITOR = "wasserstein"  # conf/config.yaml's eval.monitor: the value every job returns to the sweeper
FAKE_SLURM = Path(__file__).with_name("fake_slurm.py")


def sweep(cwd: Path, *overrides: str, into: str | None = "sweep") -> tuple[Path, str]:
    """`ganctl train -m OVERRIDES` in cwd, into cwd/`into` (None: Hydra's default folder); returns the sweep
    folder and the command's output."""
    cwd.mkdir(parents=True, exist_ok=True)
    where = [f"hydra.sweep.dir={into}"] if into else []
    result = run_cli("train", "-m", *where, *overrides, *QUICK, cwd=cwd)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (sweep_dir,) = [cwd / into] if into else cwd.glob("outputs/multirun/*/*")
    return sweep_dir, result.stdout + result.stderr


def jobs(sweep_dir: Path) -> list[Path]:
    return sorted((p for p in sweep_dir.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))


def metrics(job: Path) -> dict[str, float]:
    return json.loads((job / "metrics.json").read_text())["metrics"]


def checkpoint_bytes(job: Path) -> bytes:
    return (job / "checkpoints" / "last.pt").read_bytes()


def submitit_result(sweep_dir: Path, job_id: str):
    """The value a job handed back through submitit's result pickle, loaded as the launcher loads it."""
    outcome, job_return = pickle_load(sweep_dir / ".submitit" / job_id / f"{job_id}_0_result.pkl")
    assert outcome == "success", job_return
    return job_return.return_value


def compose_hydra(*overrides: str):
    register()
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        return compose("config", overrides=list(overrides), return_hydra_config=True)


@pytest.fixture(scope="module")
def sequential(tmp_path_factory) -> list[Path]:
    """The reference: seeds 0 and 1 run in turn, in the ganctl process, by Hydra's basic launcher."""
    sweep_dir, _ = sweep(tmp_path_factory.mktemp("sequential"), "seed=0,1")
    runs = jobs(sweep_dir)
    assert [j.name for j in runs] == ["0", "1"]
    assert checkpoint_bytes(runs[0]) != checkpoint_bytes(runs[1])  # two seeds: the comparisons below can fail
    return runs


def assert_same_runs(runs: list[Path], reference: list[Path]) -> None:
    assert [j.name for j in runs] == [j.name for j in reference[: len(runs)]]
    for job, ref in zip(runs, reference):
        assert checkpoint_bytes(job) == checkpoint_bytes(ref), job  # weights, optimisers, RNG states, config
        # Bitwise because every job runs with train.threads=1 (QUICK): joblib's workers otherwise get fewer torch
        # threads than the parent process, and float sums then round differently.
        assert metrics(job) == pytest.approx(metrics(ref), rel=1e-12, abs=1e-15)


def test_parallel_launcher_runs_two_jobs_at_once_with_the_sequential_results(tmp_path, sequential):
    sweep_dir, output = sweep(tmp_path, "hydra/launcher=parallel", "hydra.launcher.n_jobs=2", "seed=0,1")
    assert "Joblib.Parallel(n_jobs=2," in output and "is launching 2 jobs" in output
    assert_same_runs(jobs(sweep_dir), sequential)


def test_slurm_and_local_launchers_compose_with_our_job_shape():
    cfg = compose_hydra("hydra/launcher=slurm", "hydra.sweep.dir=/scratch/sweep")
    slurm = OmegaConf.to_container(cfg.hydra.launcher, resolve=True)
    assert slurm["_target_"] == "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher"
    # one training process per array task: the engine's own data parallelism (trainer.devices) starts the rest
    assert slurm["nodes"] == slurm["tasks_per_node"] == 1
    assert slurm["submitit_folder"] == "/scratch/sweep/.submitit/%j"  # logs and pickles beside the runs

    cfg = compose_hydra("hydra/launcher=local", "hydra.sweep.dir=/scratch/sweep")
    local = OmegaConf.to_container(cfg.hydra.launcher, resolve=True)
    assert local["_target_"] == "hydra_plugins.hydra_submitit_launcher.submitit_launcher.LocalLauncher"
    shape = ("timeout_min", "tasks_per_node", "gpus_per_node", "submitit_folder")
    assert {k: local[k] for k in shape} == {k: slurm[k] for k in shape}  # a local trial of the SLURM jobs


@pytest.mark.parametrize("mode, direction", [("min", "minimize"), ("max", "maximize")])
def test_search_sweeper_optimises_in_the_direction_of_eval_monitor_mode(mode, direction):
    sweeper = compose_hydra("hydra/sweeper=search", f"eval.monitor_mode={mode}").hydra.sweeper
    assert sweeper._target_ == "hydra_plugins.hydra_optuna_sweeper.optuna_sweeper.OptunaSweeper"
    assert sweeper.direction == direction
    cfg = compose_hydra("hydra/sweeper=search")
    for key in sweeper.params:  # every searched key is a key of ganctl's config (a renamed key fails here)
        assert OmegaConf.select(cfg, key) is not None, key


def test_slurm_launcher_writes_the_sbatch_script_and_its_tasks_run_the_jobs(tmp_path, sequential, monkeypatch):
    """submitit's SLURM executor, driven through hydra/launcher=slurm, against a stand-in sbatch/srun/sacct
    (tests/cli/fake_slurm.py) that runs the submitted script's array tasks on this machine."""
    bin_dir, state = tmp_path / "bin", tmp_path / "slurm_state"
    bin_dir.mkdir()
    state.mkdir()
    for tool in ("sbatch", "srun", "sacct"):
        (bin_dir / tool).write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE_SLURM}" {tool} "$@"\n')
        (bin_dir / tool).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_SLURM_DIR", str(state))

    sweep_dir, _ = sweep(tmp_path / "run", "hydra/launcher=slurm", "hydra.launcher.partition=gpu", "seed=0,1")

    (script,) = sweep_dir.glob(".submitit/*/*_submission.sh")
    job_id = script.parent.name
    lines = script.read_text().splitlines()
    logs = f"{sweep_dir}/.submitit/%A_%a/%A_%a_0_log"  # %A: the array's job id, %a: the task (= Hydra job number)
    assert {line for line in lines if line.startswith("#SBATCH")} == {
        "#SBATCH --array=0-1%2",  # two jobs, both at once (array_parallelism 16 caps larger sweeps)
        "#SBATCH --partition=gpu",
        "#SBATCH --gpus-per-node=1",
        "#SBATCH --cpus-per-task=4",
        "#SBATCH --mem=32GB",
        "#SBATCH --time=240",
        "#SBATCH --nodes=1",
        "#SBATCH --ntasks-per-node=1",
        "#SBATCH --job-name=ganctl",
        f"#SBATCH --output={logs}.out",
        f"#SBATCH --error={logs}.err",
        "#SBATCH --signal=USR2@120",  # submitit's warning before the time limit
        "#SBATCH --open-mode=append",
        "#SBATCH --wckey=submitit",
    }
    # The task runs submitit's job runner with the submitting interpreter, on the pickles in the sweep folder.
    assert lines[-1].startswith("srun --unbuffered --output ")
    assert lines[-1].endswith(f" {sys.executable} -u -m submitit.core._submit {sweep_dir}/.submitit/%j")

    runs = jobs(sweep_dir)
    assert_same_runs(runs, sequential)
    for a, job in enumerate(runs):
        assert submitit_result(sweep_dir, f"{job_id}_{a}") == metrics(job)[MONITOR]  # read back through submitit
        assert "Job completed successfully" in (sweep_dir / ".submitit" / f"{job_id}_{a}" / f"{job_id}_{a}_0_log.out"
                                                ).read_text()


def test_local_launcher_runs_a_job_through_submitit_and_reads_its_result_back(tmp_path, sequential):
    # Hydra's default folder, outputs/multirun/<date>/<time>: the job, started seconds later in another
    # process, must still land in the folder the sweep made (Hydra pickles its resolved ${now:...} with it).
    sweep_dir, output = sweep(tmp_path, "hydra/launcher=local", "seed=0", into=None)
    assert "Submitit 'local' sweep output dir" in output
    assert sweep_dir.parent.parent == tmp_path / "outputs" / "multirun"
    (run,) = jobs(sweep_dir)
    assert (run / "checkpoints" / "last.pt").is_file() and (run / "metrics.json").is_file()
    assert_same_runs([run], sequential)
    (result,) = sweep_dir.glob(".submitit/*/*_0_result.pkl")  # LocalExecutor names the job by its process id
    assert submitit_result(sweep_dir, result.parent.name) == metrics(run)[MONITOR]


def test_optuna_search_reports_the_trial_with_the_lowest_monitored_metric(tmp_path):
    # eval.monitor=mmd, not the default wasserstein: on these three trials the two pick different winners, so
    # the test tells a search that ranks by eval.monitor from one that ranks by anything else (or takes trial 0).
    sweep_dir, output = sweep(tmp_path, "hydra/sweeper=search", "hydra.sweeper.n_trials=3", "eval.monitor=mmd")
    assert "Sampler: TPESampler" in output and "Directions: ['minimize']" in output
    results = OmegaConf.to_container(OmegaConf.load(sweep_dir / "optimization_results.yaml"))

    trials = jobs(sweep_dir)
    assert [j.name for j in trials] == ["0", "1", "2"]
    values = [metrics(j)["mmd"] for j in trials]
    params = []
    for job in trials:
        optim = OmegaConf.load(job / ".hydra" / "config.yaml").optim  # what the trial really trained with
        params.append({"optim.lr_g": optim.lr_g, "optim.lr_d": optim.lr_d, "optim.beta1": optim.beta1})
        # the search space of conf/hydra/sweeper/search.yaml
        assert 1e-5 <= optim.lr_g <= 1e-3 and 1e-5 <= optim.lr_d <= 1e-3 and 0.0 <= optim.beta1 <= 0.9
    assert len({tuple(p.values()) for p in params}) == 3 and len(set(values)) == 3
    best = values.index(min(values))
    assert results["best_value"] == min(values)
    assert results["best_params"] == params[best]
    others = [metrics(j)["wasserstein"] for j in trials]
    assert best not in (0, others.index(min(others)))  # the premise of the first comment


def test_optuna_search_with_no_monitored_value_fails_without_a_result(tmp_path):
    """eval.monitor=fid is not computed by the default metrics: the job returns None, which Optuna cannot rank.
    The job says why, and the search ends in an error instead of reporting a best trial."""
    cwd = tmp_path / "run"
    cwd.mkdir()
    result = run_cli("train", "-m", "hydra.sweep.dir=sweep", "hydra/sweeper=search", "hydra.sweeper.n_trials=1",
                     "eval.monitor=fid", *QUICK, cwd=cwd)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert re.search(r"eval\.monitor=fid is not among the computed metrics \(modes_captured, .*wasserstein", output)
    assert (cwd / "sweep" / "0" / "checkpoints" / "last.pt").is_file()  # the trial trained; only its value is missing
    assert not (cwd / "sweep" / "optimization_results.yaml").exists()
