"""Data-parallel training over several processes (torch.distributed), started by `torchrun` or by
`ganctl train trainer.devices=N`.

Every rank draws the same global batch of data and noise (same seeds) and trains on its own slice of it;
after each backward the gradients are averaged over the ranks in one all-reduce. Since every loss is a mean
over the batch, the averaged gradient is the gradient of the global batch's loss, so N processes give the
result of one process with the same global batch, up to float summation order.

Why not `nn.parallel.DistributedDataParallel`: a GAN step calls D several times before one backward, freezes
D's weights for G's backward, and Unrolled GAN calls D functionally with other weights. DDP's reducer expects
one forward per backward over the same parameters and would need `find_unused_parameters` and static-graph
workarounds per method; averaging the gradients after the backward works for every method unchanged and
costs one flat all-reduce per update.

Caveats (docs/usage.md): batch-norm statistics, minibatch discrimination and DRAGAN's batch std are computed
per rank slice, as in any data-parallel setup; one rank (0) logs, samples, evaluates and writes checkpoints.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist

from ganctl.engine.ranks import launched
from ganctl.errors import UserError

log = logging.getLogger("ganctl")

# Rank 0 evaluates while the others wait in the next all-reduce: allow for a long evaluation.
TIMEOUT = timedelta(hours=2)
SHUTDOWN_S = 120  # trainer.devices: how long a stopping worker may take to write its checkpoint before SIGKILL


@dataclass
class Ranks:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    home: str = "cpu"  # where small tensors for collectives live: the GPU for NCCL, else the CPU

    @property
    def main(self) -> bool:
        return self.rank == 0

    def shard(self, batch: torch.Tensor) -> torch.Tensor:
        """This rank's slice of a global batch (rows rank*b ... (rank+1)*b - 1)."""
        if self.world == 1:
            return batch
        per_rank = batch.shape[0] // self.world
        return batch[self.rank * per_rank : (self.rank + 1) * per_rank]

    def average_gradients(self, params: list[torch.Tensor], flags: list[torch.Tensor] = ()) -> list[torch.Tensor]:
        """Average the gradients over ranks in place; `flags` (0-dim tensors) ride along in the same all-reduce
        and come back summed over ranks. One process: nothing to do, the flags come back as they are."""
        if self.world == 1:
            return list(flags)
        grads = [p.grad for p in params if p.grad is not None]
        extra = [f.reshape(1).to(grads[0].dtype if grads else torch.float32) for f in flags]
        flat = torch.cat([g.reshape(-1) for g in grads] + extra)  # one buffer, one all-reduce
        dist.all_reduce(flat)
        pieces = flat.split([g.numel() for g in grads] + [1] * len(extra))
        for grad, reduced in zip(grads, pieces):
            grad.copy_(reduced.view_as(grad) / self.world)
        return [v.reshape(()) for v in pieces[len(grads):]]

    def mean(self, values: torch.Tensor) -> torch.Tensor:
        """The mean over ranks of a tensor (the logged losses)."""
        if self.world == 1:
            return values
        values = values.clone()
        dist.all_reduce(values)
        return values / self.world

    def any(self, flag: bool) -> bool:
        """True on every rank if it is True on any rank (ranks must agree before stopping)."""
        if self.world == 1:
            return flag
        t = torch.tensor([float(flag)], device=self.home)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item())

    def broadcast(self, value):
        """Rank 0's value of a picklable object, on every rank."""
        if self.world == 1:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]


def setup(device: torch.device) -> Ranks:
    """Join the process group that torchrun (or `trainer.devices`) described in the environment."""
    if not launched():
        return Ranks()
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", rank))
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        dist.init_process_group(backend, timeout=TIMEOUT)
    ranks = Ranks(rank, world, local_rank, f"cuda:{local_rank}" if backend == "nccl" else "cpu")
    if rank != 0:
        log.setLevel(logging.WARNING)  # rank 0 speaks for the run
    return ranks


def teardown() -> None:
    """Leave the process group together: a rank that destroys its group while another still talks to it (or to
    the store that rank 0 hosts) can abort in gloo's threads."""
    if dist.is_initialized():
        with contextlib.suppress(RuntimeError):  # a rank already gone: nothing left to wait for
            dist.barrier()
        dist.destroy_process_group()


def exit_worker(code: int) -> None:
    """End a data-parallel worker without the interpreter's teardown. Gloo's threads were seen to abort the
    process (std::terminate, "terminate called without an active exception") while C++ objects are destroyed at
    exit, after every result was written; the run's files are closed by then, so flush what Python still holds,
    run the atexit hooks, and leave with the real exit code."""
    import atexit

    logging.shutdown()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


def launch(devices: int, overrides: list[str], run_dir: str) -> int:
    """`trainer.devices=N` on one machine: run N `ganctl train` processes under torch's elastic launcher (what
    `torchrun --standalone` runs), all in this run's folder (rank 0 writes; engine/ranks.py gives the other ranks a
    throw-away Hydra folder). Returns 0, or the first failing worker's exit code (128 + signal for a kill).

    The launcher starts each worker in its own session and watches them: a worker that dies ends the others
    (SIGTERM, then SIGKILL after SHUTDOWN_S), on gloo and NCCL alike, and leaves no process behind. Ctrl-C or
    SIGTERM reaches this process only; the launcher passes the same signal on to every worker once (finish the
    step, checkpoint, exit 130/143), and this process then exits with that code."""
    from torch.distributed.elastic.multiprocessing import DefaultLogsSpecs, SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    logs = tempfile.TemporaryDirectory(prefix="ganctl-launcher-")  # the launcher's error files, removed after
    config = LaunchConfig(min_nodes=1, max_nodes=1, nproc_per_node=devices, rdzv_backend="c10d",
                          rdzv_endpoint="localhost:0", run_id=f"ganctl-{os.getpid()}", max_restarts=0,
                          monitor_interval=0.1, shutdown_timeout=SHUTDOWN_S, logs_specs=DefaultLogsSpecs(logs.name))
    command = ["-m", "ganctl", "train", *overrides, f"hydra.run.dir={run_dir}"]
    quiet = [logging.getLogger(name) for name in ("torch.distributed.elastic", "torch.distributed.launcher")]
    levels = [logger.level for logger in quiet]
    for logger in quiet:  # the workers say what went wrong, in one line; the launcher's own report is pages long
        logger.setLevel(logging.CRITICAL)
    try:
        elastic_launch(config, sys.executable)(*command)
        return 0
    except ChildFailedError as error:
        code = error.get_first_failure()[1].exitcode
        return code if code > 0 else 128 - code  # a worker killed by signal s: -s, as the shell reports 128 + s
    except SignalException as error:
        return 128 + int(error.sigval)  # the workers got the same signal and have checkpointed
    finally:
        for logger, level in zip(quiet, levels):
            logger.setLevel(level)
        logs.cleanup()


def check_devices(devices: int, device: torch.device, batch_size: int) -> None:
    if devices < 1:
        raise UserError(f"trainer.devices={devices} must be at least 1")
    if device.type == "cuda" and devices > torch.cuda.device_count():
        raise UserError(f"trainer.devices={devices} but this machine has {torch.cuda.device_count()} GPU(s)")
    if batch_size % devices:
        raise UserError(f"train.batch_size={batch_size} must divide by trainer.devices={devices}: each process "
                        f"trains on an equal slice of the global batch")
