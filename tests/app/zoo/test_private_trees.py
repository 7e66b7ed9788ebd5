"""The trees' training defences: where privacy-aware CART puts the sensitive feature,
reproducible training, and the differentially private tree's release and ε bookkeeping.

Trained on statsmodels' affairs survey (always installed), a few tenths of a second each.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest

from app.zoo import catalog, data
from app.zoo.private_trees import VARIANTS, fit_dp_tree, fit_private_tree, permute_and_flip
from app.zoo.trees import LEAF, TreeModel


@pytest.fixture(scope="module")
def fair() -> data.SurveyTable:
    return data.load_fair()


def _fit(survey, variant: str, seed: int = 0, table=None) -> TreeModel:
    common = {"name": f"fair-tree-{variant}", "dataset": survey.name, "file": survey.file, "seed": seed}
    table = survey.table if table is None else table
    if variant.startswith("dp"):
        epsilon = {"dp-eps1": 1.0, "dp-eps10": 10.0}[variant]
        return fit_dp_tree(table, survey.objective, epsilon=epsilon, sensitive=survey.sensitive, **common)
    placement = variant.removeprefix("private-")
    return fit_private_tree(table, survey.objective, placement=placement, sensitive=survey.sensitive, **common)


@pytest.fixture(scope="module")
def trees(fair) -> dict[str, TreeModel]:
    return {variant: _fit(fair, variant) for variant in VARIANTS}


def _sensitive_nodes(model: TreeModel) -> np.ndarray:
    index = [f.name for f in model.fields].index(model.sensitive)
    return np.flatnonzero(model.node_field == index)


def test_top_placement_splits_the_root_on_the_sensitive_feature_and_nowhere_else(trees) -> None:
    model = trees["private-top"]
    assert _sensitive_nodes(model).tolist() == [0]
    assert model.metadata["sensitive_placement"] == "top"


def test_bottom_placement_tests_the_sensitive_feature_only_right_above_leaves(trees) -> None:
    model = trees["private-bottom"]
    nodes = _sensitive_nodes(model)
    assert len(nodes) >= 2 and 0 not in nodes
    assert (model.node_field[model.node_left[nodes]] == LEAF).all()
    assert (model.node_field[model.node_right[nodes]] == LEAF).all()
    assert model.metadata["tree_depth"] >= 3


def test_counts_are_the_training_rows_each_node_passes(fair, trees) -> None:
    for variant in ("private-top", "private-bottom"):
        model = trees[variant]
        rows = model.metadata["training_rows"]
        X = model.encode_records(fair.table.loc[rows].drop(columns=[fair.objective]).to_dict("records"))
        leaves = model.final_nodes(X)
        assert model.node_counts[0].sum() == len(rows)
        for leaf in np.unique(leaves):
            assert model.node_counts[leaf].sum() == np.sum(leaves == leaf)
        inner = np.flatnonzero(model.node_field != LEAF)
        sums = model.node_counts[model.node_left[inner]] + model.node_counts[model.node_right[inner]]
        assert (model.node_counts[inner] >= sums).all()


def test_training_is_reproducible(fair, trees) -> None:
    for variant in ("private-bottom", "dp-eps1"):
        again = _fit(fair, variant)
        for name in ("node_field", "node_value", "node_left", "node_right", "node_counts"):
            np.testing.assert_array_equal(getattr(again, name), getattr(trees[variant], name))
    other_seed = _fit(fair, "dp-eps1", seed=1)
    assert not np.array_equal(other_seed.node_field, trees["dp-eps1"].node_field)


def test_dp_tree_releases_one_label_per_leaf_and_accounts_for_epsilon(trees) -> None:
    for variant, epsilon in (("dp-eps1", 1.0), ("dp-eps10", 10.0)):
        model = trees[variant]
        meta = model.metadata
        leaves = np.flatnonzero(model.node_field == LEAF)
        assert meta["epsilon"] == epsilon and meta["delta"] == 0.0 and meta["params"]["epsilon"] == epsilon
        accounting = meta["privacy_accounting"]
        assert accounting["leaf_releases"] == len(leaves) == 2**5
        assert accounting["epsilon_spent"] == epsilon and accounting["structure_epsilon"] == 0.0
        assert (model.node_counts[leaves].sum(axis=1) == 1).all(), "a leaf publishes its released class only"
        inner = np.flatnonzero(model.node_field != LEAF)
        np.testing.assert_array_equal(
            model.node_counts[inner],
            model.node_counts[model.node_left[inner]] + model.node_counts[model.node_right[inner]],
        )
        assert "field_summaries" not in meta, "the training marginals are not differentially private"


def test_dp_structure_does_not_depend_on_the_data(fair, trees) -> None:
    shuffled = fair.table.copy()
    shuffled[fair.objective] = np.random.default_rng(5).permutation(shuffled[fair.objective].to_numpy())
    model = _fit(fair, "dp-eps1", table=shuffled)
    for name in ("node_field", "node_value", "node_left", "node_right"):
        np.testing.assert_array_equal(getattr(model, name), getattr(trees["dp-eps1"], name))
        np.testing.assert_array_equal(getattr(trees["dp-eps10"], name), getattr(trees["dp-eps1"], name))


def _exact_permute_and_flip(counts: list[int], epsilon: float) -> np.ndarray:
    """P(class) under permute and flip: over every visiting order, the first class accepted."""
    accept = [math.exp(epsilon * (c - max(counts))) for c in counts]
    probabilities = np.zeros(len(counts))
    orders = list(itertools.permutations(range(len(counts))))
    for order in orders:
        reach = 1.0
        for candidate in order:
            probabilities[candidate] += reach * accept[candidate] / len(orders)
            reach *= 1 - accept[candidate]
    return probabilities


def test_permute_and_flip_draws_with_the_mechanisms_probabilities() -> None:
    rng = np.random.default_rng(0)
    counts = [10, 9, 8]
    draws = np.bincount([permute_and_flip(np.array(counts), 1.0, rng) for _ in range(20_000)], minlength=3)
    np.testing.assert_allclose(draws / draws.sum(), _exact_permute_and_flip(counts, 1.0), atol=0.015)
    assert {permute_and_flip(np.array(counts), 50.0, rng) for _ in range(200)} == {0}


def test_dp_tree_refuses_a_non_positive_epsilon(fair) -> None:
    with pytest.raises(ValueError, match="epsilon"):
        fit_dp_tree(fair.table, fair.objective, epsilon=0.0, sensitive=fair.sensitive, name="x", dataset="d", file="f")


def test_catalog_names_each_variant_beside_its_tree() -> None:
    names = [spec.name for spec in catalog.builtin_specs(None)]
    assert [n for n in names if n.startswith("fair-tree")] == ["fair-tree", *(f"fair-tree-{v}" for v in VARIANTS)]
    with_data = [spec.name for spec in catalog.builtin_specs(Path("unused"))]
    assert "steak-tree-private-top" in with_data and "gss-tree-dp-eps10" in with_data
    spec = next(s for s in catalog.builtin_specs(None) if s.name == "fair-tree-dp-eps10")
    assert catalog.training_params(spec)["epsilon"] == 10.0
