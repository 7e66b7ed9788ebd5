"""Serving of decision trees in BigML's shape, evaluated in numpy.

Every split tests one original field: a categorical field against one category
(``=`` / ``!=``), a numeric field against a threshold (``<=`` / ``>``). Each node
keeps the class counts of the training rows that reached it. A row whose split
field is missing stops at that node and gets the node's class distribution
(BigML's "last prediction" strategy).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar

import numpy as np

from app.zoo.base import Field, InputError, ServedModel

LEAF = -1
SMALL_BATCH = 8
MISSING_TOKENS = frozenset(
    {
        "",
        "N/A",
        "n/a",
        "NULL",
        "null",
        "-",
        "#DIV/0",
        "#REF!",
        "#NAME?",
        "NIL",
        "nil",
        "NA",
        "na",
        "#VALUE!",
        "#NULL!",
        "NaN",
        "#N/A",
        "#NUM!",
        "?",
    }
)
"""Answers read as missing, after stripping blanks: BigML's default list."""


@dataclass(kw_only=True)
class TreeModel(ServedModel):
    """A binary tree as parallel node arrays (node 0 is the root).

    ``node_field`` is the index of the split field (``LEAF`` at leaves) and
    ``node_value`` the threshold or category index. A row goes to
    ``node_left`` when its value is ``<=`` the threshold (numeric) or differs
    from the category (categorical), otherwise to ``node_right``.
    """

    node_field: np.ndarray
    node_value: np.ndarray
    node_left: np.ndarray
    node_right: np.ndarray
    node_counts: np.ndarray
    heldout_X: np.ndarray
    heldout_y: np.ndarray

    platform: ClassVar[str] = "decision_tree"

    def check_inputs(self, X: np.ndarray) -> str | None:
        """NaN is a missing value; infinity is refused (a split on it would be arbitrary)."""
        if len(X) <= SMALL_BATCH and X.dtype.kind == "f":
            values = X.ravel().tolist()
            infinite = math.inf in values or -math.inf in values
        else:
            infinite = bool(np.isinf(X).any())
        return "values must be finite (infinity is not allowed; leave a field out for missing)" if infinite else None

    @cached_property
    def _node_is_categorical(self) -> np.ndarray:
        categorical = np.array([f.optype == "categorical" for f in self.fields] + [False])
        return categorical[self.node_field]

    @cached_property
    def _depth(self) -> int:
        depth = np.zeros(len(self.node_field), dtype=np.int64)
        for node in range(len(self.node_field)):
            if self.node_field[node] != LEAF:
                depth[self.node_left[node]] = depth[self.node_right[node]] = depth[node] + 1
        return int(depth.max())

    @cached_property
    def _field_index(self) -> dict[str, int]:
        return {f.name: i for i, f in enumerate(self.fields)}

    @cached_property
    def _category_codes(self) -> list[dict[str, float] | None]:
        """Per field, category -> its index as a float (the first occurrence, as ``list.index``); None if numeric."""
        codes: list[dict[str, float] | None] = []
        for spec in self.fields:
            if spec.optype != "categorical":
                codes.append(None)
                continue
            lookup: dict[str, float] = {}
            for index, category in enumerate(spec.categories):
                lookup.setdefault(category, float(index))
            codes.append(lookup)
        return codes

    @cached_property
    def _node_probabilities(self) -> np.ndarray:
        """Each node's class distribution, as ``predict_proba`` reports it (computed once)."""
        counts = self.node_counts.astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            return counts / counts.sum(axis=1, keepdims=True)

    def final_nodes(self, X: np.ndarray) -> np.ndarray:
        """For each row, the node where its descent ends (a leaf, or a missing split)."""
        X = self._check(X)
        if len(X) <= SMALL_BATCH:
            return np.array([self._walk(row) for row in X.tolist()], dtype=np.int64)
        rows = np.arange(len(X))
        node = np.zeros(len(X), dtype=np.int64)
        for _ in range(self._depth):
            split = self.node_field[node]
            moving = split != LEAF
            value = X[rows, np.where(moving, split, 0)]
            moving &= ~np.isnan(value)
            if not moving.any():
                break
            threshold = self.node_value[node]
            left = np.where(self._node_is_categorical[node], value != threshold, value <= threshold)
            node = np.where(moving, np.where(left, self.node_left[node], self.node_right[node]), node)
        return node

    @cached_property
    def _python_nodes(self) -> list[tuple[int, float, int, int, bool]]:
        return list(
            zip(
                self.node_field.tolist(),
                self.node_value.tolist(),
                self.node_left.tolist(),
                self.node_right.tolist(),
                self._node_is_categorical.tolist(),
                strict=True,
            )
        )

    def _walk(self, row: list[float]) -> int:
        """One row's descent in plain Python: for single-row queries numpy's per-call cost dominates."""
        nodes = self._python_nodes
        node = 0
        while True:
            field, threshold, left, right, categorical = nodes[node]
            if field == LEAF:
                return node
            value = row[field]
            if value != value:  # NaN: a missing value stops the descent here
                return node
            go_left = value != threshold if categorical else value <= threshold
            node = left if go_left else right

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return self._node_probabilities[self.final_nodes(X)]

    @cached_property
    def _parents(self) -> np.ndarray:
        parent = np.full(len(self.node_field), LEAF, dtype=np.int64)
        inner = np.flatnonzero(self.node_field != LEAF)
        parent[self.node_left[inner]] = inner
        parent[self.node_right[inner]] = inner
        return parent

    def predict_paths(self, X: np.ndarray) -> list[list[dict[str, Any]]]:
        """For each row, the predicates of the nodes it passed, root excluded."""
        return [self.path_to(int(node)) for node in self.final_nodes(X)]

    def path_to(self, node: int) -> list[dict[str, Any]]:
        """The predicates of the nodes from the root (excluded) down to ``node``."""
        parent = self._parents
        path = []
        while parent[node] != LEAF:
            path.append(self._predicate(int(node), int(parent[node])))
            node = parent[node]
        return path[::-1]

    def _predicate(self, node: int, parent: int) -> dict[str, Any]:
        spec = self.fields[self.node_field[parent]]
        value = self.node_value[parent]
        is_left = self.node_left[parent] == node
        if spec.optype == "categorical":
            return {"field": spec.name, "operator": "!=" if is_left else "=", "value": spec.categories[int(value)]}
        return {"field": spec.name, "operator": "<=" if is_left else ">", "value": float(value)}

    def _check(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise InputError(f"expected a matrix of shape (n, {self.n_features}), got {X.shape}")
        return X

    @cached_property
    def _exact_codes(self) -> list[dict[str, float]]:
        """Per field, the strings that encode as they stand (a category, not a missing token); empty if numeric."""
        return [
            {c: code for c, code in codes.items() if c == c.strip() and c not in MISSING_TOKENS} if codes else {}
            for codes in self._category_codes
        ]

    def encode_records(self, records: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Field values to the matrix: category index, number, NaN when absent or blank.

        A category given exactly, or a number for a numeric field, is encoded by one
        lookup; anything else (blanks to strip, missing tokens, errors) by ``_encode_value``.
        """
        index, codes, exact, fields = self._field_index, self._category_codes, self._exact_codes, self.fields
        out = np.full((len(records), len(fields)), np.nan)
        for row, record in enumerate(records):
            if not isinstance(record, Mapping):
                raise InputError(f"record {row} is a {type(record).__name__}, expected an object of field values")
            encoded = [math.nan] * len(fields)
            for name, value in record.items():
                column = index.get(name)
                if column is None:
                    raise InputError(f"unknown field {name!r}", field=str(name), reason="unknown-field")
                kind = value.__class__
                if kind is str:
                    code = exact[column].get(value)
                elif kind is float and codes[column] is None:
                    code = value
                else:
                    code = None
                encoded[column] = code if code is not None else _encode_value(fields[column], value, codes[column])
            out[row] = encoded  # one numpy assignment per row, not per value
        return out

    def heldout(self) -> tuple[np.ndarray, np.ndarray]:
        return self.heldout_X, self.heldout_y

    def export(self) -> dict[str, Any]:
        return {
            "root": self._node_json(0, True),
            "fields": [self._field_json(f) for f in self.fields],
            "objective": self.objective.name,
            "classes": list(self.classes),
            "training_count": int(self.node_counts[0].sum()),
        }

    def _field_json(self, field: Field) -> dict[str, Any]:
        summary = self.metadata.get("field_summaries", {}).get(field.name)
        return {**field.to_json(), "summary": summary} if summary else field.to_json()

    def _node_json(self, node: int, predicate: dict[str, Any] | bool) -> dict[str, Any]:
        counts = self.node_counts[node]
        out: dict[str, Any] = {
            "predicate": predicate,
            "counts": [int(c) for c in counts],
            "count": int(counts.sum()),
            "output": self.classes[int(np.argmax(counts))],
            "children": [],
        }
        if self.node_field[node] != LEAF:
            out["children"] = [
                self._node_json(int(child), self._predicate(int(child), node))
                for child in (self.node_left[node], self.node_right[node])
            ]
        return out


def is_missing(value: Any) -> bool:
    """None, NaN, or a string that is blank or one of ``MISSING_TOKENS``."""
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip() in MISSING_TOKENS
    return isinstance(value, float) and math.isnan(value)


def _encode_value(spec: Field, value: Any, codes: Mapping[str, float] | None = None) -> float:
    """One value's encoding; ``codes`` (category -> index) spares a categorical field the list search."""
    if is_missing(value):
        return math.nan
    if spec.optype == "categorical":
        text = (value if isinstance(value, str) else str(value)).strip()
        code = codes.get(text) if codes is not None else None
        if code is not None:
            return code
        try:
            return float(spec.categories.index(text))
        except ValueError:
            allowed = ", ".join(repr(c) for c in spec.categories)
            message = f"field {spec.name!r}: unknown category {text!r}; allowed: {allowed}"
            raise InputError(message, field=spec.name) from None
    if isinstance(value, bool):
        raise InputError(f"field {spec.name!r} is numeric, got {value!r}", field=spec.name)
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"field {spec.name!r} is numeric, got {value!r}", field=spec.name) from None
