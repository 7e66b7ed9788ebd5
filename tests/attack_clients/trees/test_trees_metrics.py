"""Scores of the attack and of the reference attackers."""

from __future__ import annotations

import pytest

from attack_clients.trees.metrics import (
    attribute_metrics,
    baseline_metrics,
    ideal_metrics,
    positive_value,
    random_metrics,
)

from .tree_fixtures import FIELDS, Scenario

TRUTH = ["Yes", "No", "No", "Yes", "No", "No", "No", "No"]


def test_accuracy_precision_recall_of_the_positive_value() -> None:
    guesses = ["Yes", "Yes", "No", "No", "No", "No", "No", "No"]
    m = attribute_metrics(TRUTH, guesses, "Yes")
    assert m["n"] == 8 and m["accuracy"] == 6 / 8
    assert m["precision"] == 1 / 2 and m["recall"] == 1 / 2
    assert m["guessed_positive"] == 2 and m["true_positive"] == 1


def test_undefined_precision_and_recall_are_none() -> None:
    assert attribute_metrics(TRUTH, ["No"] * 8, "Yes")["precision"] is None
    assert attribute_metrics(["No"] * 3, ["Yes"] * 3, "Yes")["recall"] is None


def test_baseline_answers_the_majority() -> None:
    m = baseline_metrics(TRUTH, {"No": 0.8, "Yes": 0.2}, "Yes")
    assert m["guess"] == "No" and m["accuracy"] == 6 / 8 and m["precision"] is None and m["recall"] == 0.0
    assert baseline_metrics(TRUTH, {"No": 0.5, "Yes": 0.5}, "Yes")["guess"] == "No"  # tie: lexicographic


def test_random_guessing_expected_values() -> None:
    m = random_metrics(TRUTH, ["No", "Yes"], "Yes")
    assert m["accuracy"] == 0.5 and m["recall"] == 0.5 and m["precision"] == pytest.approx(2 / 8)
    assert random_metrics(["a", "b", "c"], ["a", "b", "c"], "c")["accuracy"] == pytest.approx(1 / 3)


def test_positive_value_detection() -> None:
    assert positive_value(["NO", "YES"], {"NO": 0.8, "YES": 0.2}) == "YES"
    assert positive_value(["no", "yes"], {}) == "yes"
    assert positive_value(["a", "b", "c"], {"a": 0.5, "b": 0.2, "c": 0.3}) == "b"
    assert positive_value(["a", "b"], {}, override="a") == "a"
    with pytest.raises(ValueError):
        positive_value(["a", "b"], {}, override="z")


def test_ideal_attacker_is_scored_on_each_set(scenario: Scenario) -> None:
    ideal = ideal_metrics(
        *scenario.train, "cheated", FIELDS, {"training": scenario.train, "heldout": scenario.heldout}, "Yes"
    )
    assert set(ideal) == {"training", "heldout"}
    for row in ideal.values():
        assert row["learner"] in ("tree", "logistic") and set(row["candidates"]) == {"tree", "logistic"}
        assert row["accuracy"] == max(c["accuracy"] for c in row["candidates"].values())
        assert row["accuracy"] > 0.85 and row["precision"] > 0.7
