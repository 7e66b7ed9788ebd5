"""Training defences for the survey trees: the 2015 study's privacy-aware CART and a
differentially private tree.

Privacy-aware CART (Fredrikson et al. 2015, Section 6): the sensitive feature is
forced to one place in an otherwise ordinary CART. ``top`` splits the root on it
(its best split by Gini) and grows each side without it; ``bottom`` grows the tree
without it (leaves at least twice CART's minimum) and then splits every leaf on it
wherever both sides keep CART's minimum leaf size, so it is tested only directly
above the leaves (the deepest level of each branch). The sensitive split is the
category with the lowest Gini impurity, forced even where it gains nothing.

The differentially private tree is diffprivlib's ``DecisionTreeClassifier``
(``diffprivlib/models/forest.py``, v0.6.6), rewritten here because diffprivlib
imports ``DOUBLE`` from ``sklearn.tree._tree``, which scikit-learn 1.9 no longer
has (diffprivlib-fix 0.6.7 still does). Its structure is random and data
independent: each node of a tree of ``max_depth`` tests a field drawn uniformly,
at a threshold drawn uniformly within the node's bounds (the schema's range of a
numeric field; for a categorical field, where diffprivlib would cut the category
codes, one of the categories still possible at the node, so the split stays a
BigML ``=`` / ``!=`` test). Fields with nothing left to cut are not drawn. Each
leaf then releases one class with the permute-and-flip mechanism (McKenna and
Sheldon 2020; diffprivlib's ``PermuteAndFlip``, sensitivity 1, monotonic) over the
class counts of the training rows that reach it; an empty leaf gets a uniformly
random class. The leaves partition the rows, so the release is ε-differentially
private by parallel composition (δ = 0). The model serves and publishes only what
was released: one count for the released class at each leaf, their sums above,
and no field summaries.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from app.zoo.tree_train import Nodes, TreeData, assemble, field_summaries, prepare, row_metadata
from app.zoo.trees import LEAF, TreeModel

if TYPE_CHECKING:
    import pandas as pd

PLACEMENTS = ("top", "bottom")
DP_MAX_DEPTH = 5
"""diffprivlib's default depth."""
DP_MECHANISM = "permute-and-flip over each leaf's class counts (sensitivity 1, monotonic), as diffprivlib's"


@dataclass
class _Builder:
    """Node arrays grown one node at a time (children are filled in when known)."""

    split: list[int] = field(default_factory=list)
    value: list[float] = field(default_factory=list)
    left: list[int] = field(default_factory=list)
    right: list[int] = field(default_factory=list)

    def add(self, split_field: int = LEAF, value: float = 0.0) -> int:
        self.split.append(split_field)
        self.value.append(value)
        self.left.append(LEAF)
        self.right.append(LEAF)
        return len(self.split) - 1

    def graft(self, cart: Any, columns: np.ndarray, data: TreeData) -> tuple[int, dict[int, int]]:
        """Copy a fitted scikit-learn tree (fitted on ``data.onehot[:, columns]``) into the arrays.

        Returns the new root and, for each scikit-learn leaf, its node here."""
        tree = cart.tree_
        mapping: dict[int, int] = {}
        for node in range(tree.node_count):
            if tree.children_left[node] == -1:
                mapping[node] = self.add()
                continue
            column = columns[tree.feature[node]]
            category = data.category[column]
            value = category if category >= 0 else tree.threshold[node]
            mapping[node] = self.add(int(data.origin[column]), float(value))
        for node in range(tree.node_count):
            if tree.children_left[node] != -1:
                self.left[mapping[node]] = mapping[int(tree.children_left[node])]
                self.right[mapping[node]] = mapping[int(tree.children_right[node])]
        leaves = {node: mapping[node] for node in range(tree.node_count) if tree.children_left[node] == -1}
        return mapping[0], leaves

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return (
            np.array(self.split, dtype=np.int64),
            np.array(self.value, dtype=np.float64),
            np.array(self.left, dtype=np.int64),
            np.array(self.right, dtype=np.int64),
        )


