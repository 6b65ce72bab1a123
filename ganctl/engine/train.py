"""The training loop, top to bottom, in the manner of nanoGPT's train.py.

setup (seed, device, data, networks, method, optimisers, resume) -> loop (D steps, G step, log, sample,
evaluate, checkpoint) -> final evaluation. The method decides how the losses are formed; this file never asks
which method it is running.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import signal
import time
from contextlib import ExitStack
from itertools import chain
from pathlib import Path

import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ganctl.engine import build, checkpoint, distributed, ema, faults, features, speed
from ganctl.engine.batches import BatchSampler
from ganctl.engine.config import Config
from ganctl.engine.evaluate import EVAL_SEED_OFFSET, eval_size, evaluate, is_better, write_json
from ganctl.engine.images import sample_picture, save_png
from ganctl.engine.interrupt import StopOnSignal, StopVote, exit_code
from ganctl.engine.logging import Accumulator, TensorBoard
from ganctl.engine.ranks import rank as process_rank
from ganctl.errors import UserError

log = logging.getLogger("ganctl")

# Taken from the checkpoint on resume, so the run continues the same experiment; `train`, `eval`, `metrics`,
# `device` and `name` come from the new command (e.g. a larger train.steps).
RESUMED_KEYS = ("seed", "data", "model", "method", "optim")
# Training settings that the new command may change on resume, but that change the run's course if they do (the
# image recipe's precision and length follow the processor, so a run resumed on another machine can differ here).
COURSE_KEYS = ("precision", "steps", "lr_decay", "cooldown", "batch_size", "batch_unit", "schedule", "ema")


def main(cfg: DictConfig) -> float | None:
    """The Hydra task: train in the run folder Hydra made; return the monitored metric for sweepers."""
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        searching = not HydraConfig.get().sweeper._target_.endswith(".BasicSweeper")  # e.g. Optuna minimising
        if searching and not cfg.eval.at_end:
            raise UserError("eval.at_end=false leaves the sweeper nothing to optimise: set eval.at_end=true")
        if cfg.trainer.devices > 1 and not distributed.launched():
            result = train_on_devices(cfg, run_dir)
        else:
            result = train(cfg, run_dir)
        if searching and result is None and process_rank() == 0:  # ranks > 0 return None
            raise UserError(f"eval.monitor={cfg.eval.monitor} is not among the computed metrics: the sweeper has "
                            f"nothing to optimise; add it to metrics=[...] or choose another eval.monitor")
        return result
    except UserError:
        discard_if_unused(run_dir)
        raise
    finally:
        distributed.teardown()


def train_on_devices(cfg: DictConfig, run_dir: Path) -> float | None:
    """`trainer.devices=N`: run this same job as N data-parallel processes in this run folder, then hand back
    the monitored metric that rank 0 wrote."""
    distributed.check_devices(cfg.trainer.devices, build.device(cfg.device), cfg.train.batch_size)
    overrides = list(HydraConfig.get().overrides.task)
    log.info("launching %d processes (torch.distributed, %s) into %s", cfg.trainer.devices,
             "nccl" if build.device(cfg.device).type == "cuda" else "gloo", run_dir)
    code = distributed.launch(cfg.trainer.devices, overrides, str(run_dir))
    if code:
        raise SystemExit(code)  # the failing rank has already said why, in one line
    metrics = run_dir / "metrics.json"
    if not cfg.eval.at_end or not metrics.is_file():
        return None
    import json

    return json.loads(metrics.read_text())["metrics"].get(cfg.eval.monitor)


def discard_if_unused(run_dir: Path) -> None:
    """Bad input found during setup: remove the folder Hydra just made for this run, but only if it holds
    nothing beyond Hydra's own files, so that no result is ever deleted."""
    if run_dir.is_dir() and {p.name for p in run_dir.iterdir()} <= {".hydra", "ganctl.log"}:
        shutil.rmtree(run_dir)
        with contextlib.suppress(OSError):  # and outputs/<date>/ if this run was its only one
            run_dir.parent.rmdir()


