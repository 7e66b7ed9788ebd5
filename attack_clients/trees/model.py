"""A downloaded BigML tree (``GET /andromeda/model/<id>``) as the white-box attacker reads it.

The JSON carries, per node, the split ``predicate`` ``{field, operator, value}``
(field by id, described in ``model.fields``), the training ``count`` and the
class counts ``objective_summary.categories``. Records are keyed by field name.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from attack_clients.clients.base import is_missing
from attack_clients.oracle import QueryBudgetExceeded, QueryStats

COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "=": operator.eq,
    "==": operator.eq,
    "!=": operator.ne,
    "/=": operator.ne,
}


@dataclass(frozen=True)
class FieldInfo:
    """A field of the model: id, name, optype and, if categorical, its categories."""

    id: str
    name: str
    optype: str
    categories: tuple[str, ...] = ()
    counts: tuple[float, ...] = ()


@dataclass(frozen=True)
class Predicate:
    """A BigML split test; an operator ending in ``*`` also admits missing values."""

    field: str
    operator: str
    value: Any

    def holds(self, value: Any, info: FieldInfo) -> bool:
        """Whether a record with ``value`` in this field takes this branch."""
        op = self.operator.rstrip("*")
        if is_missing(value):
            return self.operator.endswith("*") or (op == "=" and self.value is None)
        if self.value is None:
            return op in ("!=", "/=")
        if op in ("in", "not in"):
            inside = str(value) in {str(v) for v in self.value}
            return inside == (op == "in")
        if isinstance(self.value, str):
            return COMPARISONS[op](str(value), self.value)
        return COMPARISONS[op](_as_number(value, info), float(self.value))


def _as_number(value: Any, info: FieldInfo) -> float:
    """A record value for a numeric test; a category tested by number is its index."""
    if info.optype == "categorical" and str(value) in info.categories:
        return float(info.categories.index(str(value)))
    return float(value)


@dataclass
class Node:
    """A tree node: the predicate leading to it, its training count and class counts."""

    predicate: Predicate | None
    count: float
    distribution: dict[str, float]
    output: str
    children: list[Node] = field(default_factory=list)


def _node(raw: Mapping[str, Any]) -> Node:
    predicate = raw.get("predicate")
    parsed = None
    if isinstance(predicate, Mapping):
        parsed = Predicate(str(predicate["field"]), str(predicate["operator"]), predicate.get("value"))
    summary = raw.get("objective_summary") or {}
    categories = summary.get("categories") or raw.get("distribution") or []
    distribution = {str(name): float(count) for name, count in categories}
    count = raw.get("count")
    return Node(
        predicate=parsed,
        count=float(sum(distribution.values()) if count is None else count),
        distribution=distribution,
        output=str(raw.get("output")),
        children=[_node(child) for child in raw.get("children") or []],
    )


class BigMLTree:
    """Parsed BigML model JSON: fields, priors, leaves, local prediction, consistent paths."""

    def __init__(self, resource: Mapping[str, Any]) -> None:
        model = resource["model"] if isinstance(resource.get("model"), Mapping) else resource
        raw_fields = model.get("fields") or resource.get("fields") or {}
        self.fields: dict[str, FieldInfo] = {fid: _field(fid, raw) for fid, raw in raw_fields.items()}
        self.ids = {info.name: fid for fid, info in self.fields.items()}
        objective = resource.get("objective_field") or model.get("objective_field")
        if objective is None:
            objective = (resource.get("objective_fields") or model.get("objective_fields") or [None])[0]
        self.objective = str(objective) if objective is not None else None
        self.root = _node(model["root"])

    @property
    def classes(self) -> list[str]:
        """Objective classes: the objective field's categories, else the root's counts."""
        if self.objective in self.fields and self.fields[self.objective].categories:
            return list(self.fields[self.objective].categories)
        return list(self.root.distribution)

    def field_id(self, key: str) -> str:
        """The id of a field given by name or id."""
        if key in self.fields:
            return key
        if key in self.ids:
            return self.ids[key]
        raise KeyError(f"the model has no field {key!r}")

    def categories(self, key: str) -> list[str]:
        return list(self.fields[self.field_id(key)].categories)

    def prior(self, key: str) -> dict[str, float]:
        """A categorical field's marginal in the training data (its summary's counts)."""
        info = self.fields[self.field_id(key)]
        total = float(sum(info.counts))
        if not info.counts or total <= 0:
            raise ValueError(f"the model JSON has no category counts for {info.name!r}")
        return {c: n / total for c, n in zip(info.categories, info.counts, strict=True)}

    def leaves(self) -> list[Node]:
        out: list[Node] = []
        stack = [self.root]
        while stack:
            node = stack.pop()
            if node.children:
                stack.extend(reversed(node.children))
            else:
                out.append(node)
        return out

    def _by_id(self, record: Mapping[str, Any]) -> dict[str, Any]:
        return {self.ids.get(k, k): v for k, v in record.items() if k in self.ids or k in self.fields}

    def predict(self, record: Mapping[str, Any]) -> Node:
        """The node where ``record`` stops, as BigML predicts: first child whose
        predicate holds; a missing value no branch admits stops at the parent."""
        values = self._by_id(record)
        node = self.root
        while node.children:
            nxt = next(
                (
                    child
                    for child in node.children
                    if child.predicate is None
                    or child.predicate.holds(values.get(child.predicate.field), self._info(child.predicate.field))
                ),
                None,
            )
            if nxt is None:
                break
            node = nxt
        return node

    def consistent_leaves(self, known: Mapping[str, Any]) -> list[Node]:
        """Leaves whose paths no known value contradicts (``known`` keyed by name).

        Tests on fields not in ``known``, or known as missing, constrain nothing:
        every branch below them stays possible.
        """
        values = {fid: v for fid, v in self._by_id(known).items() if not is_missing(v)}
        out: list[Node] = []
        stack = [self.root]
        while stack:
            node = stack.pop()
            if not node.children:
                out.append(node)
                continue
            for child in reversed(node.children):
                test = child.predicate
                if test is None or test.field not in values or test.holds(values[test.field], self._info(test.field)):
                    stack.append(child)
        return out

    def _info(self, fid: str) -> FieldInfo:
        return self.fields.get(fid) or FieldInfo(fid, fid, "numeric")


def _field(fid: str, raw: Mapping[str, Any]) -> FieldInfo:
    categories = ((raw.get("summary") or {}).get("categories")) or []
    return FieldInfo(
        id=str(fid),
        name=str(raw.get("name", fid)),
        optype=str(raw.get("optype", "numeric")),
        categories=tuple(str(c[0]) for c in categories),
        counts=tuple(float(c[1]) for c in categories),
    )


class LocalTreeOracle:
    """A record oracle over a tree JSON: the black-box attack without a server.

    Answers as the service would (label, class probabilities from the node's
    counts), and keeps the same accounting and row budget as the HTTP clients.
    """

    def __init__(self, tree: BigMLTree, max_rows: int | None = None) -> None:
        self.tree = tree
        self.classes = tree.classes
        self.stats = QueryStats()
        self.max_rows = max_rows

    def predict_records(self, records: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
        n = len(records)
        if self.max_rows is not None and self.stats.rows + n > self.max_rows:
            raise QueryBudgetExceeded(f"{n} more rows would exceed the budget of {self.max_rows}")
        index = {c: i for i, c in enumerate(self.classes)}
        probabilities = np.zeros((n, len(self.classes)))
        labels = np.zeros(n, dtype=np.int64)
        for row, record in enumerate(records):
            node = self.tree.predict(record)
            total = sum(node.distribution.values())
            for name, count in node.distribution.items():
                probabilities[row, index[name]] = count / total if total > 0 else 0.0
            labels[row] = index.get(node.output, int(probabilities[row].argmax()))
        self.stats.queries += 1
        self.stats.rows += n
        return labels, probabilities
