"""Which process of a data-parallel run this is, read from the environment that torchrun (or `trainer.devices=N`,
engine/distributed.py) sets, and what that means for the process's Hydra folder. Torch-free, so that the CLI can
ask before it loads torch."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

# Ranks other than 0 neither write Hydra's files nor its log into the run folder.
QUIET_WORKER = ["hydra.output_subdir=null", "hydra/job_logging=disabled"]


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def launched() -> bool:
    """True inside a process started by torchrun or by `trainer.devices=N`."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def hydra_overrides(overrides: list[str]) -> list[str]:
    """Every rank runs the same `ganctl train ...` command. Ranks other than 0 get a throw-away Hydra folder (in
    place of any hydra.run.dir) and no Hydra log, so that only rank 0 writes the run folder's .hydra/ and
    ganctl.log; the training loop then takes rank 0's run folder (engine/distributed.py). Rank 0 and a process
    outside a data-parallel run get their overrides back unchanged."""
    this = rank()
    if this == 0:
        return overrides
    overrides = [o for o in overrides if not o.startswith("hydra.run.dir=")]
    folder = tempfile.mkdtemp(prefix=f"ganctl-rank{this}-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return [*overrides, f"hydra.run.dir={folder}", *QUIET_WORKER]
