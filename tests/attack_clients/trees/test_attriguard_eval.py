"""AttriGuard's evaluation pieces: answers as codes, the publisher's classifier, and the tree
attacks on answers released under AttriGuard, on a tree learned from the real affairs survey."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from attack_clients.attacks.attriguard_eval import (
    ATTACK,
    ATTACKERS,
    VARIANTS,
    AttriGuardParams,
    Survey,
    evaluate_release,
    release,
)
from attack_clients.trees.attacks import wbwc_attack
from attack_clients.trees.code_logistic import fit_code_logistic, one_hot
from attack_clients.trees.model import BigMLTree, LocalTreeOracle
from attack_clients.trees.public_answers import MAX_CHOICES, questionnaire
from attack_clients.trees.records import NO_ANSWER, TargetSet, load_fair
from defenses.attriguard import MISSING

from .tree_fixtures import encode, to_bigml

FIELDS = [
    {"name": "smoker", "optype": "categorical", "categories": [NO_ANSWER, "no", "yes"]},
    {"name": "cheated", "optype": "categorical", "categories": ["No", "Yes"]},
    {"name": "kids", "optype": "numeric"},
    {"name": "age", "optype": "numeric"},
]


def test_answers_become_codes_and_back() -> None:
    records = [
        {"smoker": "yes", "cheated": "No", "kids": 2.0, "age": 30.0 + i} if i % 2 else
        {"smoker": NO_ANSWER, "cheated": "Yes", "kids": None, "age": 70.0 - i}
        for i in range(MAX_CHOICES + 1)
    ]  # fmt: skip
    records[0]["kids"] = 0.0
    targets = TargetSet(records, ["rare" if i % 3 else "well" for i in range(len(records))])
    form = questionnaire(FIELDS, "cheated", "steak", ["rare", "well"], records)
    assert [q.name for q in form.questions] == ["smoker", "kids", "steak"]
    assert form.fixed == ("age",), "a number with more answers than MAX_CHOICES is released as it is"
    assert form.cardinalities == (2, 2, 2)
    codes = form.encode(targets)
    np.testing.assert_array_equal(codes[:3], [[MISSING, 0, 1], [1, 1, 0], [MISSING, MISSING, 0]])
    back = form.decode(codes, targets)
    assert back.records == records and back.labels == targets.labels
    flipped = form.decode(np.where(codes == MISSING, MISSING, 1 - codes), targets)
    assert flipped.records[1] == {**records[1], "smoker": "no", "kids": 0.0}
    assert flipped.labels[:2] == ["rare", "well"] and flipped.records[0]["smoker"] == NO_ANSWER


@pytest.mark.parametrize("n_values", [2, 3])
def test_the_publishers_classifier_is_the_fitted_logistic_regression(n_values: int) -> None:
    rng = np.random.default_rng(n_values)
    cardinalities = (3, 2, 4)
    codes = np.column_stack([rng.integers(MISSING, k, 400) for k in cardinalities])
    sensitive = (codes[:, 0] + (codes[:, 2] > 1) + rng.integers(0, 2, 400)) % n_values
    model = fit_code_logistic(codes, sensitive, cardinalities, n_values)
    reference = LogisticRegression(solver="newton-cholesky", max_iter=200).fit(one_hot(codes, cardinalities), sensitive)
    np.testing.assert_allclose(
        model.predict_proba(codes), reference.predict_proba(one_hot(codes, cardinalities)), atol=1e-9
    )
    unseen = fit_code_logistic(codes, np.where(sensitive == 0, 0, 2), cardinalities, 3)
    assert np.all(unseen.predict_proba(codes)[:, 1] == 0), "a value nobody holds is never predicted"


@pytest.fixture(scope="module")
def affairs() -> tuple[Survey, BigMLTree]:
    """A tree learned from 300 people of statsmodels' affairs survey (answers as categories): had an affair
    is the sensitive answer, the marriage rating the label."""
    table, objective, sensitive = load_fair()
    table = table.sample(n=300, random_state=0).reset_index(drop=True)
    names = [c for c in table.columns if c != objective]
    fields = [{"name": c, "optype": "categorical", "categories": sorted(table[c].astype(str).unique())} for c in names]
    records = [{c: str(v) for c, v in zip(names, row, strict=True)} for row in table[names].itertuples(index=False)]
    labels = table[objective].astype(str).tolist()
    train, held = (records[:150], labels[:150]), (records[150:], labels[150:])
    X, columns = encode(train[0], fields)
    tree = BigMLTree(to_bigml(DecisionTreeClassifier(min_samples_leaf=5, random_state=0).fit(X, train[1]),
                              columns, fields, *train))  # fmt: skip
    sets = {"training": TargetSet(*train), "heldout": TargetSet(*held)}
    return Survey(sets, fields, sensitive, objective, tree.classes, ["no", "yes"]), tree


@pytest.fixture(scope="module")
def by_beta(affairs):
    survey, tree = affairs
    return {
        beta: evaluate_release(survey, LocalTreeOracle(tree), tree, AttriGuardParams(beta=beta)) for beta in (0.0, 1.0)
    }


def test_without_budget_the_attacks_see_the_true_answers(affairs, by_beta) -> None:
    survey, tree = affairs
    clean = by_beta[0.0]
    training = survey.sets["training"]
    for name in survey.sets:
        assert clean.metrics[name]["changed"]["histogram"] == [len(survey.sets[name].records)]
    truth = wbwc_attack(tree, training.records, training.labels, survey.sensitive, survey.values).guesses
    assert [row[5] for row in clean.table[1:] if row[0] == "training"] == truth


def test_the_release_spends_at_most_beta_and_the_attacks_fall(by_beta) -> None:
    clean, guarded = by_beta[0.0].metrics["training"], by_beta[1.0].metrics["training"]
    changed = guarded["changed"]
    assert 0 < changed["expected"] <= 1.0 + 1e-9
    assert changed["mean"] <= changed["expected"] + 4 * np.sqrt(2.0 / 150), "realised changes far above budget"
    assert guarded["attack"] == guarded["attackers"]["wbwc"]
    for measure in ("accuracy", "precision"):
        assert guarded["attack"][measure] < clean["attack"][measure], measure
    assert sum(guarded["attackers"][a]["accuracy"] for a in ATTACKERS) < sum(
        clean["attackers"][a]["accuracy"] for a in ATTACKERS
    )


def test_each_policy_changes_only_what_it_may(affairs) -> None:
    survey, _ = affairs
    blanked = {
        name: TargetSet([{**r, "children": NO_ANSWER} if i % 3 == 0 else r for i, r in enumerate(s.records)], s.labels)
        for name, s in survey.sets.items()
    }
    fields = [
        {**f, "categories": [NO_ANSWER, *f["categories"]]} if f["name"] == "children" else f for f in survey.fields
    ]
    survey = dataclasses.replace(survey, sets=blanked, fields=fields)
    respondents = [r for s in blanked.values() for r in s.records]
    form = questionnaire(fields, survey.sensitive, survey.objective, survey.classes, respondents)
    before = {name: form.encode(s) for name, s in blanked.items()}
    touched = {}
    for policy in ("modify", "add", "both"):
        out = release(survey, form, AttriGuardParams(beta=3.0, policy=policy))
        after = {name: form.encode(s) for name, s in out.sets.items()}
        moved = np.vstack([after[n] != before[n] for n in before])
        was_blank = np.vstack([before[n] == MISSING for n in before])
        assert not np.any(np.vstack([after[n] == MISSING for n in before]) & ~was_blank), "an answer was blanked"
        if policy == "modify":
            assert not np.any(moved & was_blank)
        if policy == "add":
            assert not np.any(moved & ~was_blank)
        touched[policy] = moved.sum()
    assert touched["modify"] > 0 and touched["add"] > 0 and touched["both"] > 0


def test_the_registry_offers_the_beta_sweep_and_the_policies() -> None:
    assert ATTACK.name == "attriguard" and ATTACK.params.beta == 1.0 and ATTACK.family == "tree"
    assert sorted(v.params.beta for v in VARIANTS if v.params.policy == "both") == [0.0, 0.1, 0.25, 0.5, 2.0]
    assert {v.params.policy for v in VARIANTS} == {"both", "modify", "add"}
