"""Reopening a finished run: its checkpoint, effective config and generator, for `sample` and `evaluate`; and
`evaluate --real PATH --fake PATH`, which scores two sets of samples without a run."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf
from torch import nn

from ganctl.data.files import read_samples
from ganctl.engine import build, checkpoint, ema
from ganctl.engine.config import CONF_DIR, Config, register
from ganctl.engine.evaluate import EVAL_SEED_OFFSET, eval_size, evaluate, generate, score, write_json
from ganctl.engine.images import sample_picture, save_png
from ganctl.engine.logging import TensorBoard
from ganctl.errors import UserError, one_line

# `ganctl evaluate RUN metrics=[...]` re-selects from this config group; other groups belong to the run.
SELECTABLE_GROUPS = ("metrics",)
FIXED_GROUPS = ("data", "model", "method")

log = logging.getLogger("ganctl")


@dataclass
class Run:
    path: Path
    checkpoint: Path
    state: dict
    cfg: DictConfig
    g: nn.Module
    device: torch.device


def apply_overrides(cfg: DictConfig, overrides: list[str]) -> DictConfig:
    """The run's own config, typed by the schema, with `key=value` overrides; `metrics=[a,b]` re-selects
    metrics through Hydra (so the choices and their errors are Hydra's)."""
    register()
    # metrics.features and the other settings beside the metric nodes, for runs saved before they existed
    defaults = metric_settings(OmegaConf.load(CONF_DIR / "config.yaml").metrics)
    cfg = OmegaConf.merge(OmegaConf.structured(Config), {"metrics": defaults}, cfg)
    OmegaConf.set_struct(cfg, True)
    values, groups = [], []
    for item in overrides:
        key = item.split("=", 1)[0].lstrip("+~")
        if "=" not in item:
            raise UserError(f"override '{item}' is not of the form key=value (e.g. eval.n=5000)")
        if key in FIXED_GROUPS:
            raise UserError(f"'{item}': {key} belongs to the run and cannot change here; override its keys "
                            f"instead (e.g. data.path=/new/location)")
        (groups if key in SELECTABLE_GROUPS else values).append(item)
    # Hydra's and OmegaConf's own errors (unknown key, wrong type, unknown metric) propagate: the CLI shows
    # them as one line, a notebook user gets the exception.
    if groups:
        with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
            selected = compose("config", overrides=groups).metrics
        selected.merge_with(metric_settings(cfg.metrics))  # the run's own metrics.features etc. stay
        cfg.metrics = selected
    cfg.merge_with_dotlist(values)
    return cfg


def metric_settings(metrics: DictConfig) -> dict:
    """The keys of a `metrics` node that are settings (metrics.features, ...), not metrics with a `_target_`."""
    return {k: v for k, v in metrics.items() if not (isinstance(v, DictConfig) and "_target_" in v)}


GENERATORS = ("auto", "ema", "raw")


def open_run(run_dir: str | Path, which: str = "last", overrides: list[str] = (), generator: str = "auto") -> Run:
    """The run's generator from a checkpoint. generator: ema (the averaged G of train.ema), raw (G's own
    weights) or auto (the averaged G where the run kept one, as training sampled and scored it)."""
    if generator not in GENERATORS:
        raise UserError(f"--generator {generator} is not known; choose one of: {', '.join(GENERATORS)}")
    path = checkpoint.resolve(run_dir, which)
    state = checkpoint.load_run_state(path)
    if generator == "ema" and "g_ema" not in state:
        raise UserError(f"{path} holds no averaged generator (the run had train.ema=0); use --generator raw")
    cfg = apply_overrides(OmegaConf.create(state["config"]), list(overrides))
    device = build.device(cfg.device)
    g, _ = build.networks(cfg, tuple(state["data_shape"]), build.method(cfg))
    weights = state["g"] if generator == "raw" or "g_ema" not in state else ema.generator_state(state["g_ema"])
    try:
        g.load_state_dict(weights)
    except RuntimeError as e:
        raise UserError(f"checkpoint {path} does not fit the generator its config describes: "
                        f"{one_line(e, 200)}") from None
    run_path = Path(run_dir) if Path(run_dir).is_dir() else path.parent.parent
    return Run(run_path, path, state, cfg, g.to(device), device)


def sample(run_dir: str, n: int, out: str | None, which: str, generator: str = "auto") -> tuple[Path, Path]:
    """n samples as .npz (array `samples`, plus the step) and a picture beside it.

    They come from the evaluation noise stream, so they are exactly the samples `ganctl evaluate eval.n=n`
    scores: a user can recompute any metric from the file."""
    if n <= 0:
        raise UserError(f"-n {n}: the number of samples must be positive")
    run = open_run(run_dir, which, generator=generator)
    samples = generate(run.g, n, run.cfg.model.z_dim, run.device, run.cfg.seed + EVAL_SEED_OFFSET).cpu()
    out_path = Path(out) if out else run.path / "samples" / f"samples_step{run.state['step']:07d}_n{n}.npz"
    if out_path.suffix != ".npz":
        raise UserError(f"--out {out_path}: samples are written as .npz; give a file name ending in .npz")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out_path, samples=samples.numpy(), step=run.state["step"])
    picture_path = out_path.with_suffix(".png")
    save_png(sample_picture(samples, run.state.get("modes")), picture_path)
    return out_path, picture_path


