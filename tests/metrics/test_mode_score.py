"""MODE score on hand-made class probabilities, every value written out as its formula."""

import math

import pytest
import torch

from ganctl.errors import UserError
from ganctl.metrics.mode_score import mode_score

F64 = torch.float64


def test_mode_score_with_matching_marginals_is_the_inception_score():
    # Fake: one-hot, evenly over 2 classes (IS 2); real marginal (1/2, 1/2) equals the generated one: no penalty.
    fake = torch.tensor([[1.0, 0.0], [0.0, 1.0]] * 3, dtype=F64)
    real = torch.tensor([[0.5, 0.5], [0.9, 0.1], [0.1, 0.9]], dtype=F64)
    assert mode_score(real_probs=real, probs=fake) == pytest.approx(2.0, rel=1e-12)


def test_mode_score_hand_computed_with_different_marginals():
    # Fake one-hot with p(y) = (3/4, 1/4): E KL(p(y|x) || p(y)) = 3/4 log(4/3) + 1/4 log 4 (= the entropy of p(y)).
    # Real marginal p*(y) = (1/2, 1/2): KL(p* || p) = 1/2 log((1/2)/(3/4)) + 1/2 log((1/2)/(1/4)).
    fake = torch.tensor([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0]], dtype=F64)
    real = torch.tensor([[0.5, 0.5], [0.7, 0.3], [0.3, 0.7]], dtype=F64)
    first = 0.75 * math.log(4 / 3) + 0.25 * math.log(4)
    penalty = 0.5 * math.log(0.5 / 0.75) + 0.5 * math.log(0.5 / 0.25)
    assert mode_score(real_probs=real, probs=fake) == pytest.approx(math.exp(first - penalty), rel=1e-12)
    # real and fake are not interchangeable: swapped, the numbers differ (fake now has a soft marginal).
    assert mode_score(real_probs=fake, probs=real) != pytest.approx(math.exp(first - penalty), rel=1e-3)


def test_mode_score_is_zero_when_a_real_class_is_never_generated():
    fake = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], dtype=F64)  # class 2 never generated
    real = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], dtype=F64)
    assert mode_score(real_probs=real, probs=fake) == 0.0


def test_mode_score_is_keyword_only_and_checks_inputs():
    p = torch.tensor([[0.5, 0.5]], dtype=F64)
    with pytest.raises(TypeError):
        mode_score(p, p)
    with pytest.raises(UserError, match="same K"):
        mode_score(real_probs=p, probs=torch.tensor([[0.2, 0.3, 0.5]]))
    with pytest.raises(UserError, match="softmax"):
        mode_score(real_probs=p, probs=torch.tensor([[2.0, -1.0]]))
