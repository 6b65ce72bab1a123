"""Checkpoints: written atomically, read with `weights_only=True`.

A checkpoint is a plain dict of tensors, numbers and strings (state dicts, optimiser states, RNG states, the
step, the effective config as YAML), so `torch.load(..., weights_only=True)` reads it and a run folder from
someone else cannot execute code on load.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from ganctl.errors import UserError

CHECKPOINT_DIR = "checkpoints"


def save(state: dict, path: Path) -> None:
    """Write to a temporary file in the same folder, fsync, then rename over `path`: a crash leaves either the
    previous complete checkpoint or the new complete one, never a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)  # only left if something failed before the rename


def load(path: Path) -> dict:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise UserError(f"checkpoint {path} does not exist") from None
    except Exception as e:  # truncated zip, foreign pickle, random bytes: all mean "not a usable checkpoint"
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(f"checkpoint {path} is corrupt or not a ganctl checkpoint ({reason[:200]})") from None


def resolve(run_or_file: str | Path, which: str = "last") -> Path:
    """A checkpoint file from a run folder and `last`/`best`, or a path to a .pt file itself."""
    target = Path(run_or_file)
    if which not in ("last", "best"):
        target = Path(which)
        if not target.is_file():
            raise UserError(f"checkpoint {target} does not exist; use --checkpoint last, best or a .pt file")
        return target
    if target.is_file():
        return target
    if not target.is_dir():
        raise UserError(f"run folder {target} does not exist; pass a folder under outputs/ made by `ganctl train`")
    path = target / CHECKPOINT_DIR / f"{which}.pt"
    if not path.is_file():
        hint = "train with train.eval_every=N to keep a best checkpoint" if which == "best" else "was it trained?"
        raise UserError(f"run folder {target} has no {CHECKPOINT_DIR}/{which}.pt ({hint})")
    return path
