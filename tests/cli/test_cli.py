"""The CLI driven end to end as a user drives it: a subprocess per command, in a fresh working folder."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist

from ganctl.data.mixtures import ring
from tests.conftest import FAST, run_cli

QUICK = ["train.steps=20", "train.sample_every=10", *FAST]


def run_folders(root: Path) -> list[Path]:
    return sorted(p.parent for p in root.glob("outputs/*/*/.hydra") if "multirun" not in str(p))


def snapshot(root: Path) -> dict:
    """Every file under outputs/ with its size and modification time: what bad input must not touch."""
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in (root / "outputs").rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One short run shared by the tests that read it; its folder is made by Hydra as for a user."""
    root = tmp_path_factory.mktemp("cli")
    result = run_cli("train", "name=first", *QUICK, cwd=root)
    assert result.returncode == 0, result.stderr
    (run,) = run_folders(root)
    # metrics.json as training wrote it: later tests re-evaluate this run and overwrite the file
    result.metrics = json.loads((run / "metrics.json").read_text())
    return root, run, result


def test_train_writes_the_run_folder_layout(trained):
    root, run, result = trained
    assert run.parent.parent == root / "outputs" and run.name.endswith("_first")  # outputs/<date>/<time>_<name>
    assert (run / ".hydra" / "config.yaml").is_file() and (run / ".hydra" / "overrides.yaml").is_file()
    assert list((run / "tb").glob("events.out.tfevents.*"))
    assert (run / "checkpoints" / "last.pt").is_file()
    assert sorted(p.name for p in (run / "samples").glob("step_*")) == ["step_0000010.png", "step_0000020.png"]
    metrics = result.metrics
    assert metrics["step"] == 20
    assert {"modes_captured", "high_quality_pct", "reverse_kl", "wasserstein", "mmd"} <= set(metrics["metrics"])
    assert str(run) in result.stderr + result.stdout  # it says where the run is


def test_sample_writes_npz_and_evaluate_scores_exactly_those_samples(trained):
    root, run, _ = trained
    result = run_cli("sample", str(run), "-n", "300", "--out", str(root / "s.npz"), cwd=root)
    assert result.returncode == 0, result.stderr
    fake = np.load(root / "s.npz")["samples"]
    assert fake.shape == (300, 2) and (root / "s.png").is_file()

    result = run_cli("evaluate", str(run), "eval.n=300", "metrics=[wasserstein]", cwd=root)
    assert result.returncode == 0, result.stderr
    reported = json.loads((run / "metrics.json").read_text())["metrics"]
    assert set(reported) == {"wasserstein"}
    # Independent check: W1 between the first 300 held-out ring points and those same 300 samples, as an
    # optimal assignment (equal sizes, uniform weights) solved by scipy instead of POT.
    real = ring(n_train=4096, n_test=512).test[:300].double().numpy()
    cost = cdist(real, fake.astype(np.float64))
    rows, cols = linear_sum_assignment(cost)
    assert reported["wasserstein"] == pytest.approx(cost[rows, cols].mean(), rel=1e-6)
    assert "wasserstein" in result.stdout


def test_sample_best_needs_a_best_checkpoint(trained):
    root, run, _ = trained
    result = run_cli("sample", str(run), "--checkpoint", "best", cwd=root)
    assert result.returncode == 2
    assert "best.pt" in result.stderr and "train.eval_every" in result.stderr


