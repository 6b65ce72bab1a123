"""`ganctl report`: a hand-made sweep with known numbers, summarised per configuration over seeds."""

import json
import logging
import statistics
from pathlib import Path

import pytest
import yaml
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2

from ganctl.analysis import report
from ganctl.errors import UserError
from tests.conftest import FAST, run_cli

# Two configurations x three seeds. Folders 2, 3, 4 and 10, 11, 12: sorted as text, "10" would come first.
# Metric values are chosen so that mean and sample std (ddof=1) are round numbers, written out below.
JOBS = {
    "2": (["method=nsgan", "seed=0", "train.steps=100"], dict(modes_captured=8, high_quality_pct=60, reverse_kl=0.05,
                                                              wasserstein=0.1, mmd=0.011), 10.0),
    "3": (["method=nsgan", "seed=1", "train.steps=100"], dict(modes_captured=7, high_quality_pct=70, reverse_kl=0.06,
                                                              wasserstein=0.2, mmd=0.013), 12.0),
    "4": (["method=nsgan", "seed=2", "train.steps=100"], dict(modes_captured=6, high_quality_pct=80, reverse_kl=0.07,
                                                              wasserstein=0.3, mmd=0.018), 14.0),
    "10": (["method=wgan_gp", "optim.lr_g=1e-4", "seed=2", "train.steps=100"],
           dict(modes_captured=2, high_quality_pct=20, reverse_kl=0.5, wasserstein=0.9, mmd=0.05), 30.0),
    "11": (["method=wgan_gp", "optim.lr_g=1e-4", "seed=0", "train.steps=100"],
           dict(modes_captured=4, high_quality_pct=25, reverse_kl=0.7, wasserstein=1.1, mmd=0.06), 33.0),
    "12": (["method=wgan_gp", "optim.lr_g=1e-4", "seed=1", "train.steps=100"],
           dict(modes_captured=3, high_quality_pct=30, reverse_kl=0.6, wasserstein=1.3, mmd=0.07), 36.0),
}
UNFINISHED = "5"


def write_png(path: Path, grey: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (2, 2), (grey, grey, grey)).save(path)


