"""How well an attribute-inference attack did, next to the reference attackers.

As in the CCS 2015 study's table: accuracy, and precision and recall of the
sensitive ("positive") value, for the attack, a baseline that always answers
the majority value, random guessing, and an "ideal" attacker that learns x_1
from the other features and y on the training data. Precision is what matters
(a "yes" the attack announces should be right). A precision with no positive
guess, or a recall with no positive target, is undefined and reported as None.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.tree import DecisionTreeClassifier

from attack_clients.clients.base import is_missing
from attack_clients.trees.attacks import choose

POSITIVE_SPELLINGS = ("yes",)


def positive_value(values: Sequence[str], prior: Mapping[str, float], override: str | None = None) -> str:
    """The sensitive value to score: ``override``, else a "yes", else the rarest value."""
    if override is not None:
        if override not in values:
            raise ValueError(f"positive value {override!r} is not one of {list(values)}")
        return override
    for value in values:
        if value.strip().lower() in POSITIVE_SPELLINGS:
            return value
    return min(values, key=lambda v: (prior.get(v, 0.0), v))


def attribute_metrics(truth: Sequence[str], guesses: Sequence[str], positive: str) -> dict[str, Any]:
    """Accuracy over all targets; precision and recall of ``positive``."""
    truth_a = np.asarray([str(t) for t in truth], dtype=object)
    guess_a = np.asarray([str(g) for g in guesses], dtype=object)
    n = len(truth_a)
    hits = int((truth_a == guess_a).sum())
    guessed = guess_a == positive
    actual = truth_a == positive
    both = int((guessed & actual).sum())
    return {
        "n": n,
        "accuracy": hits / n if n else None,
        "precision": both / int(guessed.sum()) if guessed.any() else None,
        "recall": both / int(actual.sum()) if actual.any() else None,
        "guessed_positive": int(guessed.sum()),
        "true_positive": both,
    }


def baseline_metrics(truth: Sequence[str], prior: Mapping[str, float], positive: str) -> dict[str, Any]:
    """Always answer the majority value of the prior (ties as the attacks break them)."""
    values = sorted(prior)
    majority = choose(values, [prior[v] for v in values], prior)
    return {"guess": majority, **attribute_metrics(truth, [majority] * len(truth), positive)}


def random_metrics(truth: Sequence[str], values: Sequence[str], positive: str) -> dict[str, Any]:
    """Expected metrics of guessing uniformly among ``values`` (no randomness needed).

    Accuracy and recall are 1/|V|; precision is the positive share of the targets.
    """
    n = len(truth)
    share = sum(1 for t in truth if str(t) == positive) / n if n else None
    return {
        "n": n,
        "accuracy": 1.0 / len(values) if n else None,
        "precision": share,
        "recall": 1.0 / len(values) if share else None,
        "guessed_positive": n / len(values),
        "true_positive": (share or 0.0) * n / len(values),
    }


def _frame(
    records: Sequence[Mapping[str, Any]], labels: Sequence[str], features: Sequence[Mapping[str, Any]]
) -> pd.DataFrame:
    columns: dict[str, list[Any]] = {}
    for field in features:
        name = field["name"]
        raw = [record.get(name) for record in records]
        if field.get("optype") == "categorical":
            columns[name] = ["<missing>" if is_missing(v) else str(v) for v in raw]
        else:
            columns[name] = [np.nan if is_missing(v) else float(v) for v in raw]
    columns["<label>"] = [str(y) for y in labels]
    return pd.DataFrame(columns)


def _ideal_candidates(categorical: list[str], numeric: list[str]) -> dict[str, Pipeline]:
    def encoder() -> ColumnTransformer:
        return ColumnTransformer(
            [
                ("categorical", OneHotEncoder(handle_unknown="ignore"), categorical),
                (
                    "numeric",
                    make_pipeline(SimpleImputer(strategy="median", add_indicator=True), StandardScaler()),
                    numeric,
                ),
            ]
        )

    return {
        "tree": make_pipeline(encoder(), DecisionTreeClassifier(random_state=0)),
        "logistic": make_pipeline(encoder(), LogisticRegression(max_iter=2000)),
    }


def ideal_metrics(
    train_records: Sequence[Mapping[str, Any]],
    train_labels: Sequence[str],
    sensitive: str,
    fields: Sequence[Mapping[str, Any]],
    evaluate: Mapping[str, tuple[Sequence[Mapping[str, Any]], Sequence[str]]],
    positive: str,
) -> dict[str, dict[str, Any]]:
    """The "ideal" attacker on each evaluation set.

    Two learners of x_1 from the other features and y, trained on the training
    records (where x_1 is known to the evaluator): an unpruned decision tree and
    a logistic regression. Each set reports both, and as ``ideal`` the better by
    accuracy on that set: the ideal attacker is an upper reference, not an attack.
    """
    features = [f for f in fields if f["name"] != sensitive]
    categorical = [f["name"] for f in features if f.get("optype") == "categorical"] + ["<label>"]
    numeric = [f["name"] for f in features if f.get("optype") != "categorical"]
    X_train = _frame(train_records, train_labels, features)
    y_train = [str(record.get(sensitive)) for record in train_records]
    fitted = {name: model.fit(X_train, y_train) for name, model in _ideal_candidates(categorical, numeric).items()}
    out: dict[str, dict[str, Any]] = {}
    for set_name, (records, labels) in evaluate.items():
        truth = [str(record.get(sensitive)) for record in records]
        X = _frame(records, labels, features)
        candidates = {
            name: attribute_metrics(truth, list(model.predict(X)), positive) for name, model in fitted.items()
        }
        best = max(sorted(candidates), key=lambda name: candidates[name]["accuracy"] or 0.0)
        out[set_name] = {"learner": best, **candidates[best], "candidates": candidates}
    return out
