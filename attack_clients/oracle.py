"""What an attack may ask of a prediction API, and a local stand-in for tests.

Every attack in ``attack_clients`` talks to an :class:`Oracle`; the HTTP clients
and :class:`LocalOracle` both implement it, so the attack logic never depends on
the wire and unit tests need no server.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np


class QueryBudgetExceeded(RuntimeError):
    """Raised before a query that would take the row count past the budget."""


@dataclass
class QueryStats:
    """What an attack has cost so far (the attack's price is part of the result)."""

    queries: int = 0
    rows: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def since(self, earlier: QueryStats) -> QueryStats:
        """The cost between a snapshot ``earlier`` and now."""
        return QueryStats(
            queries=self.queries - earlier.queries,
            rows=self.rows - earlier.rows,
            bytes_sent=self.bytes_sent - earlier.bytes_sent,
            bytes_received=self.bytes_received - earlier.bytes_received,
            seconds=self.seconds - earlier.seconds,
        )

    def snapshot(self) -> QueryStats:
        return QueryStats(**asdict(self))


@runtime_checkable
class Oracle(Protocol):
    """A prediction API as the adversary sees it."""

    classes: list[str]

    def predict_proba(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Labels as class indices ``(n,)`` and returned confidences ``(n, k)``."""
        ...


Defense = Callable[[np.ndarray], Any]


class LocalOracle:
    """An :class:`Oracle` over a local ``predict`` function (tests, benchmarks).

    ``predict`` maps a float matrix ``(n, d)`` to probabilities ``(n, k)``. The
    label is the model's own argmax, decided before any ``defence``, as the
    service does (rounding must not change it). ``defence`` maps probabilities to
    defended probabilities, or to an object with ``labels`` and
    ``probabilities`` (the ``defenses`` package's ``Defended``), which then also
    decides the labels. Bytes are counted as the binary float32 wire would move
    them.
    """

    def __init__(
        self,
        predict: Callable[[np.ndarray], np.ndarray],
        classes: Sequence[str],
        defense: Defense | None = None,
        max_rows: int | None = None,
    ) -> None:
        self.classes = list(classes)
        self.stats = QueryStats()
        self._predict = predict
        self._defense = defense
        self._max_rows = max_rows

    def predict_proba(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        X = np.atleast_2d(np.asarray(X, dtype=np.float32))
        n = X.shape[0]
        if self._max_rows is not None and self.stats.rows + n > self._max_rows:
            raise QueryBudgetExceeded(
                f"{n} more rows would exceed the budget of {self._max_rows} ({self.stats.rows} used)"
            )
        start = time.perf_counter()
        probabilities = np.asarray(self._predict(X), dtype=np.float64)
        labels = probabilities.argmax(axis=1)
        if self._defense is not None:
            defended = self._defense(probabilities)
            if hasattr(defended, "probabilities"):
                labels = np.asarray(defended.labels)
                probabilities = np.asarray(defended.probabilities, dtype=np.float64)
            else:
                probabilities = np.asarray(defended, dtype=np.float64)
        self.stats.queries += 1
        self.stats.rows += n
        self.stats.bytes_sent += X.nbytes
        self.stats.bytes_received += n * (4 * probabilities.shape[1] + 8)
        self.stats.seconds += time.perf_counter() - start
        return labels, probabilities


MAX_BATCH_BYTES = 64 * 2**20


def query_all(oracle: Oracle, X: np.ndarray, max_batch_bytes: int = MAX_BATCH_BYTES) -> np.ndarray:
    """Returned confidences for every row of ``X``, in as few calls as fit in ``max_batch_bytes``.

    The service answers big batches fast and single rows slowly; the cap only
    keeps one request's float32 body bounded.
    """
    X = np.asarray(X, dtype=np.float32)
    per_batch = max(1, max_batch_bytes // max(1, 4 * X.shape[1]))
    return np.vstack([oracle.predict_proba(X[i : i + per_batch])[1] for i in range(0, len(X), per_batch)])
