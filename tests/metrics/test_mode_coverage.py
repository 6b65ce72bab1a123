"""Mode coverage on hand-built samples around the PacGAN 2D-ring (8 modes on the unit circle, std 0.01)."""

import math

import pytest
import torch

from ganctl.errors import UserError
from ganctl.metrics.mode_coverage import mode_coverage

STD = 0.01
RING = torch.tensor(
    [[math.cos(2 * math.pi * k / 8), math.sin(2 * math.pi * k / 8)] for k in range(8)], dtype=torch.float64
)


def around(mode, offsets_in_std):
    """Samples at mode centre + offset * STD: the offsets are written in standard deviations."""
    return RING[mode] + STD * torch.tensor(offsets_in_std, dtype=torch.float64)


def test_mode_coverage_hand_built_counts_and_kl():
    fake = torch.cat([
        around(0, [[1, 0], [0, 2], [-1.5, 0], [0, -2.5]]),  # 4 high-quality samples on mode 0 (1 to 2.5 std)
        around(1, [[0.5, 0.5], [-1, 1]]),                     # 2 on mode 1
        around(2, [[2, 2]]),                                   # 1 on mode 2 (2.83 std)
        around(3, [[0, 0]]),                                   # 1 on mode 3
        around(4, [[2.9, 0], [0, -0.1]]),                      # 2 on mode 4
        around(5, [[3.5, 0]]),                                 # 3.5 std from mode 5: not high-quality
        around(6, [[2.2, 2.2]]),                               # 3.11 std from mode 6: not high-quality
        torch.zeros(1, 2, dtype=torch.float64),                # the ring's centre, 100 std from every mode
    ])
    out = mode_coverage(fake=fake, modes=RING, std=STD)
    assert set(out) == {"modes_captured", "high_quality_pct", "reverse_kl", "mode_tv"}
    assert out["modes_captured"] == 5.0  # modes 5 and 6 got only near-misses, 7 nothing
    assert out["high_quality_pct"] == pytest.approx(100 * 10 / 13, abs=1e-12)
    # p over the 10 high-quality samples = (.4, .2, .1, .1, .2, 0, 0, 0); KL(p || 1/8) = sum p log(8 p), 0 log 0 = 0
    kl = 0.4 * math.log(8 * 0.4) + 2 * 0.2 * math.log(8 * 0.2) + 2 * 0.1 * math.log(8 * 0.1)
    assert out["reverse_kl"] == pytest.approx(kl, abs=1e-12)
    # TV as half the L1 distance over 9 bins: the 8 modes' counts and the 3 samples off every mode, out of 13,
    # against the mixture's 1/8 on each mode and 0 off them
    q = [4, 2, 1, 1, 2, 0, 0, 0, 3]
    u = [1 / 8] * 8 + [0]
    assert out["mode_tv"] == pytest.approx(0.5 * sum(abs(c / 13 - w) for c, w in zip(q, u)), abs=1e-12)


def test_mode_coverage_uniform_coverage_has_zero_kl():
    fake = torch.cat([around(k, [[0, 0], [1, 0], [0, -1]]) for k in range(8)])
    out = mode_coverage(fake=fake, modes=RING, std=STD)
    assert out == {"modes_captured": 8.0, "high_quality_pct": 100.0, "reverse_kl": pytest.approx(0.0, abs=1e-12),
                   "mode_tv": pytest.approx(0.0, abs=1e-12)}


def test_mode_coverage_one_mode_of_eight_gives_log8():
    fake = around(3, [[0, 0], [1, 1], [-2, 0], [0, 2.5], [0.1, -0.2]])
    out = mode_coverage(fake=fake, modes=RING, std=STD)
    assert out["modes_captured"] == 1.0
    assert out["high_quality_pct"] == 100.0
    assert out["reverse_kl"] == pytest.approx(math.log(8), abs=1e-12)
    assert out["mode_tv"] == pytest.approx(7 / 8, abs=1e-12)  # every sample precise, seven modes' mass missing


def test_mode_coverage_no_high_quality_sample_is_finite_worst_case():
    fake = torch.cat([torch.zeros(3, 2, dtype=torch.float64), around(2, [[5, 0]])])  # nothing within 3 std
    out = mode_coverage(fake=fake, modes=RING, std=STD)
    assert out == {"modes_captured": 0.0, "high_quality_pct": 0.0, "reverse_kl": pytest.approx(math.log(8), abs=1e-12),
                   "mode_tv": 1.0}


def test_mode_coverage_threshold_and_std_scale_the_radius():
    fake = around(5, [[3.5, 0]])
    assert mode_coverage(fake=fake, modes=RING, std=STD)["modes_captured"] == 0.0
    assert mode_coverage(fake=fake, modes=RING, std=STD, threshold=4.0)["modes_captured"] == 1.0
    assert mode_coverage(fake=fake, modes=RING, std=2 * STD)["modes_captured"] == 1.0  # 1.75 std


def test_mode_coverage_accepts_float32_and_a_tensor_std():
    fake = around(0, [[1, 0], [0, 1]]).float()
    out = mode_coverage(fake=fake, modes=RING.float(), std=torch.tensor(STD))
    assert out["modes_captured"] == 1.0 and out["high_quality_pct"] == 100.0


def test_mode_coverage_is_keyword_only_and_checks_shapes():
    with pytest.raises(TypeError):
        mode_coverage(RING, RING, STD)
    with pytest.raises(UserError, match="same d"):
        mode_coverage(fake=torch.zeros(4, 3), modes=RING, std=STD)
    with pytest.raises(UserError, match="positive"):
        mode_coverage(fake=RING, modes=RING, std=0.0)
