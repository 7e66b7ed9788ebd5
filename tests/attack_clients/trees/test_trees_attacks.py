"""MAP and WBWC on local trees: exact scores on a hand-made tree, leakage on a learned one."""

from __future__ import annotations

import numpy as np
import pytest

from attack_clients.trees.attacks import (
    Confusion,
    RecordOracle,
    choose,
    confusion_from_oracle,
    map_attack,
    marginal,
    wbwc_attack,
)
from attack_clients.trees.metrics import attribute_metrics, baseline_metrics
from attack_clients.trees.model import BigMLTree, LocalTreeOracle

from .tree_fixtures import CLASSES, FIELDS, Scenario, encode

# x1 = Yes: leaf (a 8, b 2); x1 = No: z <= 5 -> (a 1, b 29), z > 5 -> (a 30, b 30). Prior Yes 0.1.
TINY = {
    "objective_field": "000002",
    "model": {
        "fields": {
            "000000": {"name": "x1", "optype": "categorical", "summary": {"categories": [["No", 90], ["Yes", 10]]}},
            "000001": {"name": "z", "optype": "numeric"},
            "000002": {"name": "y", "optype": "categorical", "summary": {"categories": [["a", 39], ["b", 61]]}},
        },
        "root": {
            "predicate": True,
            "count": 100,
            "output": "b",
            "objective_summary": {"categories": [["a", 39], ["b", 61]]},
            "children": [
                {
                    "predicate": {"field": "000000", "operator": "=", "value": "Yes"},
                    "count": 10,
                    "output": "a",
                    "objective_summary": {"categories": [["a", 8], ["b", 2]]},
                },
                {
                    "predicate": {"field": "000000", "operator": "!=", "value": "Yes"},
                    "count": 90,
                    "output": "b",
                    "objective_summary": {"categories": [["a", 31], ["b", 59]]},
                    "children": [
                        {
                            "predicate": {"field": "000001", "operator": "<=", "value": 5},
                            "count": 30,
                            "output": "b",
                            "objective_summary": {"categories": [["a", 1], ["b", 29]]},
                        },
                        {
                            "predicate": {"field": "000001", "operator": ">", "value": 5},
                            "count": 60,
                            "output": "a",
                            "objective_summary": {"categories": [["a", 30], ["b", 30]]},
                        },
                    ],
                },
            ],
        },
    },
}


def test_wbwc_scores_follow_the_formula_by_hand() -> None:
    tree = BigMLTree(TINY)
    assert tree.prior("x1") == {"No": 0.9, "Yes": 0.1} and tree.classes == ["a", "b"]
    targets = [{"x1": "?", "z": 3.0}, {"z": 7.0}, {"z": 3.0}, {"z": None}]
    result = wbwc_attack(tree, targets, ["a", "a", "b", "a"], "x1")
    assert result.values == ["No", "Yes"]
    expected = [
        [0.9 * 1 / 30, 0.1 * 8 / 10],  # Yes wins: the rare "a" under x1 = No, z <= 5
        [0.9 * 30 / 60, 0.1 * 8 / 10],
        [0.9 * 29 / 30, 0.1 * 2 / 10],
        [0.9 * (1 + 30) / 90, 0.1 * 8 / 10],  # z unknown: both No-leaves stay possible
    ]
    np.testing.assert_allclose(result.scores, expected)
    assert result.guesses == ["Yes", "No", "No", "No"]


def test_map_scores_follow_the_formula_by_hand() -> None:
    oracle = LocalTreeOracle(BigMLTree(TINY))
    confusion = Confusion(["a", "b"], np.array([[8.0, 2.0], [1.0, 9.0]]), smoothing=0.0)
    prior = {"No": 0.9, "Yes": 0.1}
    targets = [{"x1": "No", "z": 3.0}, {"x1": "Yes", "z": 3.0}, {"x1": "No", "z": 7.0}]
    result = map_attack(oracle, targets, ["a", "a", "b"], "x1", ["No", "Yes"], prior, confusion)
    # f(No, z=3) = b, f(Yes, .) = a, f(No, z=7) = a
    np.testing.assert_allclose(result.scores, [[0.2 * 0.9, 0.8 * 0.1], [0.2 * 0.9, 0.8 * 0.1], [0.1 * 0.9, 0.1 * 0.1]])
    assert result.guesses == ["No", "No", "No"]
    assert oracle.stats.rows == 4  # the first two targets ask the same two questions
    confident = Confusion(["a", "b"], np.array([[99.0, 1.0], [1.0, 99.0]]), smoothing=0.0)
    assert map_attack(oracle, targets[:1], ["a"], "x1", ["No", "Yes"], prior, confident).guesses == ["Yes"]


