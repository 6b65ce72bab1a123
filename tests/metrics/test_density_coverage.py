"""Density and coverage against a brute-force loop, the PRDC code's strict `<` boundary, and mode dropping."""

from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from ganctl.engine.evaluate import compute_metrics
from ganctl.errors import UserError
from ganctl.metrics.density_coverage import density_coverage
from tests.metrics.samples import randn, ring_samples

CONF = Path(__file__).resolve().parents[2] / "conf" / "metrics"



def brute_force_density_coverage(real, fake, k):
    real, fake = real.numpy(), fake.numpy()
    radii = [sorted(np.linalg.norm(real[i] - real[j]) for j in range(len(real)) if j != i)[k - 1]
             for i in range(len(real))]
    inside = [[np.linalg.norm(y - x) < r for y in fake] for x, r in zip(real, radii)]  # (N, M)
    density = sum(sum(row) for row in inside) / (k * len(fake))
    coverage = np.mean([any(row) for row in inside])
    return {"density": density, "coverage": coverage}


def test_density_coverage_match_brute_force_for_every_chunk_size():
    real, fake = randn(20, 3, seed=0), randn(16, 3, seed=1) * 0.8 + 1.5
    for k in (1, 5):
        expected = brute_force_density_coverage(real, fake, k)
        assert expected["density"] > 0 and 0 < expected["coverage"] < 1  # mixed, not trivial
        for chunk_size in (1, 5, 16, 1024):
            got = density_coverage(real=real, fake=fake, k=k, chunk_size=chunk_size)
            assert got == {"density": pytest.approx(expected["density"], rel=1e-15),
                           "coverage": expected["coverage"]}, (k, chunk_size)


def test_density_coverage_balls_are_open():
    # 1-D, k = 1: real 0, 2, 10, 12 all have radius 2. Fake 4 is exactly 2 from real 2: on the boundary, outside
    # with the PRDC code's strict `<`. Fake 11 is 1 from both 10 and 12. So density = 2 / (k M) = 1 and coverage =
    # 2 / 4 (with `<=` they would be 1.5 and 0.75). Pooled mean 6.5: centred coordinates are halves, so exact.
    real = torch.tensor([[0.0], [2.0], [10.0], [12.0]], dtype=torch.float64)
    fake = torch.tensor([[4.0], [11.0]], dtype=torch.float64)
    assert density_coverage(real=real, fake=fake, k=1) == {"density": 1.0, "coverage": 0.5}



def test_coverage_falls_and_density_stays_as_modes_are_dropped():
    # Fewer generated modes hit fewer real neighbourhoods (coverage, a diversity measure), while every generated
    # sample still sits on a real mode among real balls of the usual size (density, a fidelity measure, ~1).
    real = ring_samples(200, list(range(8)), seed=2)
    outs = [density_coverage(real=real, fake=ring_samples(200, list(range(k)), seed=3)) for k in (8, 4, 1)]
    coverage = [o["coverage"] for o in outs]
    assert coverage[0] > coverage[1] > coverage[2], coverage
    assert coverage[2] <= 1 / 8  # only the real points of one mode can be covered
    assert all(0.7 < o["density"] < 1.3 for o in outs), outs


def test_density_coverage_selected_by_its_config_through_the_engine():
    real, fake = randn(20, 2, seed=4), randn(18, 2, seed=5) + 0.3
    got = compute_metrics(OmegaConf.load(CONF / "density_coverage.yaml"), real, fake, {})
    expected = brute_force_density_coverage(real, fake, k=5)
    assert got == {"density": pytest.approx(expected["density"], rel=1e-15), "coverage": expected["coverage"]}


def test_density_coverage_is_keyword_only_and_checks_k():
    x = randn(5, 2, seed=6)
    with pytest.raises(TypeError):
        density_coverage(x, x)
    with pytest.raises(UserError, match="1 <= k"):
        density_coverage(real=x, fake=x, k=5)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_density_coverage_on_cuda_matches_cpu():
    real, fake = randn(2000, 16, seed=8), randn(1800, 16, seed=9) * 1.2
    cpu = density_coverage(real=real, fake=fake, chunk_size=500)
    assert density_coverage(real=real.cuda(), fake=fake.cuda(), chunk_size=500) == cpu  # random data: no near-ties
