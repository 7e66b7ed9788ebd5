"""Rounding to a grid of any step r, including steps ART's decimal rounding cannot express."""

from __future__ import annotations

import numpy as np
import pytest
from defense_strategies import FAST, probability_batches
from hypothesis import given
from hypothesis import strategies as st

from defenses import parse_spec
from defenses.rounding import grid_top, round_to_grid

PAPER_AND_ODD_STEPS = [0.001, 0.005, 0.01, 0.05, 0.03, 0.1, 0.6, 1 / 3, 1.0]


def assert_on_grid(out: np.ndarray, r: float) -> None:
    multiples = np.rint(out / r)
    assert np.all(np.abs(out - multiples * r) <= 1e-12), f"values off the grid of {r}"
    assert np.all((out >= 0) & (out <= 1))


@pytest.mark.parametrize("r", PAPER_AND_ODD_STEPS)
@FAST
@given(rows=probability_batches())
def test_outputs_are_the_nearest_grid_point_in_unit_interval(r: float, rows: np.ndarray) -> None:
    out = round_to_grid(rows, r)
    assert out.shape == rows.shape
    assert_on_grid(out, r)
    grid = np.arange(grid_top(r) + 1) * r
    distance_to_nearest = np.abs(rows[..., None] - grid).min(axis=-1)
    assert np.all(np.abs(out - rows) <= distance_to_nearest + 1e-12)


@FAST
@given(rows=probability_batches(), r=st.floats(1e-6, 1.0))
def test_any_step_size_lands_on_its_grid(rows: np.ndarray, r: float) -> None:
    assert_on_grid(round_to_grid(rows, r), r)


@pytest.mark.parametrize(
    ("r", "p", "expected"),
    [
        (0.005, 0.0126, 0.015),
        (0.005, 0.0124, 0.01),
        (0.05, 0.074, 0.05),
        (0.05, 0.076, 0.1),
        (0.03, 0.046, 0.06),
        (0.03, 1.0, 0.99),
        (0.6, 0.95, 0.6),
        (0.01, 0.015, 0.02),
    ],
)
def test_known_values(r: float, p: float, expected: float) -> None:
    assert round_to_grid(np.array([[p]]), r)[0, 0] == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(
    ("r", "top"), [(0.03, 33), (0.1, 10), (0.01, 100), (1 / 3, 3), (0.6, 1), (1.0, 1), (0.005, 200)]
)
def test_grid_top(r: float, top: int) -> None:
    assert grid_top(r) == top


def test_rounding_ties_keep_the_clean_label() -> None:
    rows = np.array([[0.51, 0.49], [0.49, 0.51], [0.46, 0.54]])
    out = parse_spec([{"round": 0.1}]).apply(rows)
    np.testing.assert_allclose(out.probabilities, [[0.5, 0.5], [0.5, 0.5], [0.5, 0.5]], atol=1e-12)
    assert out.labels.tolist() == [0, 1, 1]


@pytest.mark.parametrize("r", [0.005, 0.05, 0.03])
@FAST
@given(rows=probability_batches(min_rows=2))
def test_rows_are_rounded_independently(r: float, rows: np.ndarray) -> None:
    pipeline = parse_spec([{"round": r}])
    batch = pipeline.apply(rows)
    for i, row in enumerate(rows):
        single = pipeline.apply(row[None, :])
        np.testing.assert_array_equal(batch.probabilities[i], single.probabilities[0])
        assert batch.labels[i] == single.labels[0]
    assert batch.labels.tolist() == rows.argmax(axis=1).tolist()
