"""Which person of the data set each of a served model's classes is."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from attack_clients.datasets import FaceData


def identity_map(model_classes: Sequence[str], data: FaceData) -> np.ndarray | None:
    """Data-set identity of each model class: by name, else by position, else None."""
    names = {name: i for i, name in enumerate(data.classes)}
    if all(name in names for name in model_classes):
        return np.asarray([names[name] for name in model_classes])
    if len(model_classes) == len(data.classes):
        return np.arange(len(model_classes))
    return None