def test_tie_break_is_stated_and_deterministic() -> None:
    assert choose(["No", "Yes"], [0.5, 0.5], {"No": 0.3, "Yes": 0.7}) == "Yes"
    assert choose(["Yes", "No"], [0.5, 0.5], {"No": 0.5, "Yes": 0.5}) == "No"  # then lexicographic
    assert choose(["No", "Yes"], [0.1 + 0.2, 0.3], {"No": 0.4, "Yes": 0.6}) == "Yes"  # rounding is a tie
    assert choose(["No", "Yes"], [0.3, 0.3000001], {"No": 0.9, "Yes": 0.1}) == "Yes"  # a real difference
    tree = BigMLTree(TINY)
    targets = [{"z": 3.0}] * 3
    first = wbwc_attack(tree, targets, ["c"] * 3, "x1")  # an unknown label: every score is 0
    assert first.guesses == ["No"] * 3
    assert wbwc_attack(tree, targets, ["c"] * 3, "x1").guesses == first.guesses


def test_local_oracle_answers_like_the_sklearn_tree(scenario: Scenario) -> None:
    oracle = LocalTreeOracle(BigMLTree(scenario.model_json))
    assert isinstance(oracle, RecordOracle) and oracle.classes == CLASSES
    records, _ = scenario.heldout
    labels, probabilities = oracle.predict_records(records)
    X, _ = encode(records, FIELDS)
    assert [CLASSES[i] for i in labels] == list(scenario.clf.predict(X))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)


def _truth(records: list[dict]) -> list[str]:
    return [r["cheated"] for r in records]


def test_wbwc_beats_the_baseline_where_the_tree_leaks(scenario: Scenario) -> None:
    tree = BigMLTree(scenario.model_json)
    prior = tree.prior("cheated")
    for records, labels in (scenario.train, scenario.heldout):
        result = wbwc_attack(tree, records, labels, "cheated")
        attack = attribute_metrics(_truth(records), result.guesses, "Yes")
        base = baseline_metrics(_truth(records), prior, "Yes")
        prevalence = _truth(records).count("Yes") / len(records)
        assert base["precision"] is None and base["recall"] == 0.0
        assert attack["accuracy"] > base["accuracy"]
        assert attack["precision"] > 2.5 * prevalence and attack["recall"] > 0.5


def test_map_beats_the_baseline_where_the_tree_leaks(scenario: Scenario) -> None:
    oracle = LocalTreeOracle(BigMLTree(scenario.model_json))
    confusion = confusion_from_oracle(oracle, *scenario.heldout)
    records, labels = scenario.train
    prior = marginal(_truth(records), ["No", "Yes"])
    result = map_attack(oracle, records, labels, "cheated", ["No", "Yes"], prior, confusion)
    attack = attribute_metrics(_truth(records), result.guesses, "Yes")
    assert attack["accuracy"] > baseline_metrics(_truth(records), prior, "Yes")["accuracy"]
    assert attack["precision"] > 2.5 * prior["Yes"] and attack["recall"] > 0.3
    distinct = {(r["region"], r["smoker"], r["age"]) for r in records}
    assert oracle.stats.rows == len(scenario.heldout[0]) + 2 * len(distinct)  # repeated questions are asked once


@pytest.mark.parametrize("attack", ["wbwc", "map"])
def test_no_leak_means_the_majority_answer(blind_scenario: Scenario, attack: str) -> None:
    """A tree that never tests x1 gives every value the same evidence: the prior decides."""
    tree = BigMLTree(blind_scenario.model_json)
    records, labels = blind_scenario.train
    if attack == "wbwc":
        result = wbwc_attack(tree, records, labels, "cheated")
    else:
        oracle = LocalTreeOracle(tree)
        prior = marginal(_truth(records), ["No", "Yes"])
        confusion = confusion_from_oracle(oracle, *blind_scenario.heldout)
        result = map_attack(oracle, records, labels, "cheated", ["No", "Yes"], prior, confusion)
    assert set(result.guesses) == {"No"}
