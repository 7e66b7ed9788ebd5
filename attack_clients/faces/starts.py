"""Where MI-Face starts: Algorithm 1's blank image, or an average face of other people.

At the blank image a well-trained softmax gives most labels a confidence far below
any rounding grid (38 of 40 below 0.0005 on the AT&T faces), so a rounding defence reports
them as exactly 0 and a black-box estimator sees no slope at all. The study's
adversary starts there; an adversary with a few faces of *other* people (any public
face set) can start from their average, where most labels clear the grid (on
the AT&T faces all 40 are above 0.0005 and 37 above 0.005). ``mean-face`` leaves
the victim out: each label starts from the mean of the auxiliary images of every
other identity.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from attack_clients.datasets import FaceData

STARTS = ("blank", "mean-face")


def blank_starts(n_labels: int, n_pixels: int) -> np.ndarray:
    """Algorithm 1's x0 = 0 for every label."""
    return np.zeros((n_labels, n_pixels), dtype=np.float32)


def mean_face_starts(data: FaceData, identities: Sequence[int]) -> np.ndarray:
    """For each victim identity, the mean of the images of everyone else (float32 rows)."""
    images = np.asarray(data.images, dtype=np.float64)
    total, count = images.sum(axis=0), len(images)
    starts = np.empty((len(identities), images.shape[1]), dtype=np.float32)
    for row, identity in enumerate(identities):
        own = data.labels == identity
        others = count - int(own.sum())
        if others == 0:
            raise ValueError("mean-face needs images of at least one other identity")
        starts[row] = (total - images[own].sum(axis=0)) / others
    return starts
