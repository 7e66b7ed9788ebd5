"""Gaussian and Laplace noise: seeding, freshness, deterministic mode, all-zero rows."""

from __future__ import annotations

import numpy as np
import pytest
from defense_strategies import FAST, inputs_for, probability_batches
from hypothesis import given
from hypothesis import strategies as st

from defenses import parse_spec
from defenses.noise import add_noise, fresh_noise, keyed_noise, row_digests, step_key

ROWS = np.random.default_rng(7).dirichlet(np.ones(5), size=6)
KINDS = ["gaussian", "laplace"]


def noise_spec(kind: str, scale: float = 0.05, deterministic: bool = False) -> list[dict]:
    return [{"noise": kind, "scale": scale, "deterministic": deterministic}]


@pytest.mark.parametrize("kind", KINDS)
@FAST
@given(rows=probability_batches(), scale=st.floats(0.0, 1.0), seed=st.integers(0, 2**32))
def test_rows_stay_distributions(kind: str, rows: np.ndarray, scale: float, seed: int) -> None:
    out = parse_spec(noise_spec(kind, scale)).apply(rows, seed=seed)
    assert out.probabilities.shape == rows.shape
    assert np.all((out.probabilities >= 0) & (out.probabilities <= 1))
    np.testing.assert_allclose(out.probabilities.sum(axis=1), 1.0)
    label_values = out.probabilities[np.arange(len(rows)), out.labels]
    np.testing.assert_array_equal(label_values, out.probabilities.max(axis=1))


@pytest.mark.parametrize("kind", KINDS)
def test_seed_reproduces_and_fresh_calls_differ(kind: str) -> None:
    pipeline = parse_spec(noise_spec(kind))
    first, again = pipeline.apply(ROWS, seed=3), pipeline.apply(ROWS, seed=3)
    np.testing.assert_array_equal(first.probabilities, again.probabilities)
    assert not np.array_equal(first.probabilities, pipeline.apply(ROWS, seed=4).probabilities)
    fresh_a, fresh_b = pipeline.apply(ROWS), pipeline.apply(ROWS)
    assert not np.array_equal(fresh_a.probabilities, fresh_b.probabilities)
    assert not np.array_equal(fresh_a.probabilities, ROWS)


def test_gaussian_and_laplace_differ_under_one_seed() -> None:
    gaussian = parse_spec(noise_spec("gaussian")).apply(ROWS, seed=1)
    laplace = parse_spec(noise_spec("laplace")).apply(ROWS, seed=1)
    assert not np.array_equal(gaussian.probabilities, laplace.probabilities)


@pytest.mark.parametrize("kind", KINDS)
@FAST
@given(rows=probability_batches(min_rows=3), seed=st.integers(0, 2**32), data=st.data())
def test_seeded_row_depends_only_on_its_own_row_and_position(
    kind: str, rows: np.ndarray, seed: int, data: st.DataObject
) -> None:
    # Definition for seeded fresh noise: row i's output is a function of (row i, i, seed),
    # so other rows can change (or be cut off) without touching it.
    pipeline = parse_spec(noise_spec(kind, 0.2))
    batch = pipeline.apply(rows, seed=seed).probabilities
    m = data.draw(st.integers(1, len(rows)))
    np.testing.assert_array_equal(pipeline.apply(rows[:m], seed=seed).probabilities, batch[:m])
    changed = rows.copy()
    changed[1:] = changed[1:, ::-1]
    np.testing.assert_array_equal(pipeline.apply(changed, seed=seed).probabilities[0], batch[0])


@pytest.mark.parametrize("kind", KINDS)
def test_stacked_noise_steps_draw_independent_noise(kind: str) -> None:
    rows = np.full((1, 4), 0.25)
    one = parse_spec(noise_spec(kind, 0.01)).apply(rows, seed=5).probabilities
    two = parse_spec(noise_spec(kind, 0.01) * 2).apply(rows, seed=5).probabilities
    # Reusing one stream would repeat the first step's noise up to renormalisation (~2e-4 here).
    assert not np.allclose(one - rows, two - one, atol=2e-3)


@pytest.mark.parametrize("kind", KINDS)
def test_deterministic_noise_repeats_for_the_same_input(kind: str) -> None:
    pipeline = parse_spec(noise_spec(kind, deterministic=True))
    inputs = inputs_for(ROWS)
    first = pipeline.apply(ROWS, inputs=inputs)
    np.testing.assert_array_equal(first.probabilities, pipeline.apply(ROWS, inputs=inputs).probabilities)
    single = inputs.astype(np.float32)
    np.testing.assert_array_equal(
        pipeline.apply(ROWS, inputs=single).probabilities,
        pipeline.apply(ROWS, inputs=single.astype(np.float64)).probabilities,
    )
    assert not np.array_equal(first.probabilities, ROWS)
    other_key = pipeline.apply(ROWS, inputs=inputs, seed=99).probabilities
    assert not np.array_equal(first.probabilities, other_key)
    nudged = inputs.copy()
    nudged[:, 0] += 1e-9
    assert not np.array_equal(first.probabilities, pipeline.apply(ROWS, inputs=nudged).probabilities)


def test_deterministic_noise_follows_the_input_not_the_position() -> None:
    pipeline = parse_spec(noise_spec("laplace", deterministic=True))
    rows = np.tile(ROWS[:1], (3, 1))
    inputs = np.array([[1.0, 2.0], [3.0, 4.0], [1.0, 2.0]])
    out = pipeline.apply(rows, inputs=inputs).probabilities
    np.testing.assert_array_equal(out[0], out[2])
    assert not np.array_equal(out[0], out[1])