def _cart(data: TreeData, rows: np.ndarray, columns: np.ndarray, seed: int, min_samples_leaf: int = 0) -> Any:
    from sklearn.tree import DecisionTreeClassifier

    cart = DecisionTreeClassifier(
        criterion="gini", min_samples_leaf=min_samples_leaf or data.min_samples_leaf, random_state=seed
    )
    return cart.fit(data.onehot[np.ix_(rows, columns)], data.y[rows])


def _counts_by_routing(model_arrays: tuple[np.ndarray, ...], data: TreeData, build: Any) -> np.ndarray:
    """Each node's class counts of the training rows that pass it, routed as the service routes them."""
    node_field, node_value, left, right = model_arrays
    n_classes = len(data.target.categories)
    probe = build(Nodes(node_field, node_value, left, right, np.ones((len(node_field), n_classes), dtype=np.int64)))
    final = probe.final_nodes(data.X[data.train])
    counts = np.zeros((len(node_field), n_classes), dtype=np.int64)
    np.add.at(counts, final, np.eye(n_classes, dtype=np.int64)[data.y[data.train]])
    for node in np.argsort(-_depths(node_field, left, right), kind="stable"):
        if node_field[node] != LEAF:
            counts[node] += counts[left[node]] + counts[right[node]]
    return counts


