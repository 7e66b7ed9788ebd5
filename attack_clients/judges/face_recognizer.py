"""The headline judge: a pretrained face recogniser that never saw these people.

dlib's ResNet face descriptor (99.38% on LFW; weights from the
``face-recognition-models`` package, nothing downloaded at run time). Each
image is upscaled 3x, located by dlib's frontal face detector (or, when it
finds no face, at the place faces sit in the reference photos), aligned on
five landmarks, and mapped to a 128-d descriptor. A reconstruction is
identified as the person with the nearest reference photo; it is *verified*
when that distance to its own person is below dlib's same-person threshold,
0.6. Because the recogniser was trained on other people's photos, an image
that only pushes a target model's pixels towards person k has no reason to
come near k's photos here.
"""

from __future__ import annotations

import importlib.util
import sys
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from skimage.transform import resize

from attack_clients.datasets import FaceData
from attack_clients.judges.base import NotApplicable, rank_figures
from attack_clients.judges.cache import cached_arrays, key_of, source_of
from attack_clients.judges.lineup import FIVE_FACES, Lineup

SAME_PERSON = 0.6
"""dlib's published threshold: descriptors of one person are closer than this."""
UPSCALE = 3
MODEL_FILES = ("shape_predictor_5_face_landmarks.dat", "dlib_face_recognition_resnet_model_v1.dat")


def _models_folder() -> Path:
    """Where ``face-recognition-models`` keeps its weights (found without importing it: its
    ``__init__`` needs the removed ``pkg_resources``)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise NotApplicable("the face recogniser needs the packages dlib-bin and face-recognition-models")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


class Descriptors:
    """dlib's detector, five-point aligner and ResNet descriptor on greyscale images in [0, 1]."""

    def __init__(self, image_shape: tuple[int, int]) -> None:
        try:
            import dlib
        except ImportError as error:
            raise NotApplicable("the face recogniser needs the package dlib-bin") from error
        folder = _models_folder()
        self.dlib = dlib
        self.image_shape = image_shape
        self.size = (image_shape[0] * UPSCALE, image_shape[1] * UPSCALE)
        self.detector = dlib.get_frontal_face_detector()
        self.aligner = dlib.shape_predictor(str(folder / MODEL_FILES[0]))
        self.network = dlib.face_recognition_model_v1(str(folder / MODEL_FILES[1]))

    def _upscaled(self, image: np.ndarray) -> np.ndarray:
        big = resize(np.clip(image, 0, 1).reshape(self.image_shape), self.size, order=1, anti_aliasing=False)
        return np.round(big * 255).astype(np.uint8)

    def detect(self, images: np.ndarray) -> list[tuple[int, int, int, int] | None]:
        """The largest detected face of each image, as (left, top, right, bottom) in upscaled pixels."""
        found = []
        for image in images:
            faces = self.detector(self._upscaled(image), 0)
            best = max(faces, key=lambda r: r.area(), default=None)
            found.append(None if best is None else (best.left(), best.top(), best.right(), best.bottom()))
        return found

    def describe(self, images: np.ndarray, boxes: list[tuple[int, int, int, int]]) -> np.ndarray:
        """128-d descriptors, each face aligned inside its box."""
        out = np.empty((len(images), 128))
        for i, (image, box) in enumerate(zip(images, boxes, strict=True)):
            grey = self._upscaled(image)
            rgb = np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))
            shape = self.aligner(rgb, self.dlib.rectangle(*box))
            out[i] = np.asarray(self.network.compute_face_descriptor(rgb, shape))
        return out


