"""LocalOracle: the test stand-in for the API counts what an attack spends."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from attack_clients.oracle import LocalOracle, Oracle, QueryBudgetExceeded, QueryStats, query_all


def softmax_predict(X: np.ndarray) -> np.ndarray:
    logits = np.stack([X.sum(axis=1), -X.sum(axis=1), np.zeros(len(X))], axis=1)
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_counts_queries_rows_and_bytes() -> None:
    oracle = LocalOracle(softmax_predict, ["a", "b", "c"])
    assert isinstance(oracle, Oracle)
    labels, probabilities = oracle.predict_proba(np.ones((5, 4)))
    oracle.predict_proba(np.zeros((3, 4)))
    assert labels.tolist() == [0] * 5
    assert probabilities.shape == (5, 3)
    assert oracle.stats.queries == 2
    assert oracle.stats.rows == 8
    assert oracle.stats.bytes_sent == 8 * 4 * 4
    assert oracle.stats.bytes_received > 0


def test_budget_is_enforced_before_answering() -> None:
    oracle = LocalOracle(softmax_predict, ["a", "b", "c"], max_rows=10)
    oracle.predict_proba(np.zeros((6, 2)))
    with pytest.raises(QueryBudgetExceeded):
        oracle.predict_proba(np.zeros((5, 2)))
    assert oracle.stats.rows == 6
    oracle.predict_proba(np.zeros((4, 2)))
    assert oracle.stats.rows == 10


def test_defense_rounds_probabilities_but_not_the_label() -> None:
    oracle = LocalOracle(softmax_predict, ["a", "b", "c"], defense=lambda p: np.round(p / 0.5) * 0.5)
    labels, probabilities = oracle.predict_proba(np.full((1, 2), 0.2))
    assert labels.tolist() == [0]
    assert set(np.unique(probabilities)) <= {0.0, 0.5, 1.0}


def test_defense_object_with_labels_decides_them() -> None:
    def label_only(p: np.ndarray) -> SimpleNamespace:
        return SimpleNamespace(labels=np.full(len(p), 2), probabilities=np.eye(3)[np.full(len(p), 2)])

    labels, probabilities = LocalOracle(softmax_predict, ["a", "b", "c"], defense=label_only).predict_proba(
        np.ones((2, 2))
    )
    assert labels.tolist() == [2, 2]
    assert probabilities[:, 2].tolist() == [1.0, 1.0]


def test_stats_snapshot_and_difference() -> None:
    stats = QueryStats(queries=2, rows=10, bytes_sent=5, bytes_received=7, seconds=1.0)
    before = stats.snapshot()
    stats.rows += 5
    stats.queries += 1
    assert stats.since(before).rows == 5
    assert stats.since(before).queries == 1
    assert before.rows == 10


def test_query_all_uses_as_few_calls_as_the_byte_cap_allows() -> None:
    oracle = LocalOracle(softmax_predict, ["a", "b", "c"])
    X = np.random.default_rng(0).random((10, 4))
    probabilities = query_all(oracle, X, max_batch_bytes=4 * 4 * 3)
    np.testing.assert_allclose(probabilities, softmax_predict(X.astype(np.float32)), rtol=1e-6)
    assert oracle.stats.queries == 4
    query_all(oracle, X)
    assert oracle.stats.queries == 5
