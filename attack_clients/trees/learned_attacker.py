"""An attacker's own classifier of the sensitive answer, trained on released answers.

The attacker holds the released (possibly perturbed) public answers of other
respondents together with their sensitive answer (people who disclosed it), and
learns the sensitive answer from the released ones: a logistic regression on
the one-hot of every released answer (numbers as categories too), which adapts
to whatever perturbation the release carries. Each respondent is guessed by a
model that never saw them: ``folds``-fold cross-fitting over the released set.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from attack_clients.clients.base import is_missing
from attack_clients.trees.records import TargetSet


def released_table(targets: TargetSet, sensitive: str) -> np.ndarray:
    """Every released answer but the sensitive one, and the label, as strings (blank = "")."""
    names = sorted({k for r in targets.records for k in r if k != sensitive})
    rows = [
        [("" if is_missing(r.get(k)) else str(r.get(k))) for k in names] + [str(y)]
        for r, y in zip(targets.records, targets.labels, strict=True)
    ]
    return np.array(rows, dtype=object).reshape(len(rows), len(names) + 1)


def cross_fitted_guesses(targets: TargetSet, sensitive: str, folds: int = 5, seed: int = 0) -> list[str]:
    """Each respondent's sensitive answer as guessed by a classifier trained on the other folds.

    With too few respondents of some value for ``folds`` folds, as many folds as
    the rarest value allows (at least 2); with fewer, the majority answer.
    """
    truth = np.array([str(r[sensitive]) for r in targets.records], dtype=object)
    values, counts = np.unique(truth, return_counts=True)
    splits = min(folds, int(counts.min())) if len(values) > 1 else 0
    if splits < 2:
        return [str(values[np.argmax(counts)])] * len(truth)
    table = released_table(targets, sensitive)
    guesses = np.empty(len(truth), dtype=object)
    for train, test in StratifiedKFold(splits, shuffle=True, random_state=seed).split(table, truth):
        model = make_pipeline(
            OneHotEncoder(handle_unknown="ignore"), LogisticRegression(solver="newton-cholesky", max_iter=200)
        )
        guesses[test] = model.fit(table[train], truth[train]).predict(table[test])
    return [str(g) for g in guesses]
