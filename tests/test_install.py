"""The built wheel is a complete ganctl: installed into a fresh virtual environment, it lists its configs, composes a
run and trains from an empty folder, with no checkout in sight."""

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(*args, cwd=None, timeout=300):
    done = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done.stdout


@pytest.mark.slow
def test_wheel_installs_and_runs_from_an_empty_folder(tmp_path):
    source = tmp_path / "source"  # a copy: an in-tree build would leave build/ and *.egg-info in the checkout
    shutil.copytree(ROOT, source, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".venv", "outputs", "build", "*.egg-info", "__pycache__", ".pytest_cache", ".hypothesis"))
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", tmp_path / "dist", source)
    (wheel,) = (tmp_path / "dist").glob("ganctl-*.whl")
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").strip())
    # The dependencies (torch, hydra, ...) come from this environment's site-packages as a plain path entry: its .pth
    # files, among them an editable install's finder for the checkout, are not read from there.
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    run(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "-q", wheel)
    ganctl = venv / "bin" / "ganctl"
    empty = tmp_path / "empty"
    empty.mkdir()

    located = run(python, "-c", "import ganctl.engine.config as c; print(c.CONF_DIR)", cwd=empty)
    assert located.strip().startswith(str(site))  # the wheel's own configs, not the checkout's
    assert "0.1.0" in run(ganctl, "--version", cwd=empty)
    listed = run(ganctl, "list", cwd=empty)
    assert "wgan_gp" in listed and "fashion_mnist" in listed
    job = run(ganctl, "train", "--cfg", "job", "method=wgan_gp", cwd=empty)
    assert "ganctl.methods.wgan_gp" in job
    run(ganctl, "train", "train.steps=20", "train.progress=false", "data.n_train=2048", "data.n_test=256", "eval.n=256",
        "hydra.run.dir=run", cwd=empty)
    assert (empty / "run" / "checkpoints" / "last.pt").is_file()
    assert (empty / "run" / "metrics.json").is_file()
