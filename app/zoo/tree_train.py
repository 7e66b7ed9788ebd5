"""Training of decision trees from a table of answers, built-in or uploaded.

scikit-learn's CART learns on a one-hot encoding of the categorical fields;
the fitted tree is then rewritten so each split tests one original field, as
BigML's trees do, with the training class counts of every node.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from app.zoo.base import Field, InputError
from app.zoo.splits import per_class_split
from app.zoo.trees import LEAF, TreeModel, is_missing

if TYPE_CHECKING:  # pandas is only needed once a table is loaded; serving never is
    import pandas as pd

NO_ANSWER = "No answer"
MAX_ONE_HOT_CELLS = 50_000_000
"""CART's dense float32 input is at most this many cells (200 MB)."""
MAX_MIN_SAMPLES_LEAF = 20
TREE_PARAMS: dict[str, Any] = {
    "algorithm": "sklearn DecisionTreeClassifier on one-hot categories",
    "criterion": "gini",
    "min_samples_leaf_rule": f"min({MAX_MIN_SAMPLES_LEAF}, max(1, training rows // 100))",
    "split": "stratified 50/50 when every class has 2+ rows, else all rows for training",
}


def _text(column: pd.Series) -> list[str]:
    """Answers as stripped strings, "" when missing (see ``is_missing``)."""
    return ["" if is_missing(v) else str(v).strip() for v in column.tolist()]


def _as_numbers(values: list[str]) -> np.ndarray | None:
    """Floats (NaN for blanks) if there are answers and all are finite numbers, else None."""
    if not any(values):
        return None
    out = np.full(len(values), np.nan)
    for i, value in enumerate(values):
        if value:
            try:
                out[i] = float(value)
            except ValueError:
                return None
            if not np.isfinite(out[i]):
                return None
    return out


def infer_fields(table: pd.DataFrame, objective: str) -> tuple[list[Field], Field]:
    """Input fields (numeric when every non-blank answer is a number) and the label."""
    fields = []
    for name in table.columns:
        if name == objective:
            continue
        values = _text(table[name])
        numbers = _as_numbers(values)
        if numbers is not None:
            present = numbers[~np.isnan(numbers)]
            low, high = (float(present.min()), float(present.max())) if present.size else (None, None)
            fields.append(Field(str(name), "numeric", minimum=low, maximum=high))
        else:
            categories = sorted({v or NO_ANSWER for v in values})
            fields.append(Field(str(name), "categorical", categories=tuple(categories)))
    classes = sorted(set(_text(table[objective])))
    return fields, Field(objective, "categorical", categories=tuple(classes))


def encode_table(table: pd.DataFrame, fields: list[Field]) -> np.ndarray:
    """The model's matrix: category index (blank = "No answer"), number or NaN."""
    out = np.empty((len(table), len(fields)))
    for column, spec in enumerate(fields):
        values = _text(table[spec.name])
        if spec.optype == "numeric":
            out[:, column] = _as_numbers(values)
        else:
            index = {category: i for i, category in enumerate(spec.categories)}
            out[:, column] = [index[v or NO_ANSWER] for v in values]
    return out


