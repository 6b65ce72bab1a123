"""The benchmark's configuration: every remedy has a conf/modes file that selects it, `make bench-modes` sweeps all of
them, and each composes with both mode protocols and the authors' protocols into the network it describes."""

import re
from pathlib import Path

import pytest
import torch

from ganctl.engine import build
from ganctl.engine.config import CONF_DIR
from tests.conftest import make_config

MODES = sorted(p.stem for p in (CONF_DIR / "modes").glob("*.yaml"))


def test_make_bench_modes_sweeps_every_method_of_conf_modes():
    makefile = (Path(__file__).parents[1] / "Makefile").read_text()
    methods = re.search(r"^MODES_METHODS \?= (.+)$", makefile, re.M).group(1).split(",")
    assert sorted(methods) == MODES
    assert len(MODES) == 11


@pytest.mark.parametrize("experiment", ["modes_ring8", "modes_grid25"])
@pytest.mark.parametrize("modes", MODES)
def test_each_benchmark_method_composes_and_builds(experiment, modes):
    cfg = make_config(f"+experiment={experiment}", f"+modes={modes}")
    assert cfg.method._target_ == make_config(f"method={modes}").method._target_
    torch.manual_seed(0)
    data = build.dataset(cfg)
    g, d = build.networks(cfg, data.shape, build.method(cfg))
    z = torch.randn(2 * 12, cfg.model.z_dim)  # 24 samples: any pack size of the benchmark divides it
    assert g(z).shape == (24, 2)


@pytest.mark.parametrize("experiment", ["pacgan_ring8", "pacgan_grid25"])
def test_authors_protocol_draws_packs_of_the_pack_size_from_n_0_002(experiment):
    cfg = make_config(f"+experiment={experiment}", "method=pacgan3")
    torch.manual_seed(0)
    data = build.dataset(cfg)
    g, d = build.networks(cfg, data.shape, build.method(cfg))
    first = next(m for m in d.modules() if isinstance(m, torch.nn.Linear))
    assert first.in_features == 3 * 2  # a pack of 3 points
    assert abs(first.weight.std().item() - 0.02) < 0.002
    assert all(m.momentum == 0.05 for m in g.modules() if isinstance(m, torch.nn.BatchNorm1d))
