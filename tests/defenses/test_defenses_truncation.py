"""Top-k, label only and the high-confidence cut-off: they hide, never relabel."""

from __future__ import annotations

import numpy as np
import pytest
from defense_strategies import FAST, probability_batches
from hypothesis import given
from hypothesis import strategies as st

from defenses import parse_spec


@FAST
@given(rows=probability_batches(), k=st.integers(1, 10))
def test_top_k_keeps_the_k_largest_and_the_label(rows: np.ndarray, k: int) -> None:
    out = parse_spec([{"top_k": k}]).apply(rows)
    kept = out.probabilities > 0
    assert out.probabilities.shape == rows.shape
    assert np.all(kept.sum(axis=1) <= k)
    np.testing.assert_array_equal(out.probabilities[kept], rows[kept])
    for row, mask in zip(rows, kept, strict=True):
        if mask.any() and (~mask).any():
            assert row[mask].min() >= row[~mask].max()
    assert out.labels.tolist() == rows.argmax(axis=1).tolist()
    assert np.all(out.probabilities.sum(axis=1) <= 1 + 1e-12)


def test_top_k_does_not_renormalise_and_breaks_ties_by_index() -> None:
    out = parse_spec([{"top_k": 2}]).apply(np.array([[0.4, 0.3, 0.3], [0.1, 0.3, 0.6]]))
    np.testing.assert_array_equal(out.probabilities, [[0.4, 0.3, 0.0], [0.0, 0.3, 0.6]])


def test_top_k_keeps_the_label_column_when_rounding_made_a_tie() -> None:
    out = parse_spec([{"round": 0.1}, {"top_k": 1}]).apply(np.array([[0.49, 0.51]]))
    assert out.labels.tolist() == [1]
    np.testing.assert_allclose(out.probabilities, [[0.0, 0.5]], atol=1e-12)


def test_top_k_larger_than_the_classes_is_the_identity() -> None:
    rows = np.array([[0.2, 0.8]])
    np.testing.assert_array_equal(parse_spec([{"top_k": 5}]).apply(rows).probabilities, rows)


def test_label_only_is_each_rows_own_one_hot() -> None:
    # ART's ClassLabels sets the winners of every row in every row; here each row stands alone.
    rows = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.3, 0.5]])
    out = parse_spec([{"label_only": True}]).apply(rows)
    np.testing.assert_array_equal(out.probabilities, np.eye(3))
    assert out.labels.tolist() == [0, 1, 2]


@FAST
@given(rows=probability_batches(min_rows=2))
def test_label_only_rows_are_independent(rows: np.ndarray) -> None:
    pipeline = parse_spec([{"label_only": True}])
    batch = pipeline.apply(rows)
    assert np.all(batch.probabilities.sum(axis=1) == 1)
    for i, row in enumerate(rows):
        np.testing.assert_array_equal(batch.probabilities[i], pipeline.apply(row[None, :]).probabilities[0])


@FAST
@given(rows=probability_batches(), c=st.floats(0.01, 1.0))
def test_cutoff_caps_confidences_and_keeps_the_label(rows: np.ndarray, c: float) -> None:
    out = parse_spec([{"cutoff": c}]).apply(rows)
    np.testing.assert_array_equal(out.probabilities, np.minimum(rows, c))
    assert np.all(out.probabilities <= c)
    assert out.labels.tolist() == rows.argmax(axis=1).tolist()


def test_cutoff_ties_keep_the_clean_label() -> None:
    out = parse_spec([{"cutoff": 0.2}]).apply(np.array([[0.7, 0.3], [0.3, 0.7]]))
    np.testing.assert_array_equal(out.probabilities, [[0.2, 0.2], [0.2, 0.2]])
    assert out.labels.tolist() == [0, 1]


@pytest.mark.parametrize("spec", [[{"top_k": 2}], [{"cutoff": 0.5}]])
@FAST
@given(rows=probability_batches(min_rows=2))
def test_truncations_treat_rows_independently(spec: list, rows: np.ndarray) -> None:
    pipeline = parse_spec(spec)
    batch = pipeline.apply(rows)
    for i, row in enumerate(rows):
        np.testing.assert_array_equal(batch.probabilities[i], pipeline.apply(row[None, :]).probabilities[0])