def test_cfg_job_prints_the_composed_config(tmp_path):
    result = run_cli("train", "--cfg", "job", "method=wgan", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "_target_: ganctl.methods.wgan.Wgan" in result.stdout
    assert "name: rmsprop" in result.stdout and "lr_d: 5.0e-05" in result.stdout  # the method's paper optimiser
    assert not (tmp_path / "outputs").exists()


def test_list_names_every_choice_with_its_help(tmp_path):
    result = run_cli("list", cwd=tmp_path)
    assert result.returncode == 0
    for name in ("gan", "nsgan", "wgan", "wgan_gp", "unrolled", "dragan", "ebgan", "madgan", "mrgan", "mdgan",
                 "lsgan", "hinge", "pacgan2", "ring8", "grid25", "digits", "mnist", "cifar10", "mlp", "pacgan_mlp", "dcgan", "wasserstein", "mmd", "mode_coverage"):
        assert f"\n  {name} " in result.stdout, name
    assert "Arjovsky" in result.stdout


def test_multirun_runs_two_jobs_into_outputs_multirun(tmp_path):
    result = run_cli("train", "-m", "seed=0,1", *QUICK, "eval.at_end=false", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    jobs = sorted((tmp_path / "outputs" / "multirun").glob("*/*/[0-9]*"))
    assert [j.name for j in jobs] == ["0", "1"]
    assert ["seed=0" in (j / ".hydra" / "overrides.yaml").read_text() for j in jobs] == [True, False]
    weights = [torch.load(j / "checkpoints" / "last.pt", weights_only=True)["g"]["net.0.weight"] for j in jobs]
    assert not torch.equal(*weights)  # two different seeds really ran


def test_multirun_with_a_launcher_configured_under_conf_hydra(tmp_path):
    """conf/hydra/launcher/parallel.yaml extends Hydra's joblib launcher: configs there work unchanged."""
    result = run_cli("train", "-m", "hydra/launcher=parallel", "hydra.launcher.n_jobs=2", "method=nsgan,wgan_gp",
                     *QUICK, "eval.at_end=false", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Joblib" in result.stdout + result.stderr
    jobs = sorted((tmp_path / "outputs" / "multirun").glob("*/*/[0-9]*"))
    assert len(jobs) == 2 and all((j / "checkpoints" / "last.pt").is_file() for j in jobs)


BAD_TRAIN = [
    (["method=foo"], "unknown method 'foo'; choose one of: dragan, ebgan, gan, hinge, lsgan, madgan, mdgan, "
                     "minibatch, mrgan, nsgan, pacgan2, pacgan3, pacgan4, unrolled, wgan, wgan_gp"),
    (["data=nope"], "unknown data 'nope'; choose one of:"),
    (["train.stepz=3"], "stepz"),
    (["train.steps=abc"], "could not be converted to Integer"),
    (["train.steps=-5"], "train.steps=-5 must be a positive integer"),
    (["data=mnist", "data.path=missing/mnist"], "missing/mnist"),
    (["optim.name=sgdd"], "optim.name=sgdd is not known; choose one of: adam, rmsprop"),
    (["device=tpu"], "device=tpu is not known"),
    (["train.resume=outputs/nope"], "outputs/nope does not exist"),
]


@pytest.mark.parametrize("args, message", BAD_TRAIN, ids=[" ".join(a) for a, _ in BAD_TRAIN])
def test_train_bad_input_is_one_line_exit_2_and_loses_nothing(trained, args, message):
    root, _, _ = trained
    before = snapshot(root)
    result = run_cli("train", "train.steps=20", "train.progress=false", *args, cwd=root)  # the bad value last
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert snapshot(root) == before  # no file changed, and no half-made run folder was left behind


def test_corrupt_checkpoint_and_missing_run_are_named(trained, tmp_path):
    root, run, _ = trained
    broken = tmp_path / "broken_run"
    (broken / "checkpoints").mkdir(parents=True)
    data = (run / "checkpoints" / "last.pt").read_bytes()
    (broken / "checkpoints" / "last.pt").write_bytes(data[: len(data) // 2])  # truncated mid-write
    for command in (["sample", str(broken)], ["evaluate", str(broken)], ["train", f"train.resume={broken}"]):
        result = run_cli(*command, cwd=tmp_path)
        assert result.returncode == 2, command
        assert "corrupt" in result.stderr and str(broken / "checkpoints" / "last.pt") in result.stderr
        assert "Traceback" not in result.stderr
    empty = tmp_path / "empty_run"
    empty.mkdir()
    result = run_cli("evaluate", str(empty), cwd=tmp_path)
    assert result.returncode == 2 and "has no checkpoints/last.pt" in result.stderr


def test_evaluate_bad_overrides_are_one_line(trained):
    root, run, _ = trained
    before = snapshot(root)
    for args, message in ((["eval.nn=3"], "nn"), (["metrics=[fid_typo]"], "fid_typo"),
                          (["method=wgan"], "belongs to the run")):
        result = run_cli("evaluate", str(run), *args, cwd=root)
        assert result.returncode == 2, args
        assert message in result.stderr and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert snapshot(root) == before


def test_evaluate_run_with_selected_metrics_logs_scalars_and_hparams(trained):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    root, run, _ = trained
    result = run_cli("evaluate", str(run), "metrics=[fid,kid]", "eval.n=50000", cwd=root)
    assert result.returncode == 0, result.stderr
    assert "512 held-out real samples" in result.stderr  # eval.n is capped by the test split, with a warning
    written = json.loads((run / "metrics.json").read_text())
    assert set(written["metrics"]) == {"fid", "kid_mean", "kid_std"} and written["n"] == 512
    events = EventAccumulator(str(run / "tb"), size_guidance={"scalars": 0, "tensors": 0}).Reload()
    fid_events = events.Scalars("metric/fid")
    assert fid_events[-1].value == pytest.approx(written["metrics"]["fid"], rel=1e-6)
    assert fid_events[-1].step == written["step"]
    assert "_hparams_/session_start_info" in events.PluginTagToContent("hparams")