def check_train_config(cfg: DictConfig) -> None:
    for key in ("steps", "batch_size", "log_every", "sample_every", "checkpoint_every"):
        if cfg.train[key] <= 0:
            raise UserError(f"train.{key}={cfg.train[key]} must be a positive integer")
    if cfg.train.eval_every < 0:
        raise UserError(f"train.eval_every={cfg.train.eval_every} must be 0 (off) or positive")
    if cfg.eval.n <= 0:
        raise UserError(f"eval.n={cfg.eval.n} must be positive")
    if cfg.trainer.devices < 1:
        raise UserError(f"trainer.devices={cfg.trainer.devices} must be at least 1 (the number of processes)")
    # train.on_nan, precision, batch_unit, schedule, lr_decay and eval.monitor_mode are choices of the typed schema
    # (engine/config.py): a value outside them fails when the config is composed.
    if cfg.train.minutes is not None and not cfg.train.minutes > 0:
        raise UserError(f"train.minutes={cfg.train.minutes} must be a positive number of minutes, or null for no "
                        f"time limit")
    if not 0 < cfg.train.cooldown <= 1:
        raise UserError(f"train.cooldown={cfg.train.cooldown} must be in (0, 1]: the fraction of the run over which "
                        "lr_decay=cooldown lowers the rates to 0 (0.2: the last fifth)")
    if not 0 <= cfg.train.ema < 1:
        raise UserError(f"train.ema={cfg.train.ema} must be in [0, 1) (0: off; 0.999 averages about 1,000 steps)")
    if cfg.train.lr_decay != "constant" and cfg.train.cuda_graphs:
        raise UserError(f"train.lr_decay={cfg.train.lr_decay} changes the learning rate every step, which a captured "
                        "CUDA graph cannot follow: set train.cuda_graphs=false")
    if cfg.train.ema and cfg.train.cuda_graphs:
        raise UserError("train.ema averages G on the host's schedule (its first update copies, then it averages), which "
                        "a captured CUDA graph cannot replay: set train.cuda_graphs=false or train.ema=0")


def fits_on(device: torch.device, data: torch.Tensor) -> bool:
    """Whether the training set can live on the device: on a GPU, if it takes under half the free memory."""
    if device.type != "cuda":
        return True
    free, _ = torch.cuda.mem_get_info(device)
    return data.numel() * data.element_size() < free / 2


def check_output_folder(run_dir: Path, state_bytes: int) -> None:
    """Fail before the first step, not at the first checkpoint, if the run folder cannot take the run's files:
    up to three checkpoints (last, previous, the one being written) plus best.pt, and some room for samples."""
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        probe = run_dir / f".write-test-{time.time_ns()}"
        probe.write_bytes(b"ganctl")
        probe.unlink()
    except OSError as e:
        raise UserError(f"the run folder {run_dir} is not writable ({e.strerror or e}); choose another with "
                        f"hydra.run.dir=PATH (or hydra.sweep.dir=PATH for -m)") from None
    need = 4 * state_bytes + 50 * 2**20
    free = shutil.disk_usage(run_dir).free
    if free < need:
        raise UserError(f"not enough disk space for {run_dir}: {free / 2**20:.0f} MiB free, this run needs about "
                        f"{need / 2**20:.0f} MiB for its checkpoints and samples; free some space or choose another "
                        f"folder with hydra.run.dir=PATH")


def state_size(modules, optimizers) -> int:
    """Bytes a checkpoint of these networks and optimisers will take, near enough."""
    tensors = [t for m in modules for t in chain(m.parameters(), m.buffers())]
    tensors += [v for opt in optimizers for s in opt.state.values() for v in s.values() if torch.is_tensor(v)]
    moments = 2 * sum(p.numel() * p.element_size() for m in modules for p in m.parameters())  # Adam, before step 1
    return sum(t.numel() * t.element_size() for t in tensors) + moments


def resume_source(cfg: DictConfig, run_dir: Path) -> str | Path | None:
    """What train.resume points at: `auto` continues this run folder in place if it holds a checkpoint (re-run a
    preempted job or a sweep with the same hydra.run.dir / hydra.sweep.dir) and starts afresh otherwise."""
    if cfg.train.resume == "auto":
        return run_dir if checkpoint.has_checkpoint(run_dir) else None
    return cfg.train.resume


