"""Shared test helpers: compose ganctl's config as the CLI would, and run the CLI as a user would."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir

from ganctl.engine.config import CONF_DIR, register

# Small and quick on 2 CPU cores: the ring with few stored points, short evaluation.
FAST = ["data.n_train=4096", "data.n_test=512", "eval.n=512", "train.progress=false", "train.log_every=10"]


def make_config(*overrides: str):
    register()
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        return compose("config", overrides=list(overrides))


def run_cli(*args: str, cwd: Path, command: list[str] | None = None, columns: str | None = "200") -> subprocess.CompletedProcess:
    """`ganctl ARGS` in a fresh process (or `command ARGS`, e.g. torchrun's launcher in front of ganctl); stdout is a
    pipe. columns: the COLUMNS variable (None: unset, as in `ganctl ... | tee`)."""
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    env.update({"PYTHONUNBUFFERED": "1", **({"COLUMNS": columns} if columns else {})})
    return subprocess.run([*(command or [sys.executable, "-m", "ganctl"]), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(autouse=True)
def _torch_threads():
    # Tiny nets on 2 cores: one intra-op thread avoids oversubscription when pytest runs beside other work.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
