"""Evaluation: generate samples, pick held-out real data, map both into the feature space `metrics.features`
selects (features.py), and call every metric selected under `metrics:`.

Metrics are pure functions; each receives the inputs its signature names (see compute_metrics): `real`, `fake`
(features), `probs`, `real_probs` (class probabilities), `real_stats` (the real set's cached FID statistics) and
whatever the data set's `metric_context()` offers (the mode centres of a mixture). Inputs are computed lazily,
so a selection that needs no real features extracts none.

With metrics.precision tf32 or bf16 (features.py), an FID is also computed once from fp32 features of the same
samples and returned as `fid_fp32`, so every number from a fast path comes with its cost in accuracy.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import logging
import math
from collections.abc import Callable
from pathlib import Path

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch import nn

from ganctl.engine import features, stats_cache
from ganctl.errors import UserError
from ganctl.metrics import LEGACY_TARGETS

log = logging.getLogger("ganctl")

EVAL_SEED_OFFSET = 1000  # the evaluation noise stream is fixed per run and independent of training's

# Why an input can be missing, for the warning of a skipped metric (default: the data set provides none).
NO_PROBS = "metrics.features=raw gives no class probabilities; set metrics.features=classifier or inception"
MISSING_WHY = {"probs": NO_PROBS, "real_probs": NO_PROBS}
_skips_said: set[tuple[str, str]] = set()  # (metric, reason) already warned about in this process


@torch.inference_mode()
def generate(g: nn.Module, n: int, z_dim: int, device: torch.device, seed: int, batch_size: int = 1024):
    """n samples from g in eval mode (batch-norm running statistics), from a fixed noise stream, on `device`; g's
    mode is restored afterwards, also when it fails. Inference mode: no autograd records, and the samples are
    inference tensors (they only ever go to feature extraction and metrics)."""
    was_training = g.training
    g.eval()
    try:
        noise = torch.Generator(device=device).manual_seed(seed)
        chunks = [g(torch.randn(min(batch_size, n - i), z_dim, generator=noise, device=device))
                  for i in range(0, n, batch_size)]
    finally:
        g.train(was_training)
    return torch.cat(chunks)


class Lazy:
    """A value computed on first use and kept (feature extraction is the costly part of an evaluation)."""

    def __init__(self, compute: Callable):
        self.compute, self.done, self.value = compute, False, None

    def get(self):
        if not self.done:
            self.value, self.done = self.compute(), True
        return self.value


def compute_metrics(metrics: DictConfig, real, fake, context: dict) -> dict[str, float]:
    """Every metric node under `metrics` (a `_target_`; settings such as metrics.features are skipped), called
    with the inputs its signature names, taken from real, fake (flattened to (n, d)) and context; any of them may
    be a `Lazy`. A metric that accepts `real_stats` gets them instead of `real` when they are offered. A metric
    whose required input is not offered is skipped with a warning. A float result is keyed by the metric's name,
    a dict result keeps its own (already prefixed) keys."""
    inputs = {"real": real, "fake": fake, **context}
    results: dict[str, float] = {}
    for name, spec in metrics.items():
        if not isinstance(spec, DictConfig) or "_target_" not in spec:
            continue
        if spec._target_ in LEGACY_TARGETS:  # a run saved when the configs named ganctl.metrics.<id>
            spec = OmegaConf.merge(spec, {"_target_": LEGACY_TARGETS[spec._target_]})
        fn = instantiate(spec, _partial_=True)
        accepted = inspect.signature(fn.func).parameters
        free = [k for k in accepted if k not in fn.keywords]
        missing = [k for k in free if k not in inputs and accepted[k].default is inspect.Parameter.empty]
        if missing:
            # e.g. mode coverage on data without known modes: say so rather than fail the whole evaluation
            why = "; ".join(dict.fromkeys(MISSING_WHY.get(k, "the data set provides none") for k in missing))
            if (name, why) not in _skips_said:  # once per process: an averaged G is scored twice, sweeps often
                _skips_said.add((name, why))
                log.warning("metric %s: skipped, it needs %s: %s", name, ", ".join(missing), why)
            continue
        # The real set's (cached) statistics stand in for its features, which then need not be extracted.
        stats_instead = "real_stats" in free and "real_stats" in inputs
        wanted = [k for k in free if k in inputs and not (k == "real" and stats_instead)]
        kwargs = {k: inputs[k].get() if isinstance(inputs[k], Lazy) else inputs[k] for k in wanted}
        for k in ("real", "fake"):
            if k in kwargs:
                kwargs[k] = kwargs[k].flatten(1)  # (N, C, H, W) -> (N, C*H*W): raw-pixel feature space
        value = fn(**kwargs)
        if isinstance(value, dict):
            results.update({k: float(v) for k, v in value.items()})
        else:
            results[name] = float(value)
    return results


def score(settings: DictConfig, real: torch.Tensor, fake: torch.Tensor, context: dict, device: torch.device,
          source: dict, data_name: str | None = None, progress: bool = False) -> dict[str, float]:
    """The metrics under `settings` (cfg.metrics) on real and fake samples, in the feature space
    metrics.features selects. `source` describes the real set (data config, split, n) for the statistics cache;
    `data_name` gives the default classifier file; `progress` shows a bar while features are extracted."""
    context = {k: (v.to(device) if torch.is_tensor(v) else v) for k, v in context.items()}
    settings = features.resolved(settings, data_name, images=real.ndim == 4)  # metrics.features=auto made concrete
    extractor = features.extractor(settings, data_name, device)  # loaded first: a missing file fails early
    if extractor is None:
        return compute_metrics(settings, real.to(device), fake.to(device), context)
    results = compute_metrics(settings, *feature_inputs(settings, extractor, real, fake, source, progress, context))
    if extractor.precision != "fp32" and "fid" in settings and "fid" in results:
        # The fast path's error, measured where it matters: FID from fp32 features of the same samples (and fp32
        # real statistics, cached under their own key), one extra extraction of each set.
        reference = dataclasses.replace(extractor, precision="fp32")
        fid_only = OmegaConf.masked_copy(settings, ["fid"])
        fid, fid_fp32 = results["fid"], compute_metrics(
            fid_only, *feature_inputs(settings, reference, real, fake, source, progress, context))["fid"]
        results["fid_fp32"] = fid_fp32
        log.info("FID %s = %.6g, fp32 = %.6g, difference %+.3g (%.2g relative)", extractor.precision, fid, fid_fp32,
                 fid - fid_fp32, abs(fid - fid_fp32) / max(abs(fid_fp32), 1e-300))
    return results


def feature_inputs(settings: DictConfig, extractor: features.Extractor, real: torch.Tensor, fake: torch.Tensor,
                   source: dict, progress: bool, context: dict) -> tuple[Lazy, Lazy, dict]:
    """compute_metrics' (real, fake, context) in extractor's feature space, each extracted on first use."""
    batch_size = settings.get("batch_size", 100)
    fake_out = Lazy(lambda: extractor.extract(fake, batch_size, progress, "generated samples"))
    real_out = Lazy(lambda: extractor.extract(real, batch_size, progress, "real samples"))
    real_stats = Lazy(lambda: stats_cache.real_statistics(settings.get("cache"), source, extractor.name,
                                                          extractor.weights, real, lambda: real_out.get()[0],
                                                          extractor.precision))
    return Lazy(lambda: real_out.get()[0]), Lazy(lambda: fake_out.get()[0]), {
        "probs": Lazy(lambda: fake_out.get()[1]),
        "real_probs": Lazy(lambda: real_out.get()[1]),
        "real_stats": real_stats,
        **context,
    }


def eval_size(cfg: DictConfig, data) -> int:
    """eval.n, capped by the number of held-out real samples (the two sets are kept the same size)."""
    n, n_real = cfg.eval.n, data.test.shape[0]
    if n <= 0:
        raise UserError(f"eval.n={n} must be positive")
    return min(n, n_real)


def evaluate(g, cfg: DictConfig, data, device: torch.device, progress: bool = False) -> dict[str, float]:
    n = eval_size(cfg, data)
    if n < cfg.eval.n:
        log.warning("eval.n=%d is more than the %d held-out real samples; using %d of each", cfg.eval.n, n, n)
    fake = generate(g, n, cfg.model.z_dim, device, cfg.seed + EVAL_SEED_OFFSET)
    source = {"data": OmegaConf.to_container(cfg.data, resolve=True), "split": "test", "n": n}
    return score(cfg.metrics, data.test[:n], fake, data.metric_context(), device, source, data.name, progress)


def is_better(value: float, best: float | None, mode: str) -> bool:
    if not math.isfinite(value):
        return False
    return best is None or (value < best if mode == "min" else value > best)


def write_json(metrics: dict[str, float], path: Path, **info) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({**info, "metrics": metrics}, indent=2) + "\n")
    tmp.replace(path)
