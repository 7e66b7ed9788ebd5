"""How a face attack's reconstructions are judged: the one call every face attack makes.

The judge is independent of the target: an evaluator trained on the data set at
the model's resolution (``MLAAS_DATA_DIR``, or the digits fallback), matched to
the model's classes by name. Without such data the metrics say why they were
skipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from attack_clients.datasets import FaceData, load_faces

EVALUATOR = "RBF-SVM (one-vs-rest) on PCA of normalised pixels"


def face_data(image_shape: Sequence[int], classes: Sequence[str]) -> tuple[FaceData | None, np.ndarray | None, str]:
    """The data set at the model's resolution and each model class's identity in it (or why not)."""
    from attack_clients.faces.evaluation import identity_map

    try:
        data = load_faces(tuple(image_shape))
    except FileNotFoundError as error:
        return None, None, str(error)
    mapping = identity_map(list(classes), data)
    if mapping is None:
        return None, None, "model classes do not match the data set"
    return data, mapping, ""


def judge_reconstructions(
    images: np.ndarray, labels: Sequence[int], image_shape: Sequence[int], classes: Sequence[str], seed: int = 0
) -> dict[str, Any]:
    """The metrics of reconstructions ``images`` of the model's classes ``labels`` (one image each)."""
    from attack_clients.faces.evaluation import judge_for

    data, mapping, problem = face_data(image_shape, classes)
    if data is None:
        return {"skipped": problem}
    judge = judge_for(tuple(image_shape), seed)
    metrics = judge.judge(images, mapping[np.asarray(labels, dtype=int)])
    return {"evaluator": EVALUATOR, "data": data.source, **metrics}


def reference_faces(labels: Sequence[int], image_shape: Sequence[int], classes: Sequence[str]) -> np.ndarray | None:
    """A real image of each label's person (the first of the data set), None without the data."""
    data, mapping, _ = face_data(image_shape, classes)
    if data is None:
        return None
    identities = mapping[np.asarray(labels, dtype=int)]
    return data.images[np.asarray([np.flatnonzero(data.labels == i)[0] for i in identities])]