def make_sweep(root: Path) -> Path:
    """Job folders as a Hydra multirun leaves them: overrides, metrics.json, two sample pictures each."""
    for folder, (overrides, metrics, wall) in JOBS.items():
        job = root / folder
        (job / ".hydra").mkdir(parents=True)
        (job / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
        (job / "metrics.json").write_text(json.dumps({"step": 100, "checkpoint": "x", "n": 500, "wall_time_s": wall,
                                                      "metrics": {k: float(v) for k, v in metrics.items()}}))
        write_png(job / "samples" / "step_0000050.png", 0)
        write_png(job / "samples" / "step_0000100.png", int(folder) * 10)  # each job's final picture differs
    (root / UNFINISHED / ".hydra").mkdir(parents=True)
    (root / UNFINISHED / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(JOBS["2"][0]))
    return root


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> Path:
    root = make_sweep(tmp_path_factory.mktemp("sweep"))
    report.write_report(root)
    return root


def test_collect_skips_a_job_without_metrics_and_names_it(tmp_path, caplog):
    root = make_sweep(tmp_path)
    with caplog.at_level(logging.WARNING, logger="ganctl"):
        jobs = report.collect(root)
    assert [job.path.name for job in jobs] == ["2", "3", "4", "10", "11", "12"]  # job order, numerically
    assert str(root / UNFINISHED) in caplog.text and "metrics.json" in caplog.text


def test_report_groups_by_overrides_without_seed_in_first_job_order(sweep):
    groups = report.group_jobs(report.collect(sweep))
    assert [g.label for g in groups] == ["method=nsgan", "method=wgan_gp optim.lr_g=1e-4"]  # shared steps dropped
    assert [[job.seed for job in g.jobs] for g in groups] == [[0, 1, 2], [2, 0, 1]]


def test_report_means_and_stds_match_an_independent_computation(sweep):
    groups = report.group_jobs(report.collect(sweep))
    for group, folders in zip(groups, (["2", "3", "4"], ["10", "11", "12"])):
        assert set(group.summary) == {*JOBS["2"][1], "wall_time_s"}
        for key, s in group.summary.items():
            values = [JOBS[f][2] if key == "wall_time_s" else JOBS[f][1][key] for f in folders]
            assert s.mean == pytest.approx(statistics.mean(values), rel=1e-12)
            assert s.std == pytest.approx(statistics.stdev(values), rel=1e-12)  # stdlib: n - 1 in the denominator
            assert s.n == 3


def test_report_markdown_rows_and_pictures(sweep):
    text = (sweep / "report.md").read_text()
    assert ("| configuration | seeds | modes_captured | high_quality_pct | reverse_kl | mmd | wasserstein | "
            "wall_time_s |") in text
    # Written by hand: mmd of nsgan is 0.014 ± sqrt(13e-6) = 0.0036056, 4 significant digits.
    assert ("| method=nsgan | 3 | 7.0 ± 1.0 | 70.0 ± 10.0 | 0.060 ± 0.010 | 0.014 ± 0.003606 | 0.2 ± 0.1 | "
            "12.0 ± 2.0 |") in text
    assert ("| method=wgan_gp optim.lr_g=1e-4 | 3 | 3.0 ± 1.0 | 25.0 ± 5.0 | 0.600 ± 0.100 | 0.06 ± 0.01 | "
            "1.1 ± 0.2 | 33.0 ± 3.0 |") in text
    assert "train.steps=100" in text  # named once, as shared by every job
    assert "![method=nsgan, seed 0](report/method-nsgan.png)" in text
    # The lowest seed of wgan_gp is job 11; its final (step 100) picture is the one copied.
    copied = sweep / "report" / "method-wgan_gp_optim.lr_g-1e-4.png"
    assert copied.read_bytes() == (sweep / "11" / "samples" / "step_0000100.png").read_bytes()


def test_report_json_holds_the_same_numbers(sweep):
    written = json.loads((sweep / "report.json").read_text())
    nsgan, wgan_gp = written["configurations"]
    assert written["shared_overrides"] == ["train.steps=100"]
    assert nsgan["label"] == "method=nsgan" and nsgan["seeds"] == 3
    assert nsgan["jobs"] == [{"folder": "2", "seed": 0}, {"folder": "3", "seed": 1}, {"folder": "4", "seed": 2}]
    assert nsgan["metrics"]["modes_captured"] == pytest.approx({"mean": 7.0, "std": 1.0, "sem": 1 / 3**0.5, "n": 3})
    assert wgan_gp["metrics"]["wall_time_s"] == pytest.approx({"mean": 33.0, "std": 3.0, "sem": 3 / 3**0.5, "n": 3})
    assert wgan_gp["overrides"] == ["method=wgan_gp", "optim.lr_g=1e-4", "train.steps=100"]
    assert wgan_gp["picture"] == "report/method-wgan_gp_optim.lr_g-1e-4.png"


def test_report_tensorboard_has_one_hparams_entry_per_configuration(sweep):
    runs = sorted(p.name for p in (sweep / "report_tb").iterdir())
    assert runs == ["method-nsgan", "method-wgan_gp_optim.lr_g-1e-4"]
    events = EventAccumulator(str(sweep / "report_tb" / "method-wgan_gp_optim.lr_g-1e-4"))
    events.Reload()
    assert events.Scalars("mean/reverse_kl")[0].value == pytest.approx(0.6, rel=1e-6)  # float32 in the event file
    assert events.Scalars("std/wasserstein")[0].value == pytest.approx(0.2, rel=1e-6)
    content = events.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    hparams = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info.hparams
    assert hparams["method"].string_value == "wgan_gp"
    assert hparams["optim.lr_g"].number_value == pytest.approx(1e-4)
    assert "seed" not in hparams


def test_report_single_seed_has_no_std(tmp_path):
    (tmp_path / "0" / ".hydra").mkdir(parents=True)
    (tmp_path / "0" / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(["seed=4"]))
    (tmp_path / "0" / "metrics.json").write_text(json.dumps({"wall_time_s": 1.25, "metrics": {"wasserstein": 0.5}}))
    groups, _ = report.write_report(tmp_path)
    assert report.table(groups) == (["configuration", "seeds", "wasserstein", "wall_time_s"],
                                    [["(defaults)", "1", "0.5 ± –", "1.2 ± –"]])
    (written,) = json.loads((tmp_path / "report.json").read_text())["configurations"]
    assert written["metrics"]["wasserstein"] == {"mean": 0.5, "std": None, "sem": None, "n": 1}


def test_collect_refuses_a_missing_folder_and_a_sweep_without_finished_jobs(tmp_path):
    with pytest.raises(UserError, match="no such folder"):
        report.collect(tmp_path / "nowhere")
    (tmp_path / "0" / ".hydra").mkdir(parents=True)
    (tmp_path / "0" / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(["seed=0"]))
    with pytest.raises(UserError, match="no job .* has finished"):
        report.collect(tmp_path)


def test_cli_report_prints_the_table_and_the_paths(tmp_path):
    root = make_sweep(tmp_path / "sweep")
    result = run_cli("report", str(root), "--out", str(tmp_path / "out" / "cmp.md"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "7.0 ± 1.0" in result.stdout and "method=wgan_gp optim.lr_g=1e-4" in result.stdout
    for written in ("cmp.md", "cmp.json", "cmp/method-nsgan.png", "cmp_tb/method-nsgan"):
        assert (tmp_path / "out" / written).exists()
    assert str(tmp_path / "out" / "cmp.md") in result.stdout
    assert "skipped" in result.stderr and str(root / UNFINISHED) in result.stderr


def test_cli_report_missing_folder_is_one_line_and_exit_2(tmp_path):
    result = run_cli("report", str(tmp_path / "nowhere"), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "nowhere" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.slow  # ~20 s on 2 idle CPU cores: trains two 20-step jobs
def test_cli_report_on_a_real_sweep(tmp_path):
    """Two short jobs of a real multirun: the report's means are those jobs' own metrics.json values."""
    result = run_cli("train", "-m", "seed=0,1", "train.steps=20", "train.sample_every=10", *FAST, "eval.n=100",
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (sweep,) = (tmp_path / "outputs" / "multirun").glob("*/*")
    result = run_cli("report", str(sweep), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    written = json.loads((sweep / "report.json").read_text())
    (group,) = written["configurations"]
    recorded = yaml.safe_load((sweep / "0" / ".hydra" / "overrides.yaml").read_text())
    assert group["label"] == " ".join(o for o in recorded if not o.startswith("seed="))  # one configuration: all
    values = [json.loads((sweep / job / "metrics.json").read_text())["metrics"]["wasserstein"] for job in ("0", "1")]
    assert group["metrics"]["wasserstein"]["mean"] == pytest.approx(statistics.mean(values), rel=1e-12)
    assert (sweep / group["picture"]).read_bytes() == (sweep / "0" / "samples" / "step_0000020.png").read_bytes()


def test_report_standard_error_and_raw_metrics_out_of_the_table(tmp_path):
    root = make_sweep(tmp_path / "sweep")
    metrics = root / "2" / "metrics.json"  # the raw generator's numbers beside an averaged one's (train.ema)
    payload = json.loads(metrics.read_text())
    payload["metrics"]["raw_wasserstein"] = 9.0
    metrics.write_text(json.dumps(payload))
    groups, _ = report.write_report(root, spread="sem")
    text = (root / "report.md").read_text()
    # modes of nsgan are 6, 7, 8: std 1, standard error 1 / sqrt(3) = 0.577
    assert "| method=nsgan | 3 | 7.0 ± 0.6 |" in text
    assert "standard error of the mean" in text
    assert "raw_wasserstein" not in text
    saved = json.loads((root / "report.json").read_text())["configurations"][0]["metrics"]
    assert saved["modes_captured"]["sem"] == pytest.approx(1 / 3**0.5)
    assert saved["raw_wasserstein"]["mean"] == 9.0


def test_cli_report_into_a_pipe_keeps_every_configuration_whole(tmp_path):
    root = make_sweep(tmp_path / "sweep")
    done = run_cli("report", str(root), cwd=tmp_path, columns=None)  # stdout is a pipe here
    assert done.returncode == 0, done.stderr
    assert "method=wgan_gp optim.lr_g=1e-4" in done.stdout
    assert "…" not in done.stdout
