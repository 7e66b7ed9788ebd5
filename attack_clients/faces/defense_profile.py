"""Recognise an output defence from the confidence vectors an API returned.

Attacks that train on confidence vectors (the decoder) or read coarse ones
(extraction, the zeroth-order estimator) adapt to what they observe: a rounding
grid r (every value a multiple of r), top-k truncation (the same number k < K
of non-zero entries in every row), or labels only (k = 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FLOAT32_SMALLEST = 1.4e-45
GRIDS = (0.5, 0.25, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001, 0.0005, 0.0001)


@dataclass(frozen=True)
class DefenseProfile:
    """What the returned vectors reveal about the defence (None: not seen)."""

    rounding: float | None = None
    top_k: int | None = None

    @property
    def floor(self) -> float:
        """Largest value a reported 0 can hide: half the grid, or float32's smallest."""
        return self.rounding / 2 if self.rounding else FLOAT32_SMALLEST

    def apply(self, probabilities: np.ndarray) -> np.ndarray:
        """The same truncation applied to other vectors (to align training data)."""
        out = np.array(probabilities, dtype=np.float64)
        if self.top_k is not None and self.top_k < out.shape[1]:
            cut = np.argsort(-out, axis=1)[:, self.top_k :]
            np.put_along_axis(out, cut, 0.0, axis=1)
        if self.rounding:
            out = np.round(out / self.rounding) * self.rounding
        return out

    def as_dict(self) -> dict:
        return {"rounding": self.rounding, "top_k": self.top_k}


def detect(probabilities: np.ndarray, tolerance: float = 1e-6) -> DefenseProfile:
    """The coarsest grid every value sits on, and a constant non-zero count."""
    values = np.asarray(probabilities, dtype=np.float64)
    rounding = None
    for grid in GRIDS:
        if np.all(np.abs(values / grid - np.round(values / grid)) <= tolerance / grid):
            rounding = grid
            break
    nonzero = (values > 0).sum(axis=1)
    k = int(nonzero.max())
    top_k = k if k < values.shape[1] and np.mean(nonzero == k) >= 0.9 and rounding is None else None
    if top_k is None and k == 1:
        top_k = 1
    return DefenseProfile(rounding=rounding, top_k=top_k)
