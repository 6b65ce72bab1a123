"""`ganctl plot`: a hand-written TensorBoard log with known series; alignment, correlations, files, bad input."""

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image
from scipy import stats
from torch.utils.tensorboard import SummaryWriter

from ganctl.analysis import plot
from ganctl.errors import UserError
from tests.conftest import run_cli

# Losses every 10 steps (log_every = 10), the metric at irregular steps: 5 lies before the first loss (dropped),
# 45 between two loss steps (takes step 40's loss), 100 is logged twice (a later evaluation: the last value counts).
LOSS_STEPS = list(range(10, 101, 10))
LOSS_D = [0.3, 0.1, 0.4, 0.1, 0.5, 0.9, 0.2, 0.6, 0.5, 0.3]
# loss/g is 2 * metric + 1 at the paired steps 20, 40, 60, 80, 100 and far off elsewhere, so any other pairing
# breaks the exact linear relation.
LOSS_G = [50.0, 9.0, 50.0, 7.0, 50.0, 6.0, 50.0, 3.0, 50.0, 2.0]
METRIC = [(5, 9.0), (20, 4.0), (45, 3.0), (60, 2.5), (80, 1.0), (100, 0.7), (100, 0.5)]
# The pairs, worked out by hand from the rule "loss at the metric's step or the nearest before it".
PAIRED_STEPS = [20, 45, 60, 80, 100]
PAIRED_METRIC = [4.0, 3.0, 2.5, 1.0, 0.5]
PAIRED_D = [0.1, 0.1, 0.9, 0.6, 0.3]  # loss/d at steps 20, 40, 60, 80, 100


def critic(metric: float) -> float:
    """A monotone but not linear function of the metric: Spearman's rho is exactly 1, Pearson's r below 1."""
    return float(np.exp(metric))


def f32(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float32).astype(np.float64)  # TensorBoard stores scalars as float32


def write_run(run: Path, critic_logged: bool = True, monitor: str = "wasserstein") -> Path:
    writer = SummaryWriter(str(run / "tb"))
    for step, d, g in zip(LOSS_STEPS, LOSS_D, LOSS_G):
        writer.add_scalar("loss/d", d, step)
        writer.add_scalar("loss/g", g, step)
        if critic_logged:
            metric_at = dict(zip([20, 40, 60, 80, 100], PAIRED_METRIC))
            writer.add_scalar("method/wasserstein", critic(metric_at.get(step, 0.0)), step)
    for step, value in METRIC:
        writer.add_scalar("metric/wasserstein", value, step)
    writer.add_scalar("metric/mmd", 1.0, 100)
    writer.close()
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "config.yaml").write_text(yaml.safe_dump({"eval": {"monitor": monitor}}))
    (run / ".hydra" / "hydra.yaml").write_text(yaml.safe_dump(
        {"hydra": {"runtime": {"choices": {"method": "wgan_gp", "data": "ring8"}}}}))
    return run


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return write_run(tmp_path_factory.mktemp("run"))


def test_plot_pairs_each_metric_step_with_the_loss_at_or_before_it(run_dir):
    run = plot.load_run(run_dir)
    assert run.metric == "wasserstein"  # the run's eval.monitor
    assert run.label == "wgan_gp on ring8"
    for tag in ("loss/d", "loss/g", "method/wasserstein", "metric/wasserstein"):
        assert run.aligned[tag].steps.tolist() == PAIRED_STEPS
    np.testing.assert_array_equal(run.aligned["metric/wasserstein"].values, f32(PAIRED_METRIC))
    np.testing.assert_array_equal(run.aligned["loss/d"].values, f32(PAIRED_D))
    # the whole series stays in the picture, including the step-5 point and the repeated step once
    assert run.series["metric/wasserstein"].steps.tolist() == [5, 20, 45, 60, 80, 100]


