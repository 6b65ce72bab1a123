"""The training loop: one function, top to bottom, in the manner of nanoGPT's train.py.

setup (seed, device, data, networks, method, optimisers, resume) -> loop (D steps, G step, log, sample,
evaluate, checkpoint) -> final evaluation. The method decides how the losses are formed; this file never asks
which method it is running.
"""

from __future__ import annotations

import logging
import math
import shutil
import time
from itertools import chain
from pathlib import Path

import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ganctl.engine import build, checkpoint
from ganctl.engine.batches import BatchSampler
from ganctl.engine.config import Config
from ganctl.engine.evaluate import EVAL_SEED_OFFSET, eval_size, evaluate, is_better, write_json
from ganctl.engine.images import sample_picture, save_png
from ganctl.engine.logging import Accumulator, TensorBoard
from ganctl.errors import UserError

log = logging.getLogger("ganctl")

# Taken from the checkpoint on resume, so the run continues the same experiment; `train`, `eval`, `metrics`,
# `device` and `name` come from the new command (e.g. a larger train.steps).
RESUMED_KEYS = ("seed", "data", "model", "method", "optim")


def main(cfg: DictConfig) -> float | None:
    """The Hydra task: train in the run folder Hydra made; return the monitored metric for sweepers."""
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        return train(cfg, run_dir)
    except UserError:
        discard_if_unused(run_dir)
        raise


def discard_if_unused(run_dir: Path) -> None:
    """Bad input found during setup: remove the folder Hydra just made for this run, but only if it holds
    nothing beyond Hydra's own files, so that no result is ever deleted."""
    if run_dir.is_dir() and {p.name for p in run_dir.iterdir()} <= {".hydra", "ganctl.log"}:
        shutil.rmtree(run_dir)


def check_train_config(cfg: DictConfig) -> None:
    for key in ("steps", "batch_size", "log_every", "sample_every", "checkpoint_every"):
        if cfg.train[key] <= 0:
            raise UserError(f"train.{key}={cfg.train[key]} must be a positive integer")
    if cfg.train.eval_every < 0:
        raise UserError(f"train.eval_every={cfg.train.eval_every} must be 0 (off) or positive")
    if cfg.eval.monitor_mode not in ("min", "max"):
        raise UserError(f"eval.monitor_mode={cfg.eval.monitor_mode} must be min or max")


def resumed_config(cfg: DictConfig) -> tuple[DictConfig, dict]:
    path = checkpoint.resolve(cfg.train.resume, "last")
    state = checkpoint.load(path)
    saved = OmegaConf.to_container(OmegaConf.create(state["config"]))
    current = OmegaConf.to_container(cfg, resolve=True)
    for key in RESUMED_KEYS:
        if current.get(key) != saved.get(key):
            log.warning("resume: %s is taken from the resumed run, not from this command", key)
    merged = {**current, **{key: saved[key] for key in RESUMED_KEYS}}
    typed = OmegaConf.merge(OmegaConf.structured(Config), merged)  # typed again, as Hydra composed it
    OmegaConf.set_struct(typed, True)
    log.info("resuming from %s at step %d", path, state["step"])
    return typed, state