class FaceRecognizer:
    """Nearest-person identification in dlib's descriptor space (see the module docstring)."""

    name = "face_recognizer"
    description = "dlib ResNet face descriptor (pretrained on other people), nearest reference photo"

    def __init__(self, lineup: Lineup = FIVE_FACES, seed: int = 0) -> None:
        self.lineup = lineup
        self.seed = seed

    def fit(self, data: FaceData) -> FaceRecognizer:
        if data.source == "digits":
            raise NotApplicable(
                "a face recogniser does not apply to handwritten digits (the no-data fallback): "
                "set MLAAS_DATA_DIR to the face data"
            )
        self.data = data
        self.descriptors = Descriptors(data.image_shape)
        saved = cached_arrays(
            "face-recognizer", key_of(data.images, data.labels, source_of(sys.modules[__name__])), self._reference
        )
        self.reference = saved["descriptors"]
        self.reference_detected = saved["detected"].astype(bool)
        self.default_box = tuple(int(v) for v in saved["default_box"])
        self.lineup = self.lineup.calibrate(self._scores(self._loo_distances()), data.labels, self.seed)
        return self

    def _reference(self) -> dict[str, np.ndarray]:
        boxes = self.descriptors.detect(self.data.images)
        found = np.array([b for b in boxes if b is not None], dtype=float)
        default = tuple(int(v) for v in np.round(found.mean(axis=0))) if len(found) else self._whole_image()
        filled = [b if b is not None else default for b in boxes]
        return {
            "descriptors": self.descriptors.describe(self.data.images, filled),
            "detected": np.array([b is not None for b in boxes]),
            "default_box": np.asarray(default),
        }

    def _whole_image(self) -> tuple[int, int, int, int]:
        height, width = self.descriptors.size
        return (0, 0, width - 1, height - 1)

    def _distances(self, descriptors: np.ndarray) -> np.ndarray:
        """Distance from each descriptor to every reference photo, ``(n, n_reference)``."""
        return np.linalg.norm(descriptors[:, None, :] - self.reference[None, :, :], axis=2)

    def _loo_distances(self) -> np.ndarray:
        distances = self._distances(self.reference)
        np.fill_diagonal(distances, np.inf)
        return distances

    def _per_person(self, distances: np.ndarray) -> np.ndarray:
        """Distance to each person's nearest photo, ``(n, n_people)``."""
        people = len(self.data.classes)
        return np.stack([distances[:, self.data.labels == k].min(axis=1) for k in range(people)], axis=1)

    def _scores(self, distances: np.ndarray) -> np.ndarray:
        return -self._per_person(distances)

    def _figures(self, distances: np.ndarray, identities: np.ndarray, detected: np.ndarray) -> dict[str, Any]:
        per_person = self._per_person(distances)
        own = per_person[np.arange(len(identities)), identities]
        return {
            **rank_figures(-per_person, identities),
            "verified": float((own < SAME_PERSON).mean()) if len(own) else 0.0,
            "faces_detected": float(detected.mean()) if len(detected) else 0.0,
            "lineup": self.lineup.accuracy(-per_person, identities, self.seed),
            "distance_to_person": float(own.mean()) if len(own) else float("nan"),
            "threshold": SAME_PERSON,
            "per_label": [
                {
                    "identity": int(identity),
                    "nearest_person": int(per_person[i].argmin()),
                    "distance": float(own[i]),
                    "face_detected": bool(detected[i]),
                }
                for i, identity in enumerate(identities)
            ],
        }

    def describe(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Descriptors of ``images`` and whether the detector found a face in each."""
        boxes = self.descriptors.detect(images)
        filled = [b if b is not None else self.default_box for b in boxes]
        return self.descriptors.describe(images, filled), np.array([b is not None for b in boxes], dtype=bool)

    def score(self, images: np.ndarray, identities: np.ndarray) -> dict[str, Any]:
        descriptors, detected = self.describe(np.atleast_2d(images))
        return self._figures(self._distances(descriptors), np.asarray(identities), detected)

    @cached_property
    def _heldout(self) -> dict[str, Any]:
        figures = self._figures(self._loo_distances(), self.data.labels, self.reference_detected)
        figures.pop("per_label")
        return {**figures, "protocol": "leave-one-out over every reference photo"}

    def real_heldout(self) -> dict[str, Any]:
        return self._heldout
