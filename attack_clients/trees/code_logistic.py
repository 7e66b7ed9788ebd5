"""The data publisher's classifier for AttriGuard: logistic regression on one-hot answer codes.

Fitted by scikit-learn, then evaluated as one lookup table per question (the
weights of its one-hot columns, a missing answer being a column of its own):
phase I scores thousands of candidate answer vectors per respondent, and a table
lookup per question is exactly the fitted model's linear score without building
the one-hot matrix each time.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression

from defenses.attriguard import MISSING


def one_hot(codes: np.ndarray, cardinalities: Sequence[int]) -> np.ndarray:
    """One column per (question, code), ``MISSING`` included, first for each question."""
    offsets = np.concatenate([[0], np.cumsum(np.asarray(cardinalities) + 1)])
    matrix = np.zeros((len(codes), int(offsets[-1])))
    columns = codes - MISSING + offsets[:-1]
    matrix[np.arange(len(codes))[:, None], columns] = 1.0
    return matrix


@dataclass(frozen=True)
class CodeLogistic:
    """``predict_proba(codes)`` over ``n_values`` sensitive values; a value never seen in training gets 0."""

    tables: tuple[np.ndarray, ...]
    """Per question, ``(cardinality + 1, n_values)`` logits; row 0 is the missing answer."""
    intercept: np.ndarray

    def predict_proba(self, codes: np.ndarray) -> np.ndarray:
        codes = np.asarray(codes)
        logits = np.broadcast_to(self.intercept, (len(codes), len(self.intercept))).copy()
        for j, table in enumerate(self.tables):
            logits += table[codes[:, j] - MISSING]
        logits -= logits.max(axis=1, keepdims=True)
        weights = np.exp(logits)
        return weights / weights.sum(axis=1, keepdims=True)


def fit_code_logistic(
    codes: np.ndarray, sensitive: np.ndarray, cardinalities: Sequence[int], n_values: int, C: float = 1.0
) -> CodeLogistic:
    """L2-regularised logistic regression of the sensitive value (indices) on the answers' one-hot codes."""
    codes, sensitive = np.asarray(codes), np.asarray(sensitive)
    present = np.unique(sensitive)
    widths = [k + 1 for k in cardinalities]
    if len(present) == 1:
        intercept = np.full(n_values, -np.inf)
        intercept[present[0]] = 0.0
        return CodeLogistic(tuple(np.zeros((w, n_values)) for w in widths), intercept)
    model = LogisticRegression(C=C, solver="newton-cholesky", max_iter=200).fit(
        one_hot(codes, cardinalities), sensitive
    )
    coef, bias = model.coef_, model.intercept_
    if len(present) == 2:  # scikit-learn keeps one row for two classes: the logit of the second
        coef, bias = np.vstack([np.zeros_like(coef), coef]), np.concatenate([[0.0], bias])
    weights = np.full((coef.shape[1], n_values), 0.0)
    weights[:, present] = coef.T
    intercept = np.full(n_values, -np.inf)
    intercept[present] = bias
    bounds = np.cumsum([0, *widths])
    return CodeLogistic(tuple(weights[a:b] for a, b in itertools.pairwise(bounds)), intercept)