def train(cfg: DictConfig, run_dir: Path) -> float | None:
    # ---- setup -------------------------------------------------------------------------------------------
    resume_state = None
    if cfg.train.resume:
        cfg, resume_state = resumed_config(cfg)
    check_train_config(cfg)
    torch.manual_seed(cfg.seed)
    device = build.device(cfg.device)
    data = build.dataset(cfg)
    method = build.method(cfg)
    g, d = build.networks(cfg, data.shape, method)
    g_side, d_side = method.modules(), method.discriminator_modules()  # extra nets, trained with G or with D
    extra = {**g_side, **d_side}
    for net in (g, d, *extra.values()):
        net.to(device)
    opt_g = build.optimizer(chain(g.parameters(), *(m.parameters() for m in g_side.values())), cfg.optim.lr_g,
                            cfg, device)
    opt_d = build.optimizer(chain(d.parameters(), *(m.parameters() for m in d_side.values())), cfg.optim.lr_d,
                            cfg, device)
    method.attach_optimizers(opt_g, opt_d)
    batches = BatchSampler(data.train.to(device), cfg.train.batch_size, seed=cfg.seed + 1)
    noise = torch.Generator(device=device).manual_seed(cfg.seed + 2)
    z_dim, batch_size = cfg.model.z_dim, batches.batch_size

    def sample_z():
        return torch.randn(batch_size, z_dim, generator=noise, device=device)

    step, best = 0, None
    if resume_state is not None:
        g.load_state_dict(resume_state["g"])
        d.load_state_dict(resume_state["d"])
        for name, net in extra.items():
            net.load_state_dict(resume_state["extra"][name])
        opt_g.load_state_dict(resume_state["opt_g"])
        opt_d.load_state_dict(resume_state["opt_d"])
        batches.load_state_dict(resume_state["batches"])
        noise.set_state(resume_state["rng"]["noise"])
        torch.set_rng_state(resume_state["rng"]["torch"])
        if device.type == "cuda" and "cuda" in resume_state["rng"]:
            torch.cuda.set_rng_state(resume_state["rng"]["cuda"], device)
        step, best = resume_state["step"], resume_state.get("best")
        if step >= cfg.train.steps:
            raise UserError(f"the resumed run is already at step {step}; set train.steps above {step} to continue")

    def state() -> dict:
        rng = {"torch": torch.get_rng_state(), "noise": noise.get_state()}
        if device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(device)
        return {
            "step": step, "best": best, "config": OmegaConf.to_yaml(cfg, resolve=True),
            "data_shape": list(data.shape), "modes": data.modes,
            "g": g.state_dict(), "d": d.state_dict(), "extra": {k: m.state_dict() for k, m in extra.items()},
            "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(), "batches": batches.state_dict(), "rng": rng,
        }

    ckpt_dir = run_dir / checkpoint.CHECKPOINT_DIR
    tb = TensorBoard(run_dir / "tb", purge_step=step or None)
    tb.config(cfg)
    log.info("run folder: %s  (device %s, data %s %s, %d steps)", run_dir, device, data.name, data.shape,
             cfg.train.steps)
    fixed_z = torch.randn(64 if data.is_image else 2500, z_dim, device=device,
                          generator=torch.Generator(device=device).manual_seed(cfg.seed + EVAL_SEED_OFFSET))

    def grad_norm(net) -> torch.Tensor:
        norms = [p.grad.norm() for p in net.parameters() if p.grad is not None]
        return torch.stack(norms).norm() if norms else torch.zeros((), device=device)

    def picture(at: int) -> None:
        g.eval()
        with torch.inference_mode():
            pic = sample_picture(g(fixed_z), data.modes)
        g.train()
        save_png(pic, run_dir / "samples" / f"step_{at:07d}.png")
        tb.picture("samples", pic, at)

    def evaluate_and_keep_best(progress: bool = False) -> dict[str, float]:
        """Score the generator; with train.eval_every, keep checkpoints/best.pt by eval.monitor. progress: a bar
        for feature extraction (not inside the training loop's own bar)."""
        nonlocal best
        metrics = evaluate(g, cfg, data, device, progress)
        value = metrics.get(cfg.eval.monitor)
        if value is None:
            log.warning("eval.monitor=%s is not among the computed metrics (%s): no best.pt, nothing for a "
                        "sweeper to minimise", cfg.eval.monitor, ", ".join(metrics))
        elif cfg.train.eval_every and is_better(value, best, cfg.eval.monitor_mode):
            best = value
            checkpoint.save(state(), ckpt_dir / "best.pt")
        return metrics

    # ---- loop --------------------------------------------------------------------------------------------
    stats = Accumulator()
    progress = Progress(TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
                        TimeRemainingColumn(), disable=not cfg.train.progress)
    task = progress.add_task("train", total=cfg.train.steps, completed=step, info="")
    t_start, t_last, step_last = time.perf_counter(), time.perf_counter(), step
    g.train()
    d.train()
    with progress:
        while step < cfg.train.steps:
            log_now = (step + 1) % cfg.train.log_every == 0 or step + 1 == cfg.train.steps

            for net in (d, *d_side.values()):
                net.requires_grad_(True)
            for _ in range(method.n_critic):
                real = batches.next()
                out_d = method.discriminator_step(g, d, real, sample_z())
                opt_d.zero_grad(set_to_none=True)
                out_d["loss"].backward()
                opt_d.step()
                method.after_discriminator_step(d)
            if log_now:
                stats.add("grad/", {"d": grad_norm(d)})

            for net in (d, *d_side.values()):
                net.requires_grad_(False)  # G's backward needs gradients through D, not for D's weights
            out_g = method.generator_step(g, d, real, sample_z())
            opt_g.zero_grad(set_to_none=True)
            out_g["loss"].backward()
            opt_g.step()
            if log_now:
                stats.add("grad/", {"g": grad_norm(g)})
            step += 1

            stats.add("loss/", {"d": out_d["loss"], "g": out_g["loss"]})
            stats.add("method/", {k: v for k, v in chain(out_d.items(), out_g.items()) if k != "loss"})

            if log_now:
                values = stats.flush()  # the only host sync of a step
                now = time.perf_counter()
                values["speed/steps_per_s"] = (step - step_last) / max(now - t_last, 1e-9)
                t_last, step_last = now, step
                tb.scalars(values, step)
                bad = [k for k, v in values.items() if not math.isfinite(v)]
                if bad:
                    raise UserError(f"training diverged at step {step}: {bad[0]} = {values[bad[0]]}; "
                                    f"the last good checkpoint is in {ckpt_dir} (lower optim.lr_d / optim.lr_g?)")
                progress.update(task, completed=step, info=f"D {values['loss/d']:.4f}  G {values['loss/g']:.4f}  "
                                                           f"{values['speed/steps_per_s']:.0f} steps/s")
            if step % cfg.train.sample_every == 0 or step == cfg.train.steps:
                picture(step)
            if cfg.train.eval_every and step % cfg.train.eval_every == 0 and step < cfg.train.steps:
                metrics = evaluate_and_keep_best()
                tb.scalars({f"metric/{k}": v for k, v in metrics.items()}, step)
            if step % cfg.train.checkpoint_every == 0 or step == cfg.train.steps:
                checkpoint.save(state(), ckpt_dir / "last.pt")
    wall = time.perf_counter() - t_start

    # ---- final evaluation --------------------------------------------------------------------------------
    result = None
    if cfg.eval.at_end:
        metrics = evaluate_and_keep_best(progress=cfg.train.progress)
        result = metrics.get(cfg.eval.monitor)
        write_json(metrics, run_dir / "metrics.json", step=step, checkpoint=str(ckpt_dir / "last.pt"),
                   n=eval_size(cfg, data), wall_time_s=round(wall, 3))
        tb.hparams(cfg, {**metrics, "wall_time_s": wall}, step)
        for key, value in metrics.items():
            log.info("%s = %.6g", key, value)
    tb.close()
    log.info("done: %d steps in %.1f s", step, wall)
    log.info("run folder:  %s", run_dir)
    log.info("checkpoint:  %s", ckpt_dir / "last.pt")
    log.info("samples:     %s", run_dir / "samples")
    if cfg.eval.at_end:
        log.info("metrics:     %s", run_dir / "metrics.json")
    log.info("TensorBoard: tensorboard --logdir %s", run_dir / "tb")
    return result