def _one_hot(X: np.ndarray, fields: list[Field]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CART's input: one 0/1 column per category, numeric columns as they are.

    Also returns, for each column, the field it came from and its category
    index (-1 for numeric), to map the splits back onto the original fields.
    """
    columns, origin, category = [], [], []
    for i, spec in enumerate(fields):
        if spec.optype == "numeric":
            columns.append(X[:, i])
            origin.append(i)
            category.append(-1)
        else:
            for c in range(len(spec.categories)):
                columns.append(X[:, i] == c)
                origin.append(i)
                category.append(c)
    matrix = np.column_stack(columns).astype(np.float32)
    return matrix, np.array(origin, dtype=np.int64), np.array(category, dtype=np.int64)


@dataclass(frozen=True)
class TreeData:
    """A table encoded for the trees: fields, label, matrix, CART's one-hot input and the split."""

    fields: list[Field]
    target: Field
    X: np.ndarray
    y: np.ndarray
    train: np.ndarray
    held: np.ndarray
    onehot: np.ndarray
    origin: np.ndarray
    category: np.ndarray
    min_samples_leaf: int

    def columns_of(self, field: int) -> np.ndarray:
        """The one-hot columns that encode original field ``field``."""
        return np.flatnonzero(self.origin == field)


def prepare(table: pd.DataFrame, objective: str, seed: int) -> TreeData:
    """Encode ``table`` (every row must answer ``objective``) and split it as every tree is split."""
    fields, target = infer_fields(table, objective)
    width = sum(len(f.categories) or 1 for f in fields)
    if len(table) * width > MAX_ONE_HOT_CELLS:
        widest = max(fields, key=lambda f: len(f.categories))
        raise InputError(
            f"too large to train: {len(table)} rows x {width} one-hot columns; {widest.name!r} alone has "
            f"{len(widest.categories)} categories (drop identifier-like columns)"
        )
    X = encode_table(table, fields)
    y = np.array([target.categories.index(v) for v in _text(table[objective])], dtype=np.int64)
    if np.bincount(y).min() >= 2:
        train, held = per_class_split(y, 0.5, seed)
    else:
        train, held = np.arange(len(y)), np.arange(0)
    min_samples_leaf = min(MAX_MIN_SAMPLES_LEAF, max(1, len(train) // 100))
    onehot, origin, category = _one_hot(X, fields)
    return TreeData(fields, target, X, y, train, held, onehot, origin, category, min_samples_leaf)


def fit_tree(
    table: pd.DataFrame,
    objective: str,
    *,
    name: str,
    dataset: str,
    file: str,
    seed: int = 0,
    sensitive: str | None = None,
    owner: str | None = None,
    description: str = "",
) -> TreeModel:
    """A TreeModel trained on ``table`` (every row must answer ``objective``).

    The metadata's row lists hold ``table``'s index labels: positions in the
    loaded table for the built-ins, CSV data rows for uploads.
    """
    from sklearn.tree import DecisionTreeClassifier

    started = time.perf_counter()
    data = prepare(table, objective, seed)
    train, y = data.train, data.y
    cart = DecisionTreeClassifier(criterion="gini", min_samples_leaf=data.min_samples_leaf, random_state=seed)
    cart.fit(data.onehot[train], y[train])

    structure = cart.tree_
    leaf = structure.children_left == -1
    column = np.where(leaf, 0, structure.feature)
    is_category = data.category[column] >= 0
    reached = cart.decision_path(data.onehot[train])
    nodes = Nodes(
        field=np.where(leaf, LEAF, data.origin[column]).astype(np.int64),
        value=np.where(leaf, 0.0, np.where(is_category, data.category[column], structure.threshold)),
        left=structure.children_left.astype(np.int64),
        right=structure.children_right.astype(np.int64),
        counts=np.asarray(reached.T @ np.eye(len(data.target.categories), dtype=np.int64)[y[train]]),
    )
    model = assemble(data, nodes, name=name, sensitive=sensitive, owner=owner, description=description)
    model.metadata = {
        **row_metadata(table, data, dataset, file, model),
        "params": {**TREE_PARAMS, "min_samples_leaf": data.min_samples_leaf, "random_state": seed},
        "tree_depth": int(cart.get_depth()),
        "field_summaries": field_summaries(data.X[train], data.fields),
        "training_seconds": round(time.perf_counter() - started, 3),
    }
    return model


@dataclass(frozen=True)
class Nodes:
    """A tree as parallel node arrays, in ``TreeModel``'s convention, with each node's class counts."""

    field: np.ndarray
    value: np.ndarray
    left: np.ndarray
    right: np.ndarray
    counts: np.ndarray


def assemble(
    data: TreeData,
    nodes: Nodes,
    *,
    name: str,
    sensitive: str | None = None,
    owner: str | None = None,
    description: str = "",
) -> TreeModel:
    """The served model of ``nodes`` over ``data``'s fields, holding ``data``'s held-out rows."""
    return TreeModel(
        name=name,
        kind="tree",
        classes=list(data.target.categories),
        fields=data.fields,
        objective=data.target,
        sensitive=sensitive,
        owner=owner,
        description=description,
        node_field=nodes.field,
        node_value=nodes.value,
        node_left=nodes.left,
        node_right=nodes.right,
        node_counts=nodes.counts,
        heldout_X=data.X[data.held],
        heldout_y=data.y[data.held],
    )


def row_metadata(table: pd.DataFrame, data: TreeData, dataset: str, file: str, model: TreeModel) -> dict[str, Any]:
    """What every tree's metadata says of its data: rows on each side, accuracy, size."""
    train, held = data.train, data.held
    return {
        "dataset": dataset,
        "file": file,
        "training_rows": table.index.to_numpy()[train].tolist(),
        "heldout_rows": table.index.to_numpy()[held].tolist(),
        "training_accuracy": _accuracy(model, data.X[train], data.y[train]),
        "heldout_accuracy": _accuracy(model, data.X[held], data.y[held]) if len(held) else None,
        "tree_nodes": len(model.node_field),
        "tree_leaves": int((model.node_field == LEAF).sum()),
    }


def field_summaries(X: np.ndarray, fields: list[Field]) -> dict[str, dict[str, Any]]:
    """Per field, what BigML's dataset summary says of the training rows: category counts
    (the marginal prior a white-box attacker reads from the model JSON) or the numeric range."""
    summaries: dict[str, dict[str, Any]] = {}
    for column, field in zip(X.T, fields, strict=True):
        present = column[~np.isnan(column)]
        summary: dict[str, Any] = {"missing_count": int(len(column) - len(present))}
        if field.optype == "categorical":
            counts = np.bincount(present.astype(np.int64), minlength=len(field.categories))
            summary["categories"] = [[c, int(n)] for c, n in zip(field.categories, counts, strict=True)]
        elif len(present):
            summary.update(minimum=float(present.min()), maximum=float(present.max()))
        summaries[field.name] = summary
    return summaries


def _accuracy(model: TreeModel, X: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(model.predict_proba(X).argmax(axis=1) == y))
