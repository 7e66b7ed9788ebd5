"""The tree evaluator: parity with scikit-learn, missing values, paths, records, export."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.tree import DecisionTreeClassifier

from app.zoo import InputError, train_tree_from_csv
from app.zoo.tree_train import _one_hot, encode_table
from app.zoo.uploads import _parse
from tests.app.zoo.conftest import hand_tree, survey_csv


@pytest.fixture(scope="module")
def survey_tree():
    return train_tree_from_csv("survey", survey_csv(), sensitive="color")


def test_matches_sklearn_predict_proba_on_complete_rows(survey_tree) -> None:
    """Refit the same CART on the same one-hot rows: our walk gives sklearn's probabilities."""
    train, held = survey_tree.metadata["training_rows"], survey_tree.metadata["heldout_rows"]
    params = survey_tree.metadata["params"]
    table = _parse(survey_csv()).loc[train + held]
    X = encode_table(table, survey_tree.fields)
    y = np.array([survey_tree.classes.index(v) for v in table["label"]])
    onehot, _, _ = _one_hot(X, survey_tree.fields)
    cart = DecisionTreeClassifier(
        criterion=params["criterion"], min_samples_leaf=params["min_samples_leaf"], random_state=params["random_state"]
    ).fit(onehot[: len(train)], y[: len(train)])
    complete = ~np.isnan(X).any(axis=1)
    assert complete.sum() > 150
    np.testing.assert_allclose(survey_tree.predict_proba(X[complete]), cart.predict_proba(onehot[complete]))
    assert len(survey_tree.node_field) == cart.tree_.node_count > 3


def test_missing_value_stops_at_the_node_that_splits_on_it() -> None:
    tree = hand_tree()
    X = np.array([[np.nan, 1.0], [40.0, np.nan], [25.0, np.nan], [40.0, 1.0], [40.0, 0.0]])
    expected = np.array([[9 / 20, 11 / 20], [0.1, 0.9], [0.8, 0.2], [0.0, 1.0], [1 / 6, 5 / 6]])
    np.testing.assert_allclose(tree.predict_proba(X), expected)
    assert tree.final_nodes(X).tolist() == [0, 2, 1, 4, 3]


def test_threshold_is_inclusive_on_the_left() -> None:
    np.testing.assert_allclose(hand_tree().predict_proba(np.array([[30.0, 1.0]])), [[0.8, 0.2]])


def test_prediction_paths_list_the_predicates_passed() -> None:
    paths = hand_tree().predict_paths(np.array([[40.0, 1.0], [40.0, 0.0], [np.nan, 0.0], [20.0, np.nan]]))
    assert paths[0] == [
        {"field": "age", "operator": ">", "value": 30.0},
        {"field": "color", "operator": "=", "value": "red"},
    ]
    assert paths[1][-1] == {"field": "color", "operator": "!=", "value": "red"}
    assert paths[2] == []
    assert paths[3] == [{"field": "age", "operator": "<=", "value": 30.0}]


def test_encode_records_maps_names_categories_numbers_and_missing() -> None:
    tree = hand_tree()
    X = tree.encode_records(
        [{"age": 40, "color": "red"}, {"age": "31.5"}, {"color": " blue "}, {"age": "", "color": "NA"}]
    )
    np.testing.assert_array_equal(X[:2], [[40.0, 1.0], [31.5, np.nan]])
    assert np.isnan(X[2, 0]) and X[2, 1] == 0.0
    assert np.isnan(X[3]).all()


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"height": 3}, "unknown field 'height'"),
        ({"color": "green"}, "field 'color': unknown category 'green'; allowed: 'blue', 'red'"),
        ({"age": "old"}, "field 'age' is numeric, got 'old'"),
        ({"age": True}, "field 'age' is numeric"),
        ({"age": 10**400}, "field 'age' is numeric"),
    ],
)
def test_encode_records_rejects_what_the_schema_does_not_allow(record, message) -> None:
    with pytest.raises(InputError, match=message.replace("(", r"\(")):
        hand_tree().encode_records([record])


def test_predict_proba_checks_the_matrix_width() -> None:
    with pytest.raises(InputError, match="shape"):
        hand_tree().predict_proba(np.zeros((2, 3)))


def test_export_mirrors_bigml_nodes_with_counts(survey_tree) -> None:
    exported = survey_tree.export()
    assert exported["objective"] == "label" and exported["classes"] == ["no", "yes"]
    assert exported["training_count"] == len(survey_tree.metadata["training_rows"])
    assert [f["name"] for f in exported["fields"]] == ["age", "color", "town"]
    root = exported["root"]
    assert root["predicate"] is True and root["count"] == exported["training_count"]

    def check(node: dict) -> int:
        assert node["count"] == sum(node["counts"])
        assert node["output"] == exported["classes"][int(np.argmax(node["counts"]))]
        if node["children"]:
            left, right = node["children"]
            assert left["predicate"]["field"] == right["predicate"]["field"]
            assert {left["predicate"]["operator"], right["predicate"]["operator"]} in ({"<=", ">"}, {"=", "!="})
            assert np.array_equal(np.add(left["counts"], right["counts"]), node["counts"])
            return 1 + check(left) + check(right)
        return 1

    assert check(root) == len(survey_tree.node_field)


def test_leaf_probabilities_are_the_training_counts(survey_tree) -> None:
    X, _ = survey_tree.heldout()
    nodes = survey_tree.final_nodes(X)
    counts = survey_tree.node_counts[nodes]
    np.testing.assert_allclose(survey_tree.predict_proba(X), counts / counts.sum(axis=1, keepdims=True))