def resumed_config(cfg: DictConfig, source: str | Path) -> tuple[DictConfig, dict]:
    path, state = checkpoint.newest_good(source)
    saved = OmegaConf.to_container(OmegaConf.create(state["config"]))
    current = OmegaConf.to_container(cfg, resolve=True)
    for key in RESUMED_KEYS:
        if current.get(key) != saved.get(key):
            log.warning("resume: %s is taken from the resumed run, not from this command", key)
    for key in COURSE_KEYS:
        before, now = saved.get("train", {}).get(key), current["train"].get(key)
        if before is None or before == now:  # None: a checkpoint from before the setting existed
            continue
        if key != "steps":
            log.warning("resume: train.%s is %s here, %s in the resumed run; pass train.%s=%s to keep the run's",
                        key, now, before, key, before)
        elif current["train"]["lr_decay"] != "constant":  # at a constant rate, more steps is what resuming is for
            log.warning("resume: train.steps is %s here, %s in the resumed run, so the learning rate's %s decay "
                        "now reaches 0 at step %s", now, before, current["train"]["lr_decay"], now)
    merged = {**current, **{key: saved[key] for key in RESUMED_KEYS}}
    typed = OmegaConf.merge(OmegaConf.structured(Config), merged)  # typed again, as Hydra composed it
    OmegaConf.set_struct(typed, True)
    log.info("resuming from %s at step %d", path, state["step"])
    return typed, state


def train(cfg: DictConfig, run_dir: Path) -> float | None:
    """Train one run in `run_dir`: setup, the loop, the final evaluation; returns the monitored metric (rank 0)."""
    run = Trainer(cfg, run_dir)
    run.loop()
    return run.finish()