def _depths(node_field: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    depth = np.zeros(len(node_field), dtype=np.int64)
    for node in range(len(node_field)):  # children always come after their parent here
        if node_field[node] != LEAF:
            depth[left[node]] = depth[right[node]] = depth[node] + 1
    return depth


def _sensitive_index(data: TreeData, sensitive: str) -> int:
    names = [f.name for f in data.fields]
    if sensitive not in names or data.fields[names.index(sensitive)].optype != "categorical":
        raise ValueError(f"no categorical field {sensitive!r} to place")
    return names.index(sensitive)


def _sensitive_split(data: TreeData, sensitive: int, rows: np.ndarray) -> float | None:
    """The category of the sensitive field whose ``=`` / ``!=`` split of ``rows`` has the lowest
    weighted Gini impurity with at least ``min_samples_leaf`` rows each side (None if none has)."""
    values = data.X[rows, sensitive]
    best, best_impurity = None, np.inf
    for category in range(len(data.fields[sensitive].categories)):
        equal = values == category
        sides = [data.y[rows][equal], data.y[rows][~equal]]
        if min(len(side) for side in sides) < data.min_samples_leaf:
            continue
        impurity = sum(len(side) * _gini(side) for side in sides)
        if impurity < best_impurity:
            best, best_impurity = float(category), impurity
    return best


def _gini(labels: np.ndarray) -> float:
    shares = np.bincount(labels) / len(labels)
    return float(1.0 - np.sum(shares**2))


def _grow_private(data: TreeData, sensitive: int, placement: str, seed: int) -> tuple[np.ndarray, ...]:
    """Node arrays of the privacy-aware tree (see the module docstring)."""
    others = np.flatnonzero(data.origin != sensitive)
    builder = _Builder()
    if placement == "top":
        value = _sensitive_split(data, sensitive, data.train)
        if value is None:  # the sensitive field cannot split the root: plain CART without it
            builder.graft(_cart(data, data.train, others, seed), others, data)
            return builder.arrays()
        root = builder.add(sensitive, value)
        equal = data.X[data.train, sensitive] == value
        builder.left[root], _ = builder.graft(_cart(data, data.train[~equal], others, seed), others, data)
        builder.right[root], _ = builder.graft(_cart(data, data.train[equal], others, seed), others, data)
        return builder.arrays()
    body = _cart(data, data.train, others, seed, min_samples_leaf=2 * data.min_samples_leaf)
    _, leaves = builder.graft(body, others, data)
    reached = body.apply(data.onehot[np.ix_(data.train, others)])
    for leaf, node in leaves.items():
        value = _sensitive_split(data, sensitive, data.train[reached == leaf])
        if value is not None:
            builder.split[node], builder.value[node] = sensitive, value
            builder.left[node], builder.right[node] = builder.add(), builder.add()
    return builder.arrays()


def fit_private_tree(
    table: pd.DataFrame,
    objective: str,
    *,
    placement: str,
    sensitive: str,
    name: str,
    dataset: str,
    file: str,
    seed: int = 0,
    description: str = "",
) -> TreeModel:
    """The study's privacy-aware CART: ``sensitive`` only at the root (``top``) or right above leaves (``bottom``)."""
    if placement not in PLACEMENTS:
        raise ValueError(f"unknown placement {placement!r}; expected one of {PLACEMENTS}")
    started = time.perf_counter()
    data = prepare(table, objective, seed)
    arrays = _grow_private(data, _sensitive_index(data, sensitive), placement, seed)

    def build(nodes: Nodes) -> TreeModel:
        return assemble(data, nodes, name=name, sensitive=sensitive, description=description)

    model = build(Nodes(*arrays, _counts_by_routing(arrays, data, build)))
    model.metadata = {
        **row_metadata(table, data, dataset, file, model),
        "params": private_params(placement) | {"min_samples_leaf": data.min_samples_leaf, "random_state": seed},
        "training_defense": f"privacy-aware CART: the sensitive feature forced to the {placement} of the tree",
        "sensitive_placement": placement,
        "tree_depth": int(_depths(arrays[0], arrays[2], arrays[3]).max()),
        "field_summaries": field_summaries(data.X[data.train], data.fields),
        "training_seconds": round(time.perf_counter() - started, 3),
    }
    return model


def private_params(placement: str) -> dict[str, Any]:
    """What decides a privacy-aware tree besides data and code."""
    return {
        "algorithm": "privacy-aware CART (Fredrikson et al. 2015): sklearn CART on one-hot categories, "
        "the sensitive feature placed by hand",
        "criterion": "gini",
        "placement": placement,
        "split": "stratified 50/50, as the standard tree",
    }


def dp_params(epsilon: float, max_depth: int = DP_MAX_DEPTH) -> dict[str, Any]:
    """What decides a differentially private tree besides data and code."""
    return {
        "algorithm": "diffprivlib's DecisionTreeClassifier (random structure, private leaf labels)",
        "epsilon": epsilon,
        "delta": 0.0,
        "max_depth": max_depth,
        "mechanism": DP_MECHANISM,
        "bounds": "the schema: each numeric field's range, each categorical field's categories",
        "split": "stratified 50/50, as the standard tree",
    }


def permute_and_flip(counts: np.ndarray, epsilon: float, rng: np.random.Generator) -> int:
    """One class by permute and flip: visit the classes in random order and stop at class i
    with probability exp(ε (count_i - max count)) (sensitivity 1, monotonic counts)."""
    shortfall = np.asarray(counts, dtype=np.float64) - np.max(counts)
    while True:
        for candidate in rng.permutation(len(shortfall)):
            if rng.random() < math.exp(epsilon * shortfall[candidate]):
                return int(candidate)


def _random_structure(data: TreeData, max_depth: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """diffprivlib's ``_FittingTree.build``: random fields and thresholds within each node's bounds."""
    builder = _Builder()
    low = np.array([f.minimum if f.optype == "numeric" and f.minimum is not None else 0.0 for f in data.fields])
    high = np.array([f.maximum if f.optype == "numeric" and f.maximum is not None else 0.0 for f in data.fields])
    possible = [set(range(len(f.categories))) if f.optype == "categorical" else None for f in data.fields]

    def grow(depth: int, low: np.ndarray, high: np.ndarray, possible: list[set[int] | None]) -> int:
        splittable = [i for i, p in enumerate(possible) if (len(p) > 1 if p is not None else high[i] > low[i])]
        if depth >= max_depth or not splittable:
            return builder.add()
        chosen = splittable[int(rng.integers(len(splittable)))]
        if possible[chosen] is not None:
            category = sorted(possible[chosen])[int(rng.integers(len(possible[chosen])))]
            node = builder.add(chosen, float(category))
            unequal, equal = list(possible), list(possible)
            unequal[chosen], equal[chosen] = possible[chosen] - {category}, {category}
            builder.left[node] = grow(depth + 1, low, high, unequal)
            builder.right[node] = grow(depth + 1, low, high, equal)
            return node
        threshold = float(rng.uniform(low[chosen], high[chosen]))
        node = builder.add(chosen, threshold)
        below, above = high.copy(), low.copy()
        below[chosen], above[chosen] = threshold, threshold
        builder.left[node] = grow(depth + 1, low, below, possible)
        builder.right[node] = grow(depth + 1, above, high, possible)
        return node

    grow(0, low, high, possible)
    return builder.arrays()


def fit_dp_tree(
    table: pd.DataFrame,
    objective: str,
    *,
    epsilon: float,
    sensitive: str | None,
    name: str,
    dataset: str,
    file: str,
    seed: int = 0,
    max_depth: int = DP_MAX_DEPTH,
    description: str = "",
) -> TreeModel:
    """diffprivlib's ε-differentially private decision tree (see the module docstring)."""
    if not epsilon > 0:
        raise ValueError("epsilon must be positive")
    started = time.perf_counter()
    data = prepare(table, objective, seed)
    rng = np.random.default_rng(seed)
    arrays = _random_structure(data, max_depth, rng)
    node_field, _, left, right = arrays
    n_classes = len(data.target.categories)

    def build(nodes: Nodes) -> TreeModel:
        return assemble(data, nodes, name=name, sensitive=sensitive, description=description)

    true_counts = _counts_by_routing(arrays, data, build)
    released = np.zeros_like(true_counts)
    leaves = np.flatnonzero(node_field == LEAF)
    for leaf in leaves:
        counts = true_counts[leaf]
        label = permute_and_flip(counts, epsilon, rng) if counts.sum() else int(rng.integers(n_classes))
        released[leaf, label] = 1
    for node in np.argsort(-_depths(node_field, left, right), kind="stable"):
        if node_field[node] != LEAF:
            released[node] = released[left[node]] + released[right[node]]
    model = build(Nodes(*arrays, released))
    spent = [epsilon] * len(leaves)
    model.metadata = {
        **row_metadata(table, data, dataset, file, model),
        "params": dp_params(epsilon, max_depth) | {"random_state": seed},
        "training_defense": f"differentially private tree (diffprivlib's algorithm), epsilon {epsilon:g}",
        "sensitive_placement": "anywhere: the structure is random",
        "epsilon": epsilon,
        "delta": 0.0,
        "privacy_accounting": {
            "leaf_releases": len(spent),
            "epsilon_per_release": epsilon,
            "composition": "parallel: the leaves partition the training rows",
            "epsilon_spent": max(spent),
            "structure_epsilon": 0.0,
        },
        "tree_depth": int(_depths(node_field, left, right).max()),
        "training_seconds": round(time.perf_counter() - started, 3),
    }
    return model


VARIANTS: dict[str, dict[str, Any]] = {
    "private-top": {"placement": "top"},
    "private-bottom": {"placement": "bottom"},
    "dp-eps1": {"epsilon": 1.0},
    "dp-eps10": {"epsilon": 10.0},
}
"""The built-in training defences of each survey tree, served as ``<survey>-tree-<variant>``."""


def variant_params(variant: str) -> dict[str, Any]:
    """What decides a built-in variant besides data, code and seed (its cache key's parameters)."""
    settings = VARIANTS[variant]
    return private_params(settings["placement"]) if "placement" in settings else dp_params(settings["epsilon"])


def fit_variant(variant: str, table: pd.DataFrame, objective: str, *, sensitive: str, **common: Any) -> TreeModel:
    """Train built-in variant ``variant`` (``common``: name, dataset, file, seed, description)."""
    settings = VARIANTS[variant]
    if "placement" in settings:
        return fit_private_tree(table, objective, placement=settings["placement"], sensitive=sensitive, **common)
    return fit_dp_tree(table, objective, epsilon=settings["epsilon"], sensitive=sensitive, **common)