def evaluate_run(run_dir: str, overrides: list[str], which: str = "last",
                 generator: str = "auto") -> tuple[dict[str, float], Path]:
    run = open_run(run_dir, which, overrides, generator)
    torch.manual_seed(run.cfg.seed)
    data = build.dataset(run.cfg)
    if tuple(data.shape) != tuple(run.state["data_shape"]):
        raise UserError(f"data {data.name} has samples of shape {data.shape} but the run was trained on "
                        f"{tuple(run.state['data_shape'])}; point data.path at the run's data")
    metrics = evaluate(run.g, run.cfg, data, run.device, progress=True)
    out = run.path / "metrics.json"
    write_json(metrics, out, step=run.state["step"], checkpoint=str(run.checkpoint), n=eval_size(run.cfg, data),
               features=run.cfg.metrics.features)
    tb = TensorBoard(run.path / "tb")
    tb.hparams(run.cfg, metrics, run.state["step"])  # also logs each metric/<key> as a scalar at the run's step
    tb.close()
    return metrics, out


def evaluate_files(real_path: str, fake_path: str, overrides: list[str], out: str) -> tuple[dict[str, float], Path]:
    """Score the samples at fake_path against those at real_path (a folder of images, a .npy/.npz array or an IDX
    file each), with conf/config.yaml and `overrides` (metrics=[...], metrics.features=..., eval.n, device);
    write the metrics to `out` (.json). The first min(eval.n, sizes) samples of each set are scored, so the two
    sets are the same size, as for a run."""
    out_path = Path(out)
    if out_path.suffix != ".json":
        raise UserError(f"--out {out_path}: metrics are written as JSON; give a file name ending in .json")
    register()
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=list(overrides))
    if cfg.eval.n <= 0:
        raise UserError(f"eval.n={cfg.eval.n} must be positive")
    torch.manual_seed(cfg.seed)
    device = build.device(cfg.device)
    real, fake = read_samples(real_path), read_samples(fake_path)
    if real.shape[1:] != fake.shape[1:]:
        raise UserError(f"--real {real_path} holds samples of shape {tuple(real.shape[1:])} and --fake {fake_path} "
                        f"{tuple(fake.shape[1:])}; both sets must have one shape (and channel count)")
    n = min(cfg.eval.n, len(real), len(fake))
    if n < max(len(real), len(fake)):
        log.info("scoring the first %d samples of each set (--real holds %d, --fake %d; eval.n=%d)", n, len(real),
                 len(fake), cfg.eval.n)
    real_file = str(Path(real_path).expanduser().absolute())
    source = {"data": {"path": real_file}, "split": "all", "n": n}
    metrics = score(cfg.metrics, real[:n], fake[:n], {}, device, source, progress=True)
    write_json(metrics, out_path, real=real_file, fake=str(Path(fake_path).expanduser().absolute()), n=n,
               features=cfg.metrics.features)
    return metrics, out_path