class Trainer:
    """One training run. Its state lives in attributes (step, best, nets, optimisers), read top to bottom:
    __init__ sets up (device, data, networks, optimisers, resume), `one_step` is one D/G update, `loop` repeats it
    with logging, pictures, evaluation and checkpoints, and `finish` evaluates and reports. Fault handling sits
    behind two small objects: `faults.Divergence` (train.on_nan) and `StopVote` (signals, agreed across ranks)."""

    # ---- setup -------------------------------------------------------------------------------------------
    def __init__(self, cfg: DictConfig, run_dir: Path):
        # The order matters: the global RNG is seeded once in configure(), then the data, nets and streams draw
        # from it in this order, so the same config and seed build the same run.
        resume_state = self.configure(cfg, run_dir)
        self.build_models()
        self.build_streams()
        self.build_optimizers()
        if resume_state is not None:
            self.load_state(resume_state)
        self.open_outputs()
        self.build_step()

    def configure(self, cfg: DictConfig, run_dir: Path) -> dict | None:
        """Device, ranks, the (possibly resumed) config checked, threads, seed. Returns the state to resume from."""
        self.device = device = build.device(cfg.device)
        self.ranks = ranks = distributed.setup(device)
        run_dir = Path(ranks.broadcast(str(run_dir)))  # under torchrun, rank 0's folder is the run's folder
        resume_state, source = None, resume_source(cfg, run_dir)
        if source:
            cfg, resume_state = resumed_config(cfg, source)
        check_train_config(cfg)
        self.cfg, self.run_dir = cfg, run_dir
        self.train_cfg = train_cfg = OmegaConf.to_object(cfg.train)  # a plain dataclass: OmegaConf lookups cost ~10 us each per step
        if ranks.world > 1:
            distributed.check_devices(ranks.world, device, train_cfg.batch_size)
        speed.check(cfg.train, device, ranks.world)
        if train_cfg.threads is not None:
            if train_cfg.threads < 1:
                raise UserError(f"train.threads={train_cfg.threads} must be a positive integer (null: torch's default)")
            torch.set_num_threads(train_cfg.threads)
        self.environment = build.environment(device)
        torch.manual_seed(cfg.seed)
        return resume_state

    def build_models(self) -> None:
        """The data set, the method, G, D and the method's extra nets, on the device."""
        cfg, device = self.cfg, self.device
        self.data = data = build.dataset(cfg)
        cfg.metrics.features = features.resolve(cfg.metrics, data.name, data.is_image)  # auto: recorded as chosen
        if cfg.eval.at_end or cfg.train.eval_every:
            features.extractor(cfg.metrics, data.name, device)  # a missing or foreign classifier fails now, not at the end
        self.method = method = build.method(cfg)
        self.g, self.d = build.networks(cfg, data.shape, method)
        self.g_side, self.d_side = method.modules(), method.discriminator_modules()  # extra nets, trained with G or D
        self.extra = {**self.g_side, **self.d_side}
        self.nets = (self.g, self.d, *self.extra.values())
        for net in self.nets:
            net.to(device)

    def build_optimizers(self) -> None:
        """One optimiser for G's side (G and the nets trained with it), one for D's side."""
        cfg, device, cuda_graphs = self.cfg, self.device, self.train_cfg.cuda_graphs
        self.opt_g = build.optimizer(chain(self.g.parameters(), *(m.parameters() for m in self.g_side.values())),
                                     cfg.optim.lr_g, cfg, device, capturable=cuda_graphs)
        self.opt_d = build.optimizer(chain(self.d.parameters(), *(m.parameters() for m in self.d_side.values())),
                                     cfg.optim.lr_d, cfg, device, capturable=cuda_graphs)
        self.method.attach_optimizers(self.opt_g, self.opt_d)
        self.params_of = {opt: [p for group in opt.param_groups for p in group["params"]]
                          for opt in (self.opt_d, self.opt_g)}
        self.d_params = [p for net in (self.d, *self.d_side.values()) for p in net.parameters()]
        self.base_lr = ((self.opt_d, float(cfg.optim.lr_d)), (self.opt_g, float(cfg.optim.lr_g)))

    def build_streams(self) -> None:
        """The data batches, the noise, the averaged G, the step counter."""
        cfg, train_cfg, device = self.cfg, self.train_cfg, self.device
        train_data = self.data.train
        if fits_on(device, train_data):
            train_data = train_data.to(device)  # shuffled and indexed on the device: no host copy per step
        else:
            log.info("data.train (%.1f GiB) does not fit beside the model: streaming batches from pinned host memory",
                     train_data.numel() * train_data.element_size() / 2**30)
        if train_cfg.channels_last:
            train_data = speed.channels_last(list(self.nets), train_data)
        # Every rank draws the same global batch (same seeds) and trains on its slice: see engine/distributed.py.
        # train.batch_unit=packs: the batch counts D's inputs, each a pack of model.pack samples (PacGAN's reference).
        samples_per_batch = train_cfg.batch_size * (int(cfg.model.get("pack", 1)) if train_cfg.batch_unit == "packs" else 1)
        self.batches = BatchSampler(train_data, samples_per_batch, seed=cfg.seed + 1, device=device)
        self.noise = torch.Generator(device=device).manual_seed(cfg.seed + 2)
        self.z_dim = cfg.model.z_dim  # read once: an OmegaConf lookup costs ~10 us, the step reads these every time
        if train_cfg.schedule == "simultaneous" and self.method.n_critic != 1:
            raise UserError(f"train.schedule=simultaneous steps D and G together, once each: it needs method.n_critic=1, "
                            f"got {self.method.n_critic}")
        self.g_ema = ema.AveragedGenerator(self.g, train_cfg.ema) if train_cfg.ema else None
        self.sampler = self.g_ema.module if self.g_ema is not None else self.g  # samples, pictures and metrics use it
        self.step, self.best = 0, None

    def open_outputs(self) -> None:
        """The run folder checked, TensorBoard, the log's header, the fixed noise of pictures and metrics."""
        cfg, ranks, data = self.cfg, self.ranks, self.data
        self.ckpt_dir = self.run_dir / checkpoint.CHECKPOINT_DIR
        if ranks.main:
            check_output_folder(self.run_dir, state_size(self.nets, (self.opt_g, self.opt_d)))
        self.tb = TensorBoard(self.run_dir / "tb", purge_step=self.step or None, enabled=ranks.main)
        self.tb.config(cfg)
        minutes = self.train_cfg.minutes
        log.info("run folder: %s  (device %s%s, data %s %s, %d steps%s, %s)", self.run_dir, self.device,
                 f" x {ranks.world} processes" if ranks.world > 1 else "", data.name, data.shape, self.train_cfg.steps,
                 f" or {minutes:g} minutes" if minutes is not None else "",
                 self.train_cfg.precision)  # the image recipe's precision follows the processor: say which
        log.info("environment: torch %s, %s, %d threads", self.environment["torch"],
                 self.environment.get("gpu", self.environment["cpu"]), self.environment["threads"])
        self.fixed_z = torch.randn(64 if data.is_image else 2500, self.z_dim, device=self.device,
                                   generator=torch.Generator(device=self.device).manual_seed(cfg.seed + EVAL_SEED_OFFSET))

    def build_step(self) -> None:
        """The step's parts: fault handling, the stop vote, the method's losses (compiled, autocast, graphed)."""
        train_cfg, method = self.train_cfg, self.method
        self.divergence = faults.Divergence(train_cfg.on_nan, {"g": self.g, "d": self.d, **self.extra}, self.ranks,
                                            self.device, self.ckpt_dir)
        self.stop = StopOnSignal(announce=self.ranks.main)  # its handlers are installed for the loop only
        self.stop_vote = StopVote(self.stop, self.ranks.world)
        self.d_loss, self.g_loss = method.discriminator_step, method.generator_step
        if train_cfg.compile:
            self.d_loss, self.g_loss = (speed.compiled(fn, name, method.double_backward)
                                        for fn, name in ((self.d_loss, "d"), (self.g_loss, "g")))
        self.forward_precision = speed.autocast(train_cfg.precision, device=self.device)
        if train_cfg.cuda_graphs:
            self.one_step = speed.GraphedStep(self.one_step, [self.opt_d, self.opt_g])

    def load_state(self, state: dict) -> None:
        """Continue from a checkpoint's state: weights, optimisers, data order, random streams, step."""
        self.g.load_state_dict(state["g"])
        if self.g_ema is not None:
            if "g_ema" not in state:
                raise UserError(f"train.ema={self.train_cfg.ema} but the resumed run kept no averaged generator; "
                                f"resume with train.ema=0 or start a new run")
            self.g_ema.load_state_dict(state["g_ema"])
        self.d.load_state_dict(state["d"])
        for name, net in self.extra.items():
            net.load_state_dict(state["extra"][name])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.batches.load_state_dict(state["batches"])
        self.noise.set_state(state["rng"]["noise"])
        torch.set_rng_state(state["rng"]["torch"])
        if self.device.type == "cuda" and "cuda" in state["rng"]:
            torch.cuda.set_rng_state(state["rng"]["cuda"], self.device)
        self.step, self.best = state["step"], state.get("best")
        if self.step >= self.train_cfg.steps:
            raise UserError(f"the resumed run is already at step {self.step}; set train.steps above {self.step} to continue")

    def state(self) -> dict:
        """Everything a resumed run needs to continue bitwise (see load_state)."""
        rng = {"torch": torch.get_rng_state(), "noise": self.noise.get_state()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        return {
            "step": self.step, "best": self.best, "config": OmegaConf.to_yaml(self.cfg, resolve=True),
            "data_shape": list(self.data.shape), "modes": self.data.modes,
            "g": self.g.state_dict(), "d": self.d.state_dict(),
            "extra": {k: m.state_dict() for k, m in self.extra.items()},
            **({"g_ema": self.g_ema.state_dict()} if self.g_ema is not None else {}),
            "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(), "batches": self.batches.state_dict(),
            "rng": rng,
        }

    # ---- one step ----------------------------------------------------------------------------------------
    def sample_z(self) -> torch.Tensor:
        z = torch.randn(self.batches.batch_size, self.z_dim, generator=self.noise, device=self.device)
        return self.ranks.shard(z)

    def one_step(self, reals: list[torch.Tensor], zs: list[torch.Tensor]) -> tuple[dict, dict, bool]:
        """n_critic D updates (one per real batch) then one G update; tensors in, tensors out, so that
        train.cuda_graphs can capture it. Returns the last D outputs, the G outputs and whether all stepped."""
        if self.train_cfg.schedule == "simultaneous":  # both gradients at the same weights, same batch and noise
            out_d = self.d_gradients(reals[0], zs[0])
            out_g = self.g_gradients(reals[0], zs[0])
            d_stepped = self.d_update(out_d)
            return out_d, out_g, self.g_update(out_g) & d_stepped
        all_stepped = True
        for real, z in zip(reals, zs):
            out_d = self.d_gradients(real, z)
            all_stepped &= self.d_update(out_d)
        out_g = self.g_gradients(reals[-1], zs[-1])
        all_stepped &= self.g_update(out_g)
        return out_d, out_g, all_stepped

    def d_gradients(self, real: torch.Tensor, z: torch.Tensor) -> dict:
        for p in self.d_params:
            p.requires_grad_(True)
        with self.forward_precision:
            out_d = self.d_loss(self.g, self.d, real, z)
        self.opt_d.zero_grad(set_to_none=True)
        out_d["loss"].backward()
        for p in self.d_params:
            p.requires_grad_(False)  # G's backward needs gradients through D, not for D's weights
        return out_d

    def g_gradients(self, real: torch.Tensor, z: torch.Tensor) -> dict:
        with self.forward_precision:
            out_g = self.g_loss(self.g, self.d, real, z)
        self.opt_g.zero_grad(set_to_none=True)
        out_g["loss"].backward()
        return out_g

    def d_update(self, out_d: dict) -> bool:
        stepped = self.apply_update(self.opt_d, out_d["loss"], "d")
        if stepped:
            self.method.after_discriminator_step(self.d)
        return stepped

    def g_update(self, out_g: dict) -> bool:
        stepped = self.apply_update(self.opt_g, out_g["loss"], "g", vote=True)
        if stepped and self.g_ema is not None:
            self.g_ema.update(self.g)
        return stepped

    def apply_update(self, opt, loss: torch.Tensor, name: str, vote: bool = False) -> bool:
        """Average gradients over ranks, then step `opt` unless on_nan=skip_step finds a non-finite loss or
        gradient; returns whether it stepped. With `vote`, the ranks' stop requests ride in the same all-reduce."""
        flags = self.divergence.flags(loss)
        voting = vote and self.ranks.world > 1
        if voting:
            flags.append(self.stop_vote.flag(self.device))
        params = self.params_of[opt]
        reduced = self.ranks.average_gradients(params, flags)
        if voting:
            self.stop_vote.count(reduced[-1])
        if self.divergence.skip and not self.divergence.keep_update(reduced[0], params, opt, name, self.step):
            return False
        opt.step()
        return True

    def set_learning_rates(self, time_spent: float) -> None:
        """linear: the rates fall to 0 at train.steps. cooldown: constant, then falling linearly to 0 over the
        last train.cooldown of the run, whose end is train.steps or train.minutes, whichever comes first
        (`time_spent`: the fraction of train.minutes used so far, 0 without a limit), so that a run the clock ends
        still ends cooled (Hägele et al. 2024, arXiv:2405.18392: constant rate plus cool-down)."""
        decay = self.train_cfg.lr_decay
        if decay == "constant":
            return
        if decay == "linear":
            factor = 1 - self.step / self.train_cfg.steps
        else:
            done = max(self.step / self.train_cfg.steps, time_spent)
            factor = min(1.0, max(0.0, (1 - done) / self.train_cfg.cooldown))
        for opt, base in self.base_lr:
            for group in opt.param_groups:
                group["lr"] = base * factor

    # ---- loop --------------------------------------------------------------------------------------------
    def loop(self) -> None:
        train_cfg, ranks, divergence = self.train_cfg, self.ranks, self.divergence
        stats = Accumulator()
        progress = Progress(TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("{task.fields[info]}"), TimeRemainingColumn(),
                            disable=not (train_cfg.progress and ranks.main))
        task = progress.add_task("train", total=train_cfg.steps, completed=self.step, info="")
        t_start, t_last, step_last = time.perf_counter(), time.perf_counter(), self.step
        budget_s = self.time_budget()
        # lr_decay=cooldown reads the clock: the fraction of train.minutes spent (other schedules never pay for it)
        clocked = budget_s is not None and train_cfg.lr_decay == "cooldown"
        time_spent = 0.0
        self.g.train()
        self.d.train()
        with ExitStack() as scope:
            scope.enter_context(self.stop)
            scope.enter_context(progress)
            while self.step < train_cfg.steps:
                log_now = (self.step + 1) % train_cfg.log_every == 0 or self.step + 1 == train_cfg.steps

                if clocked and (ranks.world == 1 or log_now):  # ranks agree on rank 0's clock
                    time_spent = ranks.broadcast((time.perf_counter() - t_start) / budget_s)
                self.set_learning_rates(time_spent)
                reals = [ranks.shard(self.batches.next()) for _ in range(self.method.n_critic)]
                zs = [self.sample_z() for _ in range(self.method.n_critic + 1)]  # noise and data: independent generators
                out_d, out_g, stepped = self.one_step(reals, zs)
                stop_now = self.stop_vote.now
                if log_now:
                    stats.add("grad/", {"d": grad_norm(self.d, self.device), "g": grad_norm(self.g, self.device)})
                self.step += 1
                step = self.step

                if not divergence.skip:
                    divergence.record(step, out_d["loss"], out_g["loss"])
                if stepped:  # a skipped update's NaN would poison the logged means
                    stats.add("loss/", {"d": out_d["loss"], "g": out_g["loss"]})
                    stats.add("method/", {k: v for k, v in chain(out_d.items(), out_g.items()) if k != "loss"})

                if log_now:
                    values = stats.flush(ranks.mean)  # the only host sync of a step
                    now = time.perf_counter()
                    values["speed/steps_per_s"] = (step - step_last) / max(now - t_last, 1e-9)
                    t_last, step_last = now, step
                    if divergence.skip:
                        values.update(divergence.counts())
                    self.tb.scalars(values, step)
                    if not divergence.skip:
                        divergence.check(step)
                        divergence.check_logged(values, step)
                    if "loss/d" in values:
                        progress.update(task, completed=step, info=f"D {values['loss/d']:.4f}  G {values['loss/g']:.4f}"
                                                                   f"  {values['speed/steps_per_s']:.0f} steps/s")
                if stop_now:
                    self.stop_here()
                # the last step: train.steps, or the first past train.minutes; finish() evaluates it
                last = step == train_cfg.steps or (budget_s is not None and self.out_of_time(t_start, budget_s, log_now))
                if step % train_cfg.sample_every == 0 or last:
                    self.picture()
                if train_cfg.eval_every and step % train_cfg.eval_every == 0 and not last and ranks.main:
                    metrics = self.evaluate_and_keep_best()
                    self.tb.scalars({f"metric/{k}": v for k, v in metrics.items()}, step)
                if step % train_cfg.checkpoint_every == 0 or last:
                    self.save_checkpoint("last.pt")
                if last and step < train_cfg.steps:
                    if ranks.main:
                        log.info("train.minutes=%g reached at step %d of %d: the run ends here. To continue it, repeat "
                                 "its command with train.resume=%s (and train.minutes=null to lift the limit)",
                                 train_cfg.minutes, step, train_cfg.steps, self.run_dir)
                    break
        self.wall = time.perf_counter() - t_start

    def time_budget(self) -> float | None:
        """train.minutes in seconds (None: no limit)."""
        minutes = self.train_cfg.minutes  # checked in check_train_config
        if minutes is None:
            return None
        if self.train_cfg.lr_decay == "linear":
            log.warning("train.minutes=%g with train.lr_decay=linear: the rates fall to 0 at train.steps=%d, so a run "
                        "that the time limit ends sooner ends with them above 0", minutes, self.train_cfg.steps)
        return 60.0 * minutes

    def out_of_time(self, t_start: float, budget_s: float, log_now: bool) -> bool:
        """Whether train.minutes is spent. One process reads its clock every step; data-parallel ranks take rank
        0's clock at logging steps, so that they all stop after the same step (the broadcast is a collective)."""
        if self.ranks.world == 1:
            return time.perf_counter() - t_start >= budget_s
        return log_now and self.ranks.broadcast(time.perf_counter() - t_start >= budget_s)

    def stop_here(self) -> None:
        """A signal asked the run to stop: keep a checkpoint to resume from and exit with the signal's code."""
        self.save_checkpoint("last.pt")
        signum = self.ranks.broadcast(self.stop.signum) or signal.SIGTERM
        if self.ranks.main:
            log.warning("stopped at step %d by %s; checkpoint: %s. Continue with:  ganctl train train.resume=%s",
                        self.step, signal.Signals(signum).name, self.ckpt_dir / "last.pt", self.run_dir)
        self.tb.close()
        raise SystemExit(exit_code(signum))

    def picture(self) -> None:
        if not self.ranks.main:
            return
        self.sampler.eval()
        with torch.inference_mode():
            pic = sample_picture(self.sampler(self.fixed_z), self.data.modes)
        self.sampler.train()
        save_png(pic, self.run_dir / "samples" / f"step_{self.step:07d}.png")
        self.tb.picture("samples", pic, self.step)

    def save_checkpoint(self, name: str) -> None:
        if not self.divergence.skip:
            self.divergence.check(self.step)  # never write NaN weights over a good checkpoint
        if self.ranks.main:
            previous = self.ckpt_dir / "previous.pt" if name == "last.pt" else None
            checkpoint.save(self.state(), self.ckpt_dir / name, previous=previous)

    def evaluate_and_keep_best(self, progress: bool = False) -> dict[str, float]:
        """Score the generator; with train.eval_every, keep checkpoints/best.pt by eval.monitor. progress: a bar
        for feature extraction (not inside the training loop's own bar)."""
        cfg, data, device = self.cfg, self.data, self.device
        metrics = evaluate(self.sampler, cfg, data, device, progress)
        if self.g_ema is not None:  # the raw G beside the averaged one, to see what the average buys
            metrics.update({f"raw_{k}": v for k, v in evaluate(self.g, cfg, data, device, progress).items()})
        value = metrics.get(cfg.eval.monitor)
        if value is None:
            log.warning("eval.monitor=%s is not among the computed metrics (%s): no best.pt, nothing for a "
                        "sweeper to minimise", cfg.eval.monitor, ", ".join(metrics))
        elif self.train_cfg.eval_every and is_better(value, self.best, cfg.eval.monitor_mode):
            self.best = value
            checkpoint.save(self.state(), self.ckpt_dir / "best.pt")
        return metrics

    # ---- finish ------------------------------------------------------------------------------------------
    def finish(self) -> float | None:
        """Rank 0 evaluates the final generator, writes metrics.json and says where everything is."""
        if not self.ranks.main:
            return None
        cfg, step, ckpt_dir, run_dir = self.cfg, self.step, self.ckpt_dir, self.run_dir
        result = None
        if cfg.eval.at_end:
            metrics = self.evaluate_and_keep_best(progress=self.train_cfg.progress)
            result = metrics.get(cfg.eval.monitor)
            write_json(metrics, run_dir / "metrics.json", step=step, checkpoint=str(ckpt_dir / "last.pt"),
                       n=eval_size(cfg, self.data), wall_time_s=round(self.wall, 3), environment=self.environment)
            self.tb.hparams(cfg, {**metrics, "wall_time_s": self.wall}, step)
            for key, value in metrics.items():
                log.info("%s = %.6g", key, value)
        self.tb.close()
        log.info("done: %d steps in %.1f s", step, self.wall)
        log.info("run folder:  %s", run_dir)
        log.info("checkpoint:  %s", ckpt_dir / "last.pt")
        log.info("samples:     %s", run_dir / "samples")
        if cfg.eval.at_end:
            log.info("metrics:     %s", run_dir / "metrics.json")
        log.info("TensorBoard: tensorboard --logdir %s", run_dir / "tb")
        return result


def grad_norm(net, device: torch.device) -> torch.Tensor:
    norms = [p.grad.norm() for p in net.parameters() if p.grad is not None]
    return torch.stack(norms).norm() if norms else torch.zeros((), device=device)
