"""A short seeded CPU run on ring8, before and after: the learning check every method's tests share."""

import json

import torch

from ganctl.engine import build
from ganctl.engine.evaluate import evaluate
from ganctl.engine.train import train
from tests.conftest import FAST, make_config

FAST_LR = ["optim.lr_g=1e-3", "optim.lr_d=1e-3"]  # the rate of most 300-step ring runs


def ring_run(method: str, tmp_path, *overrides: str):
    """Metrics (mode coverage, W1) of the untrained generator and after a short seeded CPU run on ring8."""
    cfg = make_config(f"method={method}", *overrides, "metrics=[mode_coverage,wasserstein]", *FAST)
    torch.manual_seed(cfg.seed)  # train() seeds the global RNG and then builds the same nets
    data = build.dataset(cfg)
    g, _ = build.networks(cfg, data.shape, build.method(cfg))
    before = evaluate(g, cfg, data, torch.device("cpu"))
    train(cfg, tmp_path)
    after = json.loads((tmp_path / "metrics.json").read_text())["metrics"]
    return before, after


def assert_learned(before: dict, after: dict):
    # The untrained generator bunches its samples near the origin: W1 to the unit ring ~1, no sample within
    # 3 std (0.03) of a mode. A W1 drop of 0.25 is ~10x the spread of W1 between two 512-point samples of the
    # ring itself (as in tests/engine/test_train.py); any high-quality sample at all beats the untrained 0%.
    assert before["wasserstein"] > 0.9 and before["high_quality_pct"] == 0.0
    assert after["wasserstein"] < before["wasserstein"] - 0.25, (before, after)
    assert after["high_quality_pct"] > before["high_quality_pct"], (before, after)
