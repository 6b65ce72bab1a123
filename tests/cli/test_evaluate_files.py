"""`ganctl evaluate --real PATH --fake PATH`: two sets of samples scored without a run, as a user runs it."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.datasets import load_digits
from typer.testing import CliRunner

from ganctl.cli.app import app
from ganctl.engine import runs
from ganctl.engine.runs import evaluate_files
from ganctl.metrics.inception import WEIGHTS_URL
from tests.conftest import run_cli
from tests.metrics.test_fid import scipy_fid


def digit_pixels() -> np.ndarray:
    """scikit-learn's 8x8 digits as uint8 images (1797, 8, 8)."""
    return (load_digits().images * 255 / 16).round().astype(np.uint8)


def test_evaluate_real_fake_arrays_writes_metrics_json_here(tmp_path):
    pixels = digit_pixels()
    np.savez(tmp_path / "real.npz", x=pixels[:300])
    np.savez(tmp_path / "fake.npz", x=pixels[300:600])
    result = run_cli("evaluate", "--real", "real.npz", "--fake", "fake.npz", "metrics=[fid,is]", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    written = json.loads((tmp_path / "metrics.json").read_text())  # the default --out
    assert written["n"] == 300 and written["features"] == "raw" and written["real"] == str(tmp_path / "real.npz")
    # Independent: FID by scipy's sqrtm on the flattened pixels scaled as ganctl scales uint8 images.
    real, fake = (torch.from_numpy(p.reshape(300, 64) / 127.5 - 1) for p in (pixels[:300], pixels[300:600]))
    assert written["metrics"] == {"fid": pytest.approx(scipy_fid(real, fake), rel=1e-6)}
    assert "metric is: skipped" in result.stderr and "metrics.features=classifier or inception" in result.stderr
    assert "fid" in result.stdout


def test_evaluate_image_folder_against_an_array_of_the_same_pixels(tmp_path):
    pixels = digit_pixels()[:80]  # more samples than the 64 pixel dimensions (no FID warning)
    (tmp_path / "images").mkdir()
    for i, image in enumerate(pixels):
        Image.fromarray(image, mode="L").save(tmp_path / "images" / f"{i:03d}.png")
    np.save(tmp_path / "same.npy", pixels)
    np.save(tmp_path / "shifted.npy", np.roll(pixels, 1, axis=2))
    result = run_cli("evaluate", "--real", "images", "--fake", "same.npy", "metrics=[fid]", "--out", "out/m.json",
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    written = json.loads((tmp_path / "out" / "m.json").read_text())
    # Greyscale PNGs are read as one channel, so the two sets have one shape; the same pixels give FID 0 (up to
    # float64 rounding), the same pixels shifted by one column a clearly positive value.
    assert written["n"] == 80 and written["metrics"]["fid"] == pytest.approx(0.0, abs=1e-9)
    shifted, _ = evaluate_files(str(tmp_path / "images"), str(tmp_path / "shifted.npy"), ["metrics=[fid]"],
                                str(tmp_path / "shifted.json"))
    assert shifted["fid"] > 1.0


def test_evaluate_missing_inception_weights_is_one_line_exit_2(tmp_path):
    np.save(tmp_path / "x.npy", digit_pixels()[:10])
    result = run_cli("evaluate", "--real", "x.npy", "--fake", "x.npy", "metrics=[fid]", "metrics.features=inception",
                     "metrics.inception_weights=weights/inception.pth", cwd=tmp_path)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr, result.stderr
    for part in ("no Inception weights at", "weights/inception.pth", WEIGHTS_URL):  # where it looked, where to get it
        assert part in result.stderr
    assert not (tmp_path / "metrics.json").exists()


@pytest.mark.parametrize("args, message", [
    (["RUN", "--real", "x.npy", "--fake", "x.npy"], "not both"),
    (["RUN", "--real", "x.npy", "--fake", "x.npy", "--checkpoint", "best"], "not both"),
    (["--real", "x.npy"], "--real and --fake go together"),
    ([], "give a run folder"),
])
def test_evaluate_run_and_sample_sets_are_exclusive(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "RUN").mkdir()
    result = CliRunner().invoke(app, ["evaluate", *args])
    assert result.exit_code == 2 and message in result.stderr and result.exception.__class__ is SystemExit
    assert len(result.stderr.strip().splitlines()) == 1


def test_evaluate_sample_sets_read_positional_arguments_as_overrides_by_their_syntax(tmp_path, monkeypatch):
    # A folder named like the override exists: the argument is still an override, not a run folder.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "eval.n=100").mkdir()
    seen = {}

    def fake_evaluate_files(real, fake, overrides, out):
        seen.update(real=real, fake=fake, overrides=overrides)
        return {"fid": 1.0}, Path(out)

    monkeypatch.setattr(runs, "evaluate_files", fake_evaluate_files)
    result = CliRunner().invoke(app, ["evaluate", "--real", "a.npy", "--fake", "b.npy", "eval.n=100", "~metrics"])
    assert result.exit_code == 0, result.stderr
    assert seen == {"real": "a.npy", "fake": "b.npy", "overrides": ["eval.n=100", "~metrics"]}
