"""DP-SGD's privacy accounting and reproducibility, at reduced size on digits."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from opacus.accountants import RDPAccountant
from opacus.accountants.utils import get_noise_multiplier

from app.zoo.defended import dp_sgd, variants

SMALL = {**dp_sgd.COMMON, **dp_sgd.ARCHITECTURE_PARAMS["mlp"], "hidden": 16, "epochs": 2, "noise_multiplier": 0.7}


def rdp_epsilon(noise_multiplier: float, sample_rate: float, steps: int, delta: float) -> float:
    accountant = RDPAccountant()
    accountant.history = [(noise_multiplier, sample_rate, steps)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return accountant.get_epsilon(delta)


def test_reported_epsilon_is_opacus_accountant_for_the_steps_taken(small_digits) -> None:
    X, y = small_digits
    outcome = dp_sgd.train(X, y, 10, 0, SMALL)
    facts = outcome.facts
    batch = dp_sgd.expected_batch(len(X), SMALL["sample_rate"])
    assert facts["batch_size"] == batch == 30
    assert facts["sample_rate"] == pytest.approx(1 / 10)
    assert facts["steps"] == dp_sgd.steps(len(X), SMALL) == 2 * 10
    expected = rdp_epsilon(0.7, 0.1, 20, 1e-5)
    assert facts["epsilon"] == pytest.approx(expected, rel=1e-9)
    assert (facts["delta"], facts["noise_multiplier"], facts["max_grad_norm"]) == (1e-5, 0.7, 1.0)


@pytest.mark.filterwarnings("ignore:Optimal order")  # the calibration's search tries noises far off the target
def test_epsilon_matches_the_noise_opacus_calibrates_for_a_target() -> None:
    """A known configuration: Opacus's own calibration of the noise for epsilon 8 over 15
    epochs at sample rate 0.1, fed back through the accountant the models report with."""
    noise = get_noise_multiplier(target_epsilon=8.0, target_delta=1e-5, sample_rate=0.1, epochs=15, accountant="rdp")
    assert rdp_epsilon(noise, 0.1, 150, 1e-5) == pytest.approx(8.0, abs=0.05)
    # more noise, same steps: less privacy spent, in the order of the served variants
    spent = [rdp_epsilon(v.params["noise_multiplier"], 0.1, 150, 1e-5)
             for v in variants().values() if v.defense == "dp-sgd" and v.architecture == "softmax"]
    assert spent == sorted(spent, reverse=True) and len(spent) == 4


def test_same_seed_same_weights_other_seed_other_weights(small_digits) -> None:
    X, y = small_digits
    first, again, other = (dp_sgd.train(X, y, 10, seed, SMALL) for seed in (0, 0, 1))
    for a, b in zip(first.layers, again.layers, strict=True):
        np.testing.assert_array_equal(a.weights, b.weights)
        np.testing.assert_array_equal(a.bias, b.bias)
    assert not np.array_equal(first.layers[0].weights, other.layers[0].weights)
    assert first.facts["epsilon"] == other.facts["epsilon"]

