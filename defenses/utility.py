"""What a defence costs the honest user: accuracy, log loss and Brier score.

Defended rows may hold exact zeros (rounding, top-k, label only), which give an
infinite log loss. For the log loss only, every confidence is raised to at least
``LOG_LOSS_FLOOR`` and the row renormalised, so one confidently wrong row costs at
most about -log(LOG_LOSS_FLOOR) = 13.8 nats. The Brier score (multi-class: squared
error summed over classes, averaged over rows, 0 best and 2 worst) is computed on
the rows exactly as reported, so mass withheld by top-k or a cut-off counts.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from defenses.pipeline import Pipeline
from defenses.rows import as_probabilities

LOG_LOSS_FLOOR = 1e-6


def utility_report(
    probabilities: np.ndarray,
    y_true: np.ndarray,
    pipeline: Pipeline,
    inputs: Any = None,
    seed: int | None = 0,
) -> dict[str, float | int]:
    """Utility of the defended outputs next to the clean ones, as a JSON-ready dict.

    Keys: ``accuracy``, ``log_loss``, ``brier`` (defended), the same with a
    ``clean_`` prefix, ``mean_abs_change`` (mean over all confidences of
    |defended - clean|), ``label_change_rate`` (share of rows whose label moved),
    ``n`` and ``log_loss_floor``.
    """
    clean = as_probabilities(probabilities)
    truth = _check_truth(y_true, clean.shape)
    defended = pipeline.apply(clean, inputs=inputs, seed=seed)
    clean_labels = clean.argmax(axis=1)
    return {
        "n": int(clean.shape[0]),
        "accuracy": _mean(defended.labels == truth),
        "log_loss": _log_loss(defended.probabilities, truth),
        "brier": _brier(defended.probabilities, truth),
        "clean_accuracy": _mean(clean_labels == truth),
        "clean_log_loss": _log_loss(clean, truth),
        "clean_brier": _brier(clean, truth),
        "mean_abs_change": _mean(np.abs(defended.probabilities - clean)),
        "label_change_rate": _mean(defended.labels != clean_labels),
        "log_loss_floor": LOG_LOSS_FLOOR,
    }


def _check_truth(y_true: Any, shape: tuple[int, int]) -> np.ndarray:
    truth = np.asarray(y_true)
    if truth.shape != (shape[0],) or (truth.size and truth.dtype.kind not in "iu"):
        raise ValueError(f"y_true must be {shape[0]} integer class indices, got shape {truth.shape} ({truth.dtype})")
    if truth.size and (truth.min() < 0 or truth.max() >= shape[1]):
        raise ValueError(f"y_true must be class indices in [0, {shape[1]})")
    return truth.astype(np.int64)


def _mean(values: np.ndarray) -> float:
    return float(np.mean(values)) if values.size else float("nan")


def _log_loss(rows: np.ndarray, truth: np.ndarray) -> float:
    floored = np.maximum(rows, LOG_LOSS_FLOOR)
    floored /= floored.sum(axis=1, keepdims=True)
    return _mean(-np.log(floored[np.arange(rows.shape[0]), truth]))


def _brier(rows: np.ndarray, truth: np.ndarray) -> float:
    onehot = np.zeros_like(rows)
    onehot[np.arange(rows.shape[0]), truth] = 1.0
    return _mean(np.sum((rows - onehot) ** 2, axis=1))