@pytest.mark.parametrize("kind", KINDS)
@FAST
@given(rows=probability_batches(min_rows=2), seed=st.integers(0, 2**32))
def test_deterministic_noise_batch_equals_row_by_row(kind: str, rows: np.ndarray, seed: int) -> None:
    pipeline = parse_spec(noise_spec(kind, 0.3, deterministic=True))
    inputs = inputs_for(rows)
    batch = pipeline.apply(rows, inputs=inputs, seed=seed)
    for i in range(len(rows)):
        single = pipeline.apply(rows[i : i + 1], inputs=inputs[i : i + 1], seed=seed)
        np.testing.assert_array_equal(batch.probabilities[i], single.probabilities[0])
        assert batch.labels[i] == single.labels[0]


def test_deterministic_noise_needs_matching_inputs() -> None:
    pipeline = parse_spec(noise_spec("gaussian", deterministic=True))
    with pytest.raises(ValueError, match="needs the model inputs"):
        pipeline.apply(ROWS)
    with pytest.raises(ValueError, match="one row per probability row"):
        pipeline.apply(ROWS, inputs=np.zeros((2, 3)))


def test_non_numeric_inputs_hash_by_value() -> None:
    records = np.array([["red", np.nan], ["blue", 1.0]], dtype=object)
    copy = np.array([["red", float("nan")], ["blue", 1]], dtype=object)
    assert row_digests(records, 2) == row_digests(copy, 2)
    assert row_digests(records, 2)[0] != row_digests(records, 2)[1]


def test_an_all_zero_row_falls_back_to_uniform() -> None:
    np.testing.assert_array_equal(add_noise(np.array([[0.2, 0.8]]), np.array([[-1.0, -0.9]])), [[0.5, 0.5]])


@pytest.mark.parametrize("kind", KINDS)
def test_huge_noise_wipes_some_rows_and_they_become_uniform_keeping_the_label(kind: str) -> None:
    rows = np.tile([[0.3, 0.7]], (2000, 1))
    out = parse_spec(noise_spec(kind, 1.0)).apply(rows, seed=11)
    assert np.all(np.isfinite(out.probabilities))
    np.testing.assert_allclose(out.probabilities.sum(axis=1), 1.0)
    uniform = np.all(out.probabilities == 0.5, axis=1)
    assert 20 < uniform.sum() < 1000
    assert np.all(out.labels[uniform] == 1)
    assert np.any(out.labels == 0)


def test_top_k_then_noise_on_zeroed_row() -> None:
    rows = np.tile([[0.05, 0.95, 0.0]], (500, 1))
    out = parse_spec([{"top_k": 1}, {"noise": "gaussian", "scale": 1.0}]).apply(rows, seed=2)
    assert np.all(np.isfinite(out.probabilities))
    np.testing.assert_allclose(out.probabilities.sum(axis=1), 1.0)
    assert np.any(np.all(out.probabilities == 1 / 3, axis=1))


def test_noise_may_change_the_label() -> None:
    rows = np.tile([[0.52, 0.48]], (300, 1))
    pipeline = parse_spec(noise_spec("gaussian", 0.2))
    out = pipeline.apply(rows, seed=0)
    assert pipeline.changes_label
    assert 0 < np.mean(out.labels == 1) < 1


def sample_stats(values: np.ndarray) -> tuple[float, float, float]:
    centred = values - values.mean()
    std = centred.std()
    return float(values.mean()), float(std), float(np.mean(centred**4) / std**4 - 3.0)


@pytest.mark.parametrize(("kind", "std", "kurtosis"), [("gaussian", 0.1, 0.0), ("laplace", 0.1 * np.sqrt(2), 3.0)])
def test_fresh_noise_has_the_named_distribution(kind: str, std: float, kurtosis: float) -> None:
    mean, sample_std, sample_kurtosis = sample_stats(
        fresh_noise(kind, 0.1, (20000, 5), np.random.SeedSequence(0)).ravel()
    )
    assert abs(mean) < 0.005
    assert sample_std == pytest.approx(std, rel=0.03)
    assert sample_kurtosis == pytest.approx(kurtosis, abs=0.5)


@pytest.mark.parametrize(("kind", "std", "kurtosis"), [("gaussian", 0.1, 0.0), ("laplace", 0.1 * np.sqrt(2), 3.0)])
def test_keyed_noise_has_the_named_distribution(kind: str, std: float, kurtosis: float) -> None:
    digests = row_digests(np.arange(20000.0)[:, None], 20000)
    values = keyed_noise(kind, 0.1, step_key(0, 0), digests, 5)
    mean, sample_std, sample_kurtosis = sample_stats(values.ravel())
    assert abs(mean) < 0.005
    assert sample_std == pytest.approx(std, rel=0.03)
    assert sample_kurtosis == pytest.approx(kurtosis, abs=0.5)


def test_secret_keys_deterministic_noise_while_fresh_noise_stays_fresh() -> None:
    probabilities = np.full((4, 5), 0.2)
    inputs = np.arange(20.0).reshape(4, 5)
    keyed = parse_spec([{"noise": "laplace", "scale": 0.05, "deterministic": True}])
    first = keyed.apply(probabilities, inputs=inputs, secret=1234).probabilities
    again = keyed.apply(probabilities, inputs=inputs, secret=1234).probabilities
    other = keyed.apply(probabilities, inputs=inputs, secret=4321).probabilities
    public = keyed.apply(probabilities, inputs=inputs).probabilities
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other) and not np.allclose(first, public)
    fresh = parse_spec([{"noise": "laplace", "scale": 0.05}])
    assert not np.allclose(
        fresh.apply(probabilities, secret=1234).probabilities, fresh.apply(probabilities, secret=1234).probabilities
    )
