"""Synthetic survey data with a known sensitive column, a sklearn tree on it, and the
tree converted to BigML's model JSON (the shape ``GET /andromeda/model/<id>`` serves)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.tree import DecisionTreeClassifier

FIELDS = [
    {"name": "cheated", "optype": "categorical", "categories": ["No", "Yes"]},
    {"name": "region", "optype": "categorical", "categories": ["east", "north", "south", "west"]},
    {"name": "smoker", "optype": "categorical", "categories": ["no", "yes"]},
    {"name": "age", "optype": "numeric"},
]
CLASSES = ["medium", "rare", "well"]


def survey(n: int, seed: int) -> tuple[list[dict[str, Any]], list[str]]:
    """People whose steak preference leaks whether they cheated: cheaters mostly say "rare".

    ``smoker`` is independent of everything (a feature the tree cannot leak).
    """
    rng = np.random.default_rng(seed)
    records, labels = [], []
    for _ in range(n):
        record = {
            "cheated": "Yes" if rng.random() < 0.2 else "No",
            "region": str(rng.choice(["east", "north", "south", "west"])),
            "smoker": "yes" if rng.random() < 0.3 else "no",
            "age": float(rng.integers(18, 80)),
        }
        if record["cheated"] == "Yes" and rng.random() < 0.8:
            label = "rare"
        elif rng.random() < 0.15:
            label = str(rng.choice(CLASSES))
        else:
            label = "medium" if record["region"] in ("east", "north") else "well"
        records.append(record)
        labels.append(label)
    return records, labels


def encode(records: Sequence[Mapping[str, Any]], fields: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, list]:
    """One-hot categoricals and raw numerics; ``columns`` says what each column tests."""
    columns: list[tuple[str, str | None]] = []
    for field in fields:
        if field["optype"] == "categorical":
            columns += [(field["name"], c) for c in field["categories"]]
        else:
            columns.append((field["name"], None))
    X = np.array([[float(r[name] == c) if c is not None else float(r[name]) for name, c in columns] for r in records])
    return X, columns


def to_bigml(
    clf: DecisionTreeClassifier,
    columns: Sequence[tuple[str, str | None]],
    fields: Sequence[Mapping[str, Any]],
    records: Sequence[Mapping[str, Any]],
    labels: Sequence[str],
) -> dict[str, Any]:
    """A fitted sklearn tree as BigML model JSON: a one-hot split becomes ``!=``/``=``."""
    ids = {f["name"]: f"{i:06x}" for i, f in enumerate(fields)}
    objective = f"{len(fields):06x}"
    json_fields: dict[str, Any] = {}
    for f in fields:
        entry: dict[str, Any] = {"name": f["name"], "optype": f["optype"], "column_number": int(ids[f["name"]], 16)}
        if f["optype"] == "categorical":
            counts = Counter(r[f["name"]] for r in records)
            entry["summary"] = {"categories": [[c, counts[c]] for c in f["categories"]]}
        json_fields[ids[f["name"]]] = entry
    label_counts = Counter(labels)
    json_fields[objective] = {
        "name": "steak",
        "optype": "categorical",
        "summary": {"categories": [[c, label_counts[c]] for c in clf.classes_]},
    }
    tree = clf.tree_

    def node(i: int, predicate: Any) -> dict[str, Any]:
        share = tree.value[i][0] / tree.value[i][0].sum()
        counts = np.rint(share * tree.n_node_samples[i]).astype(int)
        out: dict[str, Any] = {
            "id": i,
            "predicate": predicate,
            "count": int(tree.n_node_samples[i]),
            "output": str(clf.classes_[int(np.argmax(counts))]),
            "objective_summary": {
                "categories": [[str(c), int(n)] for c, n in zip(clf.classes_, counts, strict=True) if n]
            },
            "children": [],
        }
        left, right = tree.children_left[i], tree.children_right[i]
        if left != -1:
            name, category = columns[tree.feature[i]]
            fid = ids[name]
            if category is None:
                tests = (
                    {"field": fid, "operator": "<=", "value": float(tree.threshold[i])},
                    {"field": fid, "operator": ">", "value": float(tree.threshold[i])},
                )
            else:
                tests = (
                    {"field": fid, "operator": "!=", "value": category},
                    {"field": fid, "operator": "=", "value": category},
                )
            out["children"] = [node(left, tests[0]), node(right, tests[1])]
        return out

    return {
        "resource": "model/5af06df94e17277501000010",
        "objective_field": objective,
        "objective_fields": [objective],
        "model": {"root": node(0, True), "fields": json_fields},
    }


@dataclass
class Scenario:
    train: tuple[list[dict[str, Any]], list[str]]
    heldout: tuple[list[dict[str, Any]], list[str]]
    clf: DecisionTreeClassifier
    columns: list
    model_json: dict[str, Any]


def build(fields: Sequence[Mapping[str, Any]], tree_fields: Sequence[Mapping[str, Any]]) -> Scenario:
    """Train on ``tree_fields`` only, describe all ``fields`` in the JSON."""
    train, heldout = survey(800, seed=0), survey(800, seed=1)
    X, columns = encode(train[0], tree_fields)
    clf = DecisionTreeClassifier(min_samples_leaf=5, random_state=0).fit(X, train[1])
    return Scenario(train, heldout, clf, columns, to_bigml(clf, columns, fields, *train))
