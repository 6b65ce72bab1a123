"""Evaluation: generate samples, pick held-out real data, and call every metric selected under `metrics:`.

Metrics are pure functions of `real=` and `fake=` feature matrices; a metric that needs more (the mode centres
of a mixture) names it in its signature and receives it from the data set's `metric_context()`.
"""

from __future__ import annotations

import inspect
import json
import logging
import math
from pathlib import Path

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig
from torch import nn

from ganctl.errors import UserError

log = logging.getLogger("ganctl")

EVAL_SEED_OFFSET = 1000  # the evaluation noise stream is fixed per run and independent of training's


@torch.inference_mode()
def generate(g: nn.Module, n: int, z_dim: int, device: torch.device, seed: int, batch_size: int = 1024):
    """n samples from g in eval mode (batch-norm running statistics), from a fixed noise stream."""
    was_training = g.training
    g.eval()
    noise = torch.Generator(device=device).manual_seed(seed)
    chunks = [g(torch.randn(min(batch_size, n - i), z_dim, generator=noise, device=device))
              for i in range(0, n, batch_size)]
    g.train(was_training)
    return torch.cat(chunks)


def compute_metrics(metrics: DictConfig, real: torch.Tensor, fake: torch.Tensor, context: dict) -> dict[str, float]:
    """Every selected metric on flattened features; a float result is keyed by the metric's name, a dict result
    keeps its own (already prefixed) keys."""
    real, fake = real.flatten(1), fake.flatten(1)  # (N, C, H, W) -> (N, C*H*W): raw-pixel feature space
    results: dict[str, float] = {}
    for name, spec in metrics.items():
        if not isinstance(spec, DictConfig) or "_target_" not in spec:
            continue
        fn = instantiate(spec, _partial_=True)
        accepted = inspect.signature(fn.func).parameters
        missing = [k for k in accepted if k not in context and k not in ("real", "fake")
                   and accepted[k].default is inspect.Parameter.empty and k not in fn.keywords]
        if missing:
            # e.g. mode coverage on data without known modes: say so rather than fail the whole evaluation
            log.warning("metric %s: skipped, the data set provides no %s", name, ", ".join(missing))
            continue
        extra = {k: v for k, v in context.items() if k in accepted}
        value = fn(real=real, fake=fake, **extra) if "real" in accepted else fn(fake=fake, **extra)
        if isinstance(value, dict):
            results.update({k: float(v) for k, v in value.items()})
        else:
            results[name] = float(value)
    return results


def eval_size(cfg: DictConfig, data) -> int:
    """eval.n, capped by the number of held-out real samples (the two sets are kept the same size)."""
    n, n_real = cfg.eval.n, data.test.shape[0]
    if n <= 0:
        raise UserError(f"eval.n={n} must be positive")
    return min(n, n_real)


def evaluate(g, cfg: DictConfig, data, device: torch.device) -> dict[str, float]:
    n = eval_size(cfg, data)
    if n < cfg.eval.n:
        log.warning("eval.n=%d is more than the %d held-out real samples; using %d of each", cfg.eval.n, n, n)
    fake = generate(g, n, cfg.model.z_dim, device, cfg.seed + EVAL_SEED_OFFSET)
    real = data.test[:n].to(device)
    context = {k: (v.to(device) if torch.is_tensor(v) else v) for k, v in data.metric_context().items()}
    return compute_metrics(cfg.metrics, real, fake, context)


def is_better(value: float, best: float | None, mode: str) -> bool:
    if not math.isfinite(value):
        return False
    return best is None or (value < best if mode == "min" else value > best)


def write_json(metrics: dict[str, float], path: Path, **info) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({**info, "metrics": metrics}, indent=2) + "\n")
    tmp.replace(path)