def test_plot_correlations_equal_scipy_on_the_hand_paired_arrays(run_dir):
    run = plot.load_run(run_dir)
    metric = f32(PAIRED_METRIC)
    expected = {"loss/d": f32(PAIRED_D), "loss/g": f32([2 * m + 1 for m in PAIRED_METRIC]),
                "method/wasserstein": f32([critic(m) for m in PAIRED_METRIC])}
    for tag, x in expected.items():
        c = run.correlations[tag]
        assert c.n == 5
        assert c.pearson == pytest.approx(stats.pearsonr(x, metric).statistic, abs=1e-12)
        assert c.pearson_p == pytest.approx(stats.pearsonr(x, metric).pvalue, abs=1e-12)
        assert c.spearman == pytest.approx(stats.spearmanr(x, metric).statistic, abs=1e-12)
    # closed forms: an exact line (up to float32 storage) and a monotone curve
    assert run.correlations["loss/g"].pearson == pytest.approx(1.0, abs=1e-6)
    assert run.correlations["method/wasserstein"].spearman == pytest.approx(1.0, abs=1e-12)
    assert run.correlations["method/wasserstein"].pearson < 0.99
    # loss/d by hand: ranks of d (0.1, 0.1, 0.9, 0.6, 0.3) = 1.5, 1.5, 5, 4, 3 and of the metric 5, 4, 3, 2, 1;
    # deviations from the mean rank 3: sum dx*dy = -5.5, sum dx^2 = 9.5, sum dy^2 = 10
    assert run.correlations["loss/d"].spearman == pytest.approx(-5.5 / np.sqrt(9.5 * 10), abs=1e-12)


def test_plot_from_step_leaves_out_earlier_evaluations(run_dir):
    run = plot.load_run(run_dir, from_step=45)
    assert run.aligned["loss/d"].steps.tolist() == PAIRED_STEPS[1:]
    expected = stats.spearmanr(f32(PAIRED_D[1:]), f32(PAIRED_METRIC[1:])).statistic
    assert run.correlations["loss/d"].n == 4
    assert run.correlations["loss/d"].spearman == pytest.approx(expected, abs=1e-12)


def test_plot_writes_png_and_json_with_the_same_numbers(run_dir, tmp_path):
    out = tmp_path / "figs" / "curves.png"
    runs, paths = plot.plot([str(run_dir), str(run_dir)], out, metric="metric/wasserstein")
    assert paths == [out, out.with_suffix(".json")]
    with Image.open(out) as image:
        assert image.format == "PNG" and image.width > 800 and image.height > 400
    saved = json.loads(out.with_suffix(".json").read_text())
    assert len(saved["runs"]) == 2 and "nearest step before" in saved["alignment"]
    first = saved["runs"][0]
    assert first["steps"] == PAIRED_STEPS
    assert first["values"]["loss/d"] == f32(PAIRED_D).tolist()
    assert first["correlations"]["loss/d"]["spearman"] == runs[0].correlations["loss/d"].spearman


def test_plot_other_metric_and_too_few_points_give_no_correlation(tmp_path):
    run = plot.load_run(write_run(tmp_path / "run", critic_logged=False), metric="mmd")  # one point, at step 100
    assert run.curves == ["loss/d", "loss/g"]
    assert run.correlations["loss/d"].n == 1 and run.correlations["loss/d"].pearson is None


def test_plot_bad_out_suffix_is_refused(run_dir, tmp_path):
    with pytest.raises(UserError, match="ending in .png"):
        plot.plot([str(run_dir)], tmp_path / "curves.pdf")


def test_plot_cli_missing_folder_and_unknown_metric_are_one_line_exit_2(run_dir, tmp_path):
    missing = run_cli("plot", str(tmp_path / "nowhere"), cwd=tmp_path)
    assert missing.returncode == 2
    assert missing.stderr.strip().count("\n") == 0 and "nowhere: no such folder" in missing.stderr
    unknown = run_cli("plot", str(run_dir), "--metric", "fid", cwd=tmp_path)
    assert unknown.returncode == 2
    assert unknown.stderr.strip().count("\n") == 0
    assert "no metric/fid" in unknown.stderr and "mmd, wasserstein" in unknown.stderr
    assert not (run_dir / "curves.png").exists()
