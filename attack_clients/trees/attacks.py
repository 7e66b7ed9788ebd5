"""Inferring a sensitive feature x_1 of a tree model's training record.

The adversary knows the target's other features x_2..x_t and its TRUE label y
(side information). It never uses the model's prediction on the true record:
that would leak x_1 through the path the record takes.

- ``map_attack``: black-box MAP estimator (Fredrikson et al., USENIX Security
  2014): ``r_v = err(y, f(v, x_2..x_t)) * p_1(v)``.
- ``wbwc_attack``: white-box with counts (Fredrikson, Jha & Ristenpart, CCS
  2015) over the downloaded tree.

Tie-break (both estimators): among values whose scores are equal up to float
rounding, the one with the larger prior p_1(v) wins, then the
lexicographically first value string. Deterministic by construction.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from attack_clients.trees.model import BigMLTree

TIE_BREAK = "equal scores (up to float rounding) -> larger prior p_1(v) -> lexicographically first value"


@runtime_checkable
class RecordOracle(Protocol):
    """A tree model's prediction API: records keyed by field name in, labels out."""

    classes: list[str]

    def predict_records(self, records: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
        """Labels as class indices ``(n,)`` and returned confidences ``(n, k)``."""
        ...


@dataclass
class Inference:
    """Per target: the score of each candidate value (columns ``values``) and the guess."""

    values: list[str]
    scores: np.ndarray
    guesses: list[str]


def choose(values: Sequence[str], scores: Sequence[float], prior: Mapping[str, float]) -> str:
    """The argmax of ``scores`` under the module's stated tie-break rule."""
    best = max(scores)
    tied = [v for v, s in zip(values, scores, strict=True) if math.isclose(s, best, rel_tol=1e-9, abs_tol=1e-12)]
    return min(tied, key=lambda v: (-prior.get(v, 0.0), v))


def marginal(values: Sequence[Any], categories: Sequence[str]) -> dict[str, float]:
    """Empirical prior of ``categories`` among ``values`` (missing ones ignored)."""
    counts = {c: 0 for c in categories}
    for value in values:
        if str(value) in counts:
            counts[str(value)] += 1
    total = sum(counts.values())
    if total == 0:
        raise ValueError("no value to estimate a prior from")
    return {c: n / total for c, n in counts.items()}


@dataclass(frozen=True)
class Confusion:
    """A model's confusion counts: rows the true class, columns the predicted one.

    ``rate`` is ``Pr[f(x) = predicted | y = true]`` with additive ``smoothing``,
    so that one confusion never observed in a finite sample does not veto a value.
    """

    classes: list[str]
    counts: np.ndarray
    smoothing: float = 1.0

    def rate(self, true: str, predicted: str) -> float:
        if true not in self.classes or predicted not in self.classes:
            return 1.0 / len(self.classes)
        row = self.counts[self.classes.index(true)] + self.smoothing
        total = row.sum()
        return float(row[self.classes.index(predicted)] / total) if total > 0 else 1.0 / len(self.classes)

    @classmethod
    def from_predictions(
        cls, classes: Sequence[str], true: Sequence[str], predicted: Sequence[str], smoothing: float = 1.0
    ) -> Confusion:
        index = {c: i for i, c in enumerate(classes)}
        counts = np.zeros((len(classes), len(classes)))
        for t, p in zip(true, predicted, strict=True):
            if t in index and p in index:
                counts[index[t], index[p]] += 1
        return cls(list(classes), counts, smoothing)

    def to_json(self) -> dict[str, Any]:
        return {"classes": self.classes, "counts": self.counts.tolist(), "smoothing": self.smoothing}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], smoothing: float | None = None) -> Confusion:
        """From ``{"classes": [...], "counts": [[...]]}`` (published error statistics)."""
        return cls(
            [str(c) for c in data["classes"]],
            np.asarray(data["counts"], dtype=np.float64),
            float(data.get("smoothing", 1.0) if smoothing is None else smoothing),
        )


def confusion_from_oracle(
    oracle: RecordOracle, records: Sequence[Mapping[str, Any]], labels: Sequence[str], smoothing: float = 1.0
) -> Confusion:
    """The confusion matrix from the API's answers on an auxiliary labelled sample."""
    predicted, _ = oracle.predict_records(records)
    names = [oracle.classes[i] for i in predicted]
    return Confusion.from_predictions(oracle.classes, [str(y) for y in labels], names, smoothing)


def map_attack(
    oracle: RecordOracle,
    targets: Sequence[Mapping[str, Any]],
    labels: Sequence[str],
    sensitive: str,
    values: Sequence[str],
    prior: Mapping[str, float],
    confusion: Confusion,
) -> Inference:
    """Black-box MAP: query f(v, x_2..x_t) for every candidate v of every target.

    Identical query records are sent once (they cost rows, and the answer is the
    same), all in one ``predict_records`` call so the client can batch them.
    """
    keys: list[list[str]] = []
    unique: dict[str, dict[str, Any]] = {}
    for target in targets:
        row = []
        for value in values:
            query = {k: x for k, x in target.items() if k != sensitive}
            query[sensitive] = value
            key = json.dumps(query, sort_keys=True, default=str)
            unique.setdefault(key, query)
            row.append(key)
        keys.append(row)
    order = list(unique)
    predicted, _ = oracle.predict_records([unique[k] for k in order]) if order else (np.zeros(0, int), None)
    answer = {k: oracle.classes[int(i)] for k, i in zip(order, predicted, strict=True)}
    scores = np.array(
        [
            [confusion.rate(str(y), answer[key]) * prior.get(v, 0.0) for key, v in zip(row, values, strict=True)]
            for row, y in zip(keys, labels, strict=True)
        ]
    ).reshape(len(targets), len(values))
    return Inference(list(values), scores, [choose(values, s, prior) for s in scores])


def wbwc_attack(
    tree: BigMLTree,
    targets: Sequence[Mapping[str, Any]],
    labels: Sequence[str],
    sensitive: str,
    values: Sequence[str] | None = None,
    prior: Mapping[str, float] | None = None,
    known: Sequence[str] | None = None,
) -> Inference:
    """White-box with counts (CCS 2015, section 5.1).

    For each candidate v, over the leaf paths φ_i consistent with the known
    features x_K and x_1 = v::

        Pr[x_1 = v | paths, x_K, y] ∝ (1 / Σ_j p_j φ_j(v)) · Σ_i p_i φ_i(v) · Pr[x_1 = v]

    with p_j = n_j / N (n_j the leaf's training count) in the normaliser and,
    since the adversary also knows the true label y, p_i = n_{i,y} / N (the
    count of class y at leaf i) in the sum: the ratio is the training share of
    class y among the rows that x_K and x_1 = v reach. N cancels. Without
    ``prior`` the field's training marginal from the model JSON is used;
    ``known`` limits x_K (default: every field of the target but x_1).
    """
    values = list(values) if values is not None else tree.categories(sensitive)
    prior = dict(prior) if prior is not None else tree.prior(sensitive)
    scores = np.zeros((len(targets), len(values)))
    for row, (target, y) in enumerate(zip(targets, labels, strict=True)):
        given = {k: x for k, x in target.items() if k != sensitive and (known is None or k in known)}
        for column, value in enumerate(values):
            leaves = tree.consistent_leaves({**given, sensitive: value})
            reached = sum(leaf.count for leaf in leaves)
            with_y = sum(leaf.distribution.get(str(y), 0.0) for leaf in leaves)
            scores[row, column] = prior.get(value, 0.0) * with_y / reached if reached > 0 else 0.0
    return Inference(values, scores, [choose(values, s, prior) for s in scores])
