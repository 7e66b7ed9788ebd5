"""Rounding confidences to a grid of any step r (the 2015 paper's main countermeasure).

IBM ART's ``Rounded`` only knows decimal places, so steps such as 0.005, 0.05 or
0.03 are out of its reach; here r is any positive number. Each confidence becomes
the nearest multiple k*r that lies in [0, 1] (halves round up), so outputs sit on
the grid up to the float error of one multiplication.
"""

from __future__ import annotations

import math

import numpy as np

GRID_TOLERANCE = 1e-12
"""A product k*r within this of 1 still counts as the grid point at 1."""


def grid_top(r: float) -> int:
    """The largest k with k*r <= 1 (allowing for float error in 1/r)."""
    top = math.floor(1.0 / r)
    while (top + 1) * r <= 1.0 + GRID_TOLERANCE:
        top += 1
    while top > 0 and top * r > 1.0 + GRID_TOLERANCE:
        top -= 1
    return top


def round_to_grid(probabilities: np.ndarray, r: float) -> np.ndarray:
    """Each confidence rounded to the nearest multiple of ``r`` within [0, 1]."""
    multiples = np.clip(np.floor(probabilities / r + 0.5), 0, grid_top(r))
    return np.minimum(multiples * r, 1.0)
