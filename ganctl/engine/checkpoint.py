"""Checkpoints: written atomically, checksummed, read with `weights_only=True`.

A checkpoint is a plain dict of tensors, numbers and strings (state dicts, optimiser states, RNG states, the
step, the effective config as YAML), so `torch.load(..., weights_only=True)` reads it and a run folder from
someone else cannot execute code on load.

Two keys are added on save: `ganctl_format` (bumped when the layout changes, so a run folder from another
version is named as such) and `sha256`, a digest of every other entry. torch's zip reader does not verify its
CRCs, so a flipped byte inside a tensor would otherwise load silently as a wrong weight.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import signal
from contextlib import contextmanager
from pathlib import Path

import torch

from ganctl.errors import UserError

CHECKPOINT_DIR = "checkpoints"
FORMAT = 2  # 1: session-1 layout, without the two keys below
FORMAT_KEY, CHECKSUM_KEY = "ganctl_format", "sha256"
# A training run's checkpoints, newest first: `last.pt` is replaced on every save, the one it replaces becomes
# `previous.pt`, and `best.pt` is the best evaluation so far.
RUN_CHECKPOINTS = ("last.pt", "previous.pt", "best.pt")

log = logging.getLogger("ganctl")


def digest(state) -> str:
    """SHA-256 over the entries of a (nested) checkpoint dict: tensors by dtype, shape and bytes, everything
    else by repr. Lists and tuples hash alike: pickling keeps them apart but the distinction carries no data."""
    h = hashlib.sha256()

    def walk(x) -> None:
        if isinstance(x, torch.Tensor):
            t = x.detach().cpu().contiguous().reshape(-1)
            h.update(f"T{t.dtype}{tuple(x.shape)}".encode())
            h.update(t.view(torch.uint8).numpy().tobytes())
        elif isinstance(x, dict):
            h.update(b"{")
            for key in sorted(x, key=repr):
                h.update(repr(key).encode())
                walk(x[key])
            h.update(b"}")
        elif isinstance(x, (list, tuple)):
            h.update(b"[")
            for item in x:
                walk(item)
            h.update(b"]")
        else:
            h.update(repr(x).encode())

    walk({k: v for k, v in state.items() if k != CHECKSUM_KEY})
    return h.hexdigest()


@contextmanager
def signals_held():
    """Hold SIGINT/SIGTERM over a few renames, so that even a second Ctrl-C cannot land between them."""
    held = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def save(state: dict, path: Path, previous: Path | None = None) -> None:
    """Write to a temporary file in the same folder, fsync, then rename over `path`: a crash leaves either the
    previous complete checkpoint or the new complete one, never a half-written file. With `previous`, the file
    being replaced is kept under that name (the fallback when `path` is found damaged later)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    payload = {**state, FORMAT_KEY: FORMAT}
    payload[CHECKSUM_KEY] = digest(payload)
    try:
        with open(tmp, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        with signals_held():
            if previous is not None and path.exists():
                os.replace(path, previous)
            os.replace(tmp, path)
        _fsync_folder(path.parent)  # the renames themselves survive a power cut
    except OSError as e:
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            raise UserError(f"the disk is full: cannot write checkpoint {path}; the previous checkpoint is kept "
                            f"intact; free some space and resume with train.resume={path.parent.parent}") from None
        raise UserError(f"cannot write checkpoint {path}: {e.strerror or e}; the previous checkpoint is kept") from None
    finally:
        tmp.unlink(missing_ok=True)  # only left if something failed before the rename


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def load(path: Path) -> dict:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise UserError(f"checkpoint {path} does not exist") from None
    except Exception as e:  # truncated zip, foreign pickle, random bytes: all mean "not a usable checkpoint"
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(f"checkpoint {path} is corrupt or not a ganctl checkpoint ({reason[:200]})") from None
    if isinstance(state, dict) and CHECKSUM_KEY in state and digest(state) != state[CHECKSUM_KEY]:
        raise UserError(f"checkpoint {path} is corrupt: its contents do not match the checksum written with it "
                        f"(the file was damaged after it was saved)")
    return state


def load_run_state(path: Path) -> dict:
    """A training checkpoint (`ganctl train`'s last/previous/best.pt), checked to be one this version reads."""
    state = load(path)
    if not isinstance(state, dict) or "config" not in state or "g" not in state:
        raise UserError(f"checkpoint {path} is not a ganctl training checkpoint (no config or generator weights)")
    written = state.get(FORMAT_KEY, 1)
    if written != FORMAT:
        age = "an older" if written < FORMAT else "a newer"
        raise UserError(f"checkpoint {path} was written by {age} version of ganctl (checkpoint format {written}; "
                        f"this version reads format {FORMAT}); use the ganctl version that trained it, or train again")
    return state


def newest_good(run_or_file: str | Path) -> tuple[Path, dict]:
    """The checkpoint to resume from: a .pt file as given, or a run folder's newest checkpoint that loads and
    passes its checksum. A damaged `last.pt` is named and the next newest good one (previous.pt, best.pt) is
    used instead, with a warning saying so."""
    target = Path(run_or_file)
    if target.is_file():
        return target, load_run_state(target)
    if not has_checkpoint(target):
        resolve(target, "last")  # raises the one-line reason: no such folder, or a run that saved nothing
    problems, good = [], []
    for name in RUN_CHECKPOINTS:
        path = target / CHECKPOINT_DIR / name
        if not path.is_file():
            continue
        try:
            good.append((path, load_run_state(path)))
        except UserError as e:
            problems.append(str(e))
            log.warning("%s", e)
        if name == "last.pt" and good:
            return good[0]  # the usual case: last.pt is fine, nothing else is read
    if not good:
        raise UserError(f"no usable checkpoint in {target / CHECKPOINT_DIR}: " + "; ".join(problems))
    path, state = max(good, key=lambda item: item[1]["step"])
    log.warning("resume: falling back to %s (step %d), the newest good checkpoint in %s", path, state["step"],
                target / CHECKPOINT_DIR)
    return path, state


def has_checkpoint(run_dir: Path) -> bool:
    return run_dir.is_dir() and any((run_dir / CHECKPOINT_DIR / name).is_file() for name in RUN_CHECKPOINTS)


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
