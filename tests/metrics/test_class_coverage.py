"""class_coverage against hand counts: argmax labels, the rarest class's share, KL to even classes."""

import math

import pytest
import torch

from ganctl.errors import UserError
from ganctl.metrics.class_coverage import class_coverage


def one_hot(labels, k):
    return torch.nn.functional.one_hot(torch.tensor(labels), k).double() * 0.9 + 0.1 / k  # rows sum to 1


def test_counts_argmax_labels_and_kl_to_even_classes():
    # 4 classes, 8 samples: labels 0 x4, 1 x2, 2 x2, class 3 never generated
    out = class_coverage(probs=one_hot([0, 0, 0, 0, 1, 1, 2, 2], 4))
    assert out["classes_covered"] == 3.0 and out["class_min_pct"] == 0.0
    assert out["class_kl"] == pytest.approx(0.5 * math.log(2) + 2 * 0.25 * math.log(1.0), rel=1e-12)


def test_even_classes_give_zero_kl_and_the_largest_minimum():
    out = class_coverage(probs=one_hot(list(range(10)) * 3, 10))
    assert out == {"classes_covered": 10.0, "class_min_pct": pytest.approx(10.0), "class_kl": 0.0}


def test_one_class_is_total_collapse():
    out = class_coverage(probs=one_hot([2] * 5, 10))
    assert out["classes_covered"] == 1.0 and out["class_kl"] == pytest.approx(math.log(10), rel=1e-12)


def test_logits_are_refused():
    with pytest.raises(UserError, match="apply softmax"):
        class_coverage(probs=torch.randn(4, 3))
