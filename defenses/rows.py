"""Row-wise helpers shared by the defences.

Every function here works on each row of a batch on its own: nothing is computed
across rows (IBM ART's ``ClassLabels`` picks winning columns over the whole batch,
which is the bug this package must not repeat).
"""

from __future__ import annotations

import numpy as np

RANGE_TOLERANCE = 1e-6
"""How far outside [0, 1] an incoming confidence may stray (float32 softmax) before
it is refused instead of clipped."""

SMALL_BATCH = 8
"""Up to this many float rows are range-checked in plain Python, where numpy's
per-call cost would dominate (single-row predictions)."""


def as_probabilities(probabilities: np.ndarray) -> np.ndarray:
    """A float64 copy of a finite (n, k) batch of confidences in [0, 1].

    Rows are expected to sum to one but this is not enforced, so a pipeline can be
    re-applied to outputs that were already truncated or capped.
    """
    if _small_and_in_range(probabilities):
        return np.array(probabilities, dtype=np.float64)
    rows = np.array(probabilities, dtype=np.float64)
    if rows.ndim != 2:
        raise ValueError(f"probabilities must be a 2-D (n, k) array, got shape {rows.shape}")
    if rows.shape[1] == 0:
        raise ValueError("probabilities must have at least one class column")
    if not np.all(np.isfinite(rows)):
        raise ValueError("probabilities must be finite (found NaN or infinity)")
    if rows.size and (rows.min() < -RANGE_TOLERANCE or rows.max() > 1 + RANGE_TOLERANCE):
        raise ValueError(
            f"probabilities must lie in [0, 1], got values from {rows.min():.6g} to "
            f"{rows.max():.6g} (logits or scores rather than probabilities?)"
        )
    return np.clip(rows, 0.0, 1.0)


def _small_and_in_range(probabilities: np.ndarray) -> bool:
    """A few float rows with every value in [0, 1] (NaN fails the comparison), for which
    the checks below would pass and the clip change nothing."""
    if not isinstance(probabilities, np.ndarray) or probabilities.dtype.kind != "f":
        return False
    if probabilities.ndim != 2 or not probabilities.shape[1] or len(probabilities) > SMALL_BATCH:
        return False
    return all(0.0 <= p <= 1.0 for row in probabilities.tolist() for p in row)


def renormalise(rows: np.ndarray) -> np.ndarray:
    """Scale each row to sum to one; a row with no mass left becomes uniform.

    The uniform fallback (rather than the clean row) is deliberate: a row that the
    noise wiped out must not leak the exact confidences it came from.
    """
    totals = rows.sum(axis=1, keepdims=True)
    uniform = np.full_like(rows, 1.0 / rows.shape[1])
    return np.divide(rows, totals, out=uniform, where=totals > 0)


def relabel(rows: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The argmax of each row, keeping the previous label when it ties for the top.

    Resolving ties towards the previous label means a perturbation never moves the
    label without a reason (e.g. a row reset to uniform keeps its label).
    """
    index = np.arange(rows.shape[0])
    still_top = rows[index, labels] >= rows.max(axis=1, initial=-np.inf)
    return np.where(still_top, labels, rows.argmax(axis=1))
