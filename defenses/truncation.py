"""Defences that withhold part of each row: top-k, label only and a confidence cap.

None of them renormalises and none of them changes the label: they only hide
information, so the reported label stays the clean one.
"""

from __future__ import annotations

import numpy as np


def top_k(probabilities: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Keep the ``k`` largest confidences of each row and zero the rest.

    The label's column is always among those kept (ties for the k-th place go to
    the lower class index), so truncation can never hide the reported label.
    """
    n, classes = probabilities.shape
    if k >= classes:
        return probabilities.copy()
    rows = np.arange(n)
    score = probabilities.copy()
    score[rows, labels] = np.inf
    kept = np.argsort(-score, axis=1, kind="stable")[:, :k]
    out = np.zeros_like(probabilities)
    out[rows[:, None], kept] = probabilities[rows[:, None], kept]
    return out


def label_only(probabilities: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The one-hot row of each row's own label (no confidences at all)."""
    out = np.zeros_like(probabilities)
    out[np.arange(probabilities.shape[0]), labels] = 1.0
    return out


def cutoff(probabilities: np.ndarray, c: float) -> np.ndarray:
    """Report confidences above ``c`` as ``c``: a high-confidence cap.

    The near-certain outputs are what confidence-based inversion climbs towards;
    capping them flattens the top of that landscape. The label is unchanged (ties
    at ``c`` keep the clean label) and rows are not renormalised.
    """
    return np.minimum(probabilities, c)
