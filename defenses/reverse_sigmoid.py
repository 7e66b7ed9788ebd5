"""Reverse sigmoid perturbation (Lee et al. 2019, deceptive perturbations).

Each confidence p becomes p - beta * (sigmoid(gamma * logit p) - 1/2), then the
row is clipped to [0, 1] and renormalised. Small confidences are pushed up and
large ones down, so gradients estimated from the outputs point the wrong way. For
beta * gamma > 1 the map is not monotone and can reorder classes, so the label is
taken from the perturbed row (this step "may change the label", and how often it
does is part of its measured utility cost).
"""

from __future__ import annotations

import numpy as np

from defenses.rows import renormalise


def reverse_sigmoid(probabilities: np.ndarray, beta: float, gamma: float) -> np.ndarray:
    """The reverse-sigmoid perturbed rows, clipped and renormalised."""
    with np.errstate(divide="ignore", over="ignore"):
        logit = np.log(probabilities) - np.log1p(-probabilities)
        # gamma first: 0.5 * gamma underflows to 0 for a subnormal gamma, and 0 * inf is NaN.
        squashed = 0.5 * (1.0 + np.tanh(gamma * logit * 0.5))
    return renormalise(np.clip(probabilities - beta * (squashed - 0.5), 0.0, 1.0))
