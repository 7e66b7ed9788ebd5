"""Reverse sigmoid (Lee et al. 2019): the formula, its range, and that it may relabel."""

from __future__ import annotations

import numpy as np
from defense_strategies import FAST, probability_batches
from hypothesis import given
from hypothesis import strategies as st

from defenses import parse_spec
from defenses.reverse_sigmoid import reverse_sigmoid


def expected(row: np.ndarray, beta: float, gamma: float) -> np.ndarray:
    sigma = 1.0 / (1.0 + ((1.0 - row) / row) ** gamma)
    out = np.clip(row - beta * (sigma - 0.5), 0.0, 1.0)
    return out / out.sum()


def test_matches_the_formula_and_can_flip_the_label() -> None:
    rows = np.array([[0.6, 0.4], [0.7, 0.3]])
    pipeline = parse_spec([{"reverse_sigmoid": {"beta": 1.0, "gamma": 3.0}}])
    out = pipeline.apply(rows)
    for i, row in enumerate(rows):
        np.testing.assert_allclose(out.probabilities[i], expected(row, 1.0, 3.0), rtol=1e-12)
    assert out.probabilities[0, 1] > out.probabilities[0, 0]
    assert out.labels[0] == 1
    assert pipeline.changes_label


def test_gentle_setting_keeps_the_order() -> None:
    rows = np.array([[0.6, 0.3, 0.1]])
    out = parse_spec([{"reverse_sigmoid": {"beta": 0.1, "gamma": 0.5}}]).apply(rows)
    np.testing.assert_allclose(out.probabilities[0], expected(rows[0], 0.1, 0.5), rtol=1e-12)
    assert out.labels.tolist() == [0]


def test_tiny_gamma_on_certain_rows_is_the_limit_not_a_uniform_row() -> None:
    out = reverse_sigmoid(np.array([[1.0, 0.0]]), 0.4, 5e-324)
    np.testing.assert_allclose(out, [[0.8, 0.2]], rtol=1e-12)


def test_certain_and_zero_confidences_stay_finite() -> None:
    out = reverse_sigmoid(np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]), 0.5, 2.0)
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out[0], np.array([0.75, 0.25, 0.25]) / 1.25)
    np.testing.assert_allclose(out[1], [1 / 3, 1 / 3, 1 / 3])


@FAST
@given(rows=probability_batches(min_rows=2), beta=st.floats(0.01, 3.0), gamma=st.floats(0.01, 20.0))
def test_range_sum_labels_and_row_independence(rows: np.ndarray, beta: float, gamma: float) -> None:
    pipeline = parse_spec([{"reverse_sigmoid": {"beta": beta, "gamma": gamma}}])
    out = pipeline.apply(rows)
    assert np.all((out.probabilities >= 0) & (out.probabilities <= 1))
    np.testing.assert_allclose(out.probabilities.sum(axis=1), 1.0)
    label_values = out.probabilities[np.arange(len(rows)), out.labels]
    np.testing.assert_array_equal(label_values, out.probabilities.max(axis=1))
    for i, row in enumerate(rows):
        np.testing.assert_array_equal(out.probabilities[i], pipeline.apply(row[None, :]).probabilities[0])
