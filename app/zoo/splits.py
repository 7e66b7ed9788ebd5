"""The training / held-out split shared by every model: per class, seeded."""

from __future__ import annotations

import numpy as np


def per_class_split(labels: np.ndarray, train_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted row indices (train, held-out), taking ``train_fraction`` of each class.

    Every class with at least two rows keeps at least one row on each side, so
    7/3 of ten faces and a stratified 50/50 of a survey come from the same rule.
    """
    rng = np.random.default_rng(seed)
    train: list[np.ndarray] = []
    held: list[np.ndarray] = []
    for label in np.unique(labels):
        rows = rng.permutation(np.flatnonzero(labels == label))
        n_train = min(max(round(train_fraction * len(rows)), 1), max(len(rows) - 1, 1))
        train.append(rows[:n_train])
        held.append(rows[n_train:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(held))
