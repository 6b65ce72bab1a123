"""The metrics package: every metric resolves through the dotted `_target_` path Hydra uses."""

import inspect
from pathlib import Path

import pytest
import torch
from hydra.utils import get_method
from omegaconf import OmegaConf

from ganctl.metrics import METRICS

CONF = Path(__file__).resolve().parents[2] / "conf" / "metrics"


@pytest.mark.parametrize("config", sorted(CONF.glob("*.yaml")), ids=lambda p: p.stem)
def test_metric_target_resolves_to_a_keyword_only_function(config):
    """Every conf/metrics/<id>.yaml names its function by the full path `ganctl.metrics.<module>.<function>`, which
    must be METRICS[id], keyword-only (real= and fake= can never be swapped by position)."""
    metric_id = config.stem
    target = OmegaConf.load(config)[metric_id]["_target_"]
    fn = get_method(target)
    assert fn is METRICS[metric_id]
    assert target == f"{fn.__module__}.{fn.__name__}"
    params = inspect.signature(fn).parameters.values()
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params)


def test_metric_modules_stay_modules_and_old_targets_still_resolve():
    import types
    from unittest import mock

    import ganctl.metrics.fid as fid_module
    from ganctl.metrics import LEGACY_TARGETS

    assert isinstance(fid_module, types.ModuleType)
    with mock.patch("ganctl.metrics.fid.frechet_distance", return_value=1.5):  # patching a module attribute works
        assert fid_module.frechet_distance(None, None) == 1.5
    assert get_method(LEGACY_TARGETS["ganctl.metrics.nn1"]) is METRICS["nn1"]
    assert get_method(LEGACY_TARGETS["ganctl.metrics.inception_score"]) is METRICS["is"]


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_metrics_on_cuda_match_cpu():
    gen = torch.Generator().manual_seed(0)
    real = torch.randn(300, 2, generator=gen)
    fake = torch.randn(250, 2, generator=gen) * 0.8 + 0.5
    modes = torch.tensor([[0.0, 0.0], [1.0, 1.0], [-1.0, 1.0]])
    calls = {
        "mode_coverage": dict(fake=fake, modes=modes, std=0.2),
        "wasserstein": dict(real=real, fake=fake),
        "sliced_wasserstein": dict(real=real, fake=fake),
        "mmd": dict(real=real, fake=fake, chunk_size=64),
    }
    for metric_id, kwargs in calls.items():
        cpu = METRICS[metric_id](**kwargs)
        gpu = METRICS[metric_id](**{k: v.cuda() if torch.is_tensor(v) else v for k, v in kwargs.items()})
        # Same float64 formulas on both devices; only reduction order and BLAS kernels differ. 1e-6 absolute
        # covers the ~1e-8 rounding of the exact-W1 ground cost (see wasserstein.py), 1e-9 relative the rest.
        assert gpu == pytest.approx(cpu, rel=1e-9, abs=1e-6), metric_id


def test_a_run_saved_with_the_short_targets_still_evaluates():
    from ganctl.engine.evaluate import compute_metrics

    gen = torch.Generator().manual_seed(0)
    real, fake = torch.randn(60, 2, generator=gen), torch.randn(50, 2, generator=gen) + 1.0
    old = OmegaConf.create({"wasserstein": {"_target_": "ganctl.metrics.wasserstein"}, "features": "raw"})
    assert compute_metrics(old, real, fake, {}) == {"wasserstein": METRICS["wasserstein"](real=real, fake=fake)}
