"""Laplace noise on a split network's features, added on the device before they leave it.

Titcombe et al., "Practical Defences Against Model Inversion Attacks for Split Neural
Networks" (ICLR 2021 workshop on distributed and private ML): the device stage's output
plus Laplace(0, b) noise per value, so whoever reads the traffic (or a curious service)
sees only noisy features; the service stage answers from the same noisy features, which
costs accuracy as b grows. Unlike the output defences this runs on the user's side, on
features rather than probabilities: nothing is clipped or renormalised.

Each row is one user's query: the noise is one stream filled row after row, so row i's
noise depends only on the seed and i, never on the other rows' values.
"""

from __future__ import annotations

import numpy as np


def laplace_features(features: np.ndarray, scale: float, seed: int | None = None) -> np.ndarray:
    """``features`` (n, d) plus Laplace(0, ``scale``) noise per value, float32; ``scale`` 0 adds nothing.

    ``seed`` None draws fresh entropy; a given seed reproduces the call exactly.
    """
    rows = np.asarray(features, dtype=np.float32)
    if rows.ndim != 2:
        raise ValueError(f"features must be a 2-D (n, d) array, got shape {rows.shape}")
    if not np.all(np.isfinite(rows)):
        raise ValueError("features must be finite (found NaN or infinity)")
    if isinstance(scale, bool) or not isinstance(scale, int | float) or not np.isfinite(scale) or scale < 0:
        raise ValueError(f"the device noise scale b must be a finite number >= 0, got {scale!r}")
    if scale == 0:
        return rows.copy()
    rng = np.random.Generator(np.random.PCG64(seed))
    return (rows + rng.laplace(0.0, scale, size=rows.shape)).astype(np.float32)
