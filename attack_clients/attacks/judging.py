"""How a face attack's reconstructions are judged: the one call every face attack makes.

The judging panel (``attack_clients.judges``) is fitted on the data set at the
model's resolution (``MLAAS_DATA_DIR``, or the digits fallback), matched to the
model's classes by name; success is the face recogniser's top-1. Without such
data the verdict says why it was skipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from attack_clients.datasets import FaceData, load_faces
from attack_clients.judges.identities import identity_map


def face_data(image_shape: Sequence[int], classes: Sequence[str]) -> tuple[FaceData | None, np.ndarray | None, str]:
    """The data set at the model's resolution and each model class's identity in it (or why not)."""
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
    """The panel's verdict on reconstructions ``images`` of the model's classes ``labels`` (one image each).

    ``{"data", "judges", "success", "metrics"}``: every judge's figures, the
    face recogniser's top-1 as success, and the table columns (``summary.flat``);
    ``{"skipped": why}`` without the data.
    """
    from attack_clients.judges import panel_for
    from attack_clients.judges.summary import flat, headline

    data, mapping, problem = face_data(image_shape, classes)
    if data is None:
        return {"skipped": problem}
    judges = panel_for(tuple(image_shape), seed).judge(images, mapping[np.asarray(labels, dtype=int)])
    return {"data": data.source, "judges": judges, "success": headline(judges), "metrics": flat(judges)}


def reference_faces(labels: Sequence[int], image_shape: Sequence[int], classes: Sequence[str]) -> np.ndarray | None:
    """A real image of each label's person (the first of the data set), None without the data."""
    data, mapping, _ = face_data(image_shape, classes)
    if data is None:
        return None
    identities = mapping[np.asarray(labels, dtype=int)]
    return data.images[np.asarray([np.flatnonzero(data.labels == i)[0] for i in identities])]
