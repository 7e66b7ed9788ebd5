"""SSIM against the person's own photos: how much a reconstruction looks like them, pixel by pixel.

The attacks control neither brightness nor contrast (x0 = 0 and the γ stop
leave faces dark), so the main figures compare the reconstruction rescaled to
the photos' pixel mean and spread (clipped to [0, 1]); ``raw_mean`` uses the
pixels as sent. SSIM has no notion of identity: the mean face of other people
scores about as well as many reconstructions, which is why it is reported
with that control beside it and is never the success criterion.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import numpy as np
from skimage.metrics import structural_similarity

from attack_clients.datasets import FaceData
from attack_clients.judges.pixel_evaluator import normalise

PER_PERSON = 10
"""Every face data set has 10 photos a person; the cap keeps digits (about 180 a class) cheap."""


class Ssim:
    """Mean and best SSIM of each image against its person's photos."""

    name = "ssim"
    description = "structural similarity to the person's photos (normalised to the photos' mean and spread)"

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def fit(self, data: FaceData) -> Ssim:
        self.data = data
        self.mean = float(data.images.mean())
        self.spread = float(data.images.std())
        return self

    def _against_person(self, image: np.ndarray, identity: int, exclude: int | None = None) -> np.ndarray:
        shape = self.data.image_shape
        rows = np.flatnonzero(self.data.labels == identity)
        rows = rows[rows != exclude][:PER_PERSON]
        return np.array(
            [
                structural_similarity(image.reshape(shape), self.data.images[r].reshape(shape), data_range=1.0)
                for r in rows
            ]
        )

    def _figures(
        self, images: np.ndarray, identities: np.ndarray, exclude: np.ndarray | None = None
    ) -> tuple[dict[str, Any], list[np.ndarray]]:
        """The summary figures, and each image's SSIM against its person's photos (normalised)."""
        normalised, raw = [], []
        for i, (image, identity) in enumerate(zip(images, identities, strict=True)):
            skip = None if exclude is None else int(exclude[i])
            normalised.append(
                self._against_person(np.clip(normalise(image, self.mean, self.spread)[0], 0, 1), identity, skip)
            )
            raw.append(self._against_person(image, identity, skip))
        summary = {
            "n": len(images),
            "mean": float(np.mean([s.mean() for s in normalised])),
            "max": float(np.mean([s.max() for s in normalised])),
            "raw_mean": float(np.mean([s.mean() for s in raw])),
        }
        return summary, normalised

    def score(self, images: np.ndarray, identities: np.ndarray) -> dict[str, Any]:
        summary, normalised = self._figures(np.atleast_2d(images), np.asarray(identities))
        return {
            **summary,
            "per_label": [
                {"identity": int(k), "mean": float(s.mean()), "max": float(s.max())}
                for k, s in zip(identities, normalised, strict=True)
            ],
        }

    @cached_property
    def _heldout(self) -> dict[str, Any]:
        rows = np.asarray([np.flatnonzero(self.data.labels == k)[0] for k in np.unique(self.data.labels)])
        summary, _ = self._figures(self.data.images[rows], self.data.labels[rows], exclude=rows)
        return {**summary, "protocol": "each person's first photo against their other photos"}

    def real_heldout(self) -> dict[str, Any]:
        return self._heldout
