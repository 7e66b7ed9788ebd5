"""Pipelines as a whole: invariants for any spec, composition order, input checks."""

from __future__ import annotations

import numpy as np
import pytest
from defense_strategies import FAST, inputs_for, probability_batches, specs
from hypothesis import given
from hypothesis import strategies as st

from defenses import Defended, parse_spec
from defenses.rows import SMALL_BATCH


def has_fresh_noise(spec: list) -> bool:
    return any("noise" in step and not step.get("deterministic") for step in spec)


@FAST
@given(spec=specs, rows=probability_batches(), seed=st.integers(0, 2**32))
def test_any_pipeline_gives_valid_outputs(spec: list, rows: np.ndarray, seed: int) -> None:
    pipeline = parse_spec(spec)
    original = rows.copy()
    out = pipeline.apply(rows, inputs=inputs_for(rows), seed=seed)
    assert isinstance(out, Defended)
    np.testing.assert_array_equal(rows, original)
    assert out.probabilities.shape == rows.shape and out.probabilities.dtype == np.float64
    assert out.labels.shape == (len(rows),) and out.labels.dtype.kind == "i"
    assert np.all((out.probabilities >= 0) & (out.probabilities <= 1))
    assert np.all((out.labels >= 0) & (out.labels < rows.shape[1]))
    label_values = out.probabilities[np.arange(len(rows)), out.labels]
    np.testing.assert_array_equal(label_values, out.probabilities.max(axis=1))
    if not pipeline.changes_label:
        assert out.labels.tolist() == rows.argmax(axis=1).tolist()
    again = pipeline.apply(rows, inputs=inputs_for(rows), seed=seed)
    np.testing.assert_array_equal(again.probabilities, out.probabilities)
    np.testing.assert_array_equal(again.labels, out.labels)


@FAST
@given(spec=specs, rows=probability_batches(min_rows=2), seed=st.integers(0, 2**32))
def test_rows_are_independent(spec: list, rows: np.ndarray, seed: int) -> None:
    pipeline = parse_spec(spec)
    inputs = inputs_for(rows)
    batch = pipeline.apply(rows, inputs=inputs, seed=seed)
    if has_fresh_noise(spec):
        prefix = pipeline.apply(rows[:1], inputs=inputs[:1], seed=seed)
        np.testing.assert_array_equal(prefix.probabilities[0], batch.probabilities[0])
        return
    for i in range(len(rows)):
        single = pipeline.apply(rows[i : i + 1], inputs=inputs[i : i + 1], seed=seed)
        np.testing.assert_array_equal(single.probabilities[0], batch.probabilities[i])
        assert single.labels[0] == batch.labels[i]


def test_composition_is_applied_in_order() -> None:
    rows = np.array([[0.36, 0.64]])
    round_then_cut = parse_spec([{"round": 0.1}, {"cutoff": 0.33}]).apply(rows)
    cut_then_round = parse_spec([{"cutoff": 0.33}, {"round": 0.1}]).apply(rows)
    np.testing.assert_allclose(round_then_cut.probabilities, [[0.33, 0.33]])
    np.testing.assert_allclose(cut_then_round.probabilities, [[0.3, 0.3]])


def test_label_only_after_noise_reports_the_noisy_label() -> None:
    rows = np.tile([[0.51, 0.49]], (200, 1))
    noise = {"noise": "gaussian", "scale": 0.3}
    noisy_first = parse_spec([noise, {"label_only": True}]).apply(rows, seed=4)
    np.testing.assert_array_equal(noisy_first.probabilities, np.eye(2)[noisy_first.labels])
    assert 0 < noisy_first.labels.mean() < 1
    label_first = parse_spec([{"label_only": True}, noise]).apply(rows, seed=4)
    assert not np.all(np.isin(label_first.probabilities, [0.0, 1.0]))


def test_unrenormalised_steps_then_round() -> None:
    rows = np.array([[0.5, 0.3, 0.2]])
    out = parse_spec([{"top_k": 2}, {"round": 0.25}]).apply(rows)
    np.testing.assert_allclose(out.probabilities, [[0.5, 0.25, 0.0]])


def test_empty_batch() -> None:
    out = parse_spec([{"noise": "laplace", "scale": 0.1, "deterministic": True}, {"top_k": 1}]).apply(
        np.zeros((0, 3)), inputs=np.zeros((0, 4))
    )
    assert out.probabilities.shape == (0, 3) and out.labels.shape == (0,)


@pytest.mark.parametrize(
    ("probabilities", "message"),
    [
        (np.array([0.2, 0.8]), "2-D"),
        (np.zeros((2, 3, 1)), "2-D"),
        (np.zeros((2, 0)), "at least one class"),
        (np.array([[np.nan, 1.0]]), "finite"),
        (np.array([[np.inf, 0.0]]), "finite"),
        (np.array([[2.5, -1.0]]), "must lie in [0, 1]"),
    ],
)
def test_probabilities_are_validated(probabilities: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_spec([{"round": 0.1}]).apply(probabilities)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    "clean",
    [
        np.array([[0.2, 0.3, 0.5]]),
        np.array([[0.5, 0.5], [1.0, 0.0], [0.0, 1.0]]),
        np.array([[0.25, 0.75]], dtype=np.float32),
        np.array([[1.0000001, -0.0000001]]),  # within the tolerance: clipped
        np.array([[0.1, 0.9]] * 20),  # beyond the small batch
        np.array([[1, 0]]),  # integers take the general path
    ],
)
def test_no_defense_is_the_checked_rows_and_their_argmax(clean: np.ndarray) -> None:
    out = parse_spec([]).apply(clean, inputs=None, secret=7)
    assert out.probabilities.dtype == np.float64 and out.labels.dtype == np.int64
    np.testing.assert_array_equal(out.probabilities, np.clip(clean.astype(np.float64), 0.0, 1.0))
    np.testing.assert_array_equal(out.labels, clean.argmax(axis=1))
    assert out.probabilities is not clean


@pytest.mark.parametrize("row", [[np.nan, 1.0], [1.5, -0.5], [np.inf, 0.0]])
def test_small_and_large_batches_are_refused_alike(row: list) -> None:
    messages = []
    for rows in (1, SMALL_BATCH + 1):
        with pytest.raises(ValueError) as caught:
            parse_spec([]).apply(np.array([row] * rows))
        messages.append(str(caught.value))
    assert messages[0] == messages[1]


def test_float32_rounding_noise_is_tolerated() -> None:
    rows = np.array([[1.0000001, -1e-8]], dtype=np.float64)
    np.testing.assert_array_equal(parse_spec([]).apply(rows).probabilities, [[1.0, 0.0]])


@pytest.mark.parametrize("seed", [-1, 1.5, True, "3"])
def test_seed_is_validated(seed: object) -> None:
    with pytest.raises(ValueError, match="seed must be None or a non-negative integer"):
        parse_spec([{"noise": "gaussian", "scale": 0.1}]).apply(np.array([[0.5, 0.5]]), seed=seed)
