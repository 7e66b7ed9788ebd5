"""The pixel-space evaluator: what it measures is how far an image pushes a pixel classifier.

An RBF-SVM on PCA features of per-image-normalised pixels, trained on every
photo of each person. Its architecture differs from every target, but it lives
in the same pixel space, so images that merely push a pixel classifier towards
person k count as that person: its calibration controls show it crediting
adversarial images, and its figures carry that warning. It is kept as the
project's earlier yardstick, and because the gap between it and the face
recogniser is itself a measurement: how much of an attack's "success" is
model-fooling.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import numpy as np
from sklearn.decomposition import PCA
from sklearn.model_selection import StratifiedKFold
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.svm import SVC

from attack_clients.datasets import FaceData
from attack_clients.judges.base import rank_figures
from attack_clients.judges.lineup import FIVE_FACES, Lineup


def normalise(images: np.ndarray, mean: float, spread: float) -> np.ndarray:
    """Each row rescaled to pixel mean ``mean`` and standard deviation ``spread``.

    A constant row (the blank image) becomes the constant ``mean``.
    """
    images = np.atleast_2d(np.asarray(images, dtype=np.float64))
    centred = images - images.mean(axis=1, keepdims=True)
    std = centred.std(axis=1, keepdims=True)
    scale = np.divide(spread, std, out=np.zeros_like(std), where=std > 1e-8)
    return centred * scale + mean


class FaceEvaluator:
    """Identity classifier that judges reconstructions (fit/decision_function).

    One-vs-rest RBF-SVMs, so each identity has its own margin: a score that
    ranks identities (top-k) and that a lineup threshold can be set on.
    """

    def __init__(self, n_components: int = 100, C: float = 10.0, seed: int = 0) -> None:
        self.n_components = n_components
        self.C = C
        self.seed = seed

    def _pipeline(self, n_samples: int, n_features: int):
        components = min(self.n_components, n_samples - 1, n_features)
        return make_pipeline(
            PCA(n_components=components, svd_solver="randomized", random_state=self.seed),
            OneVsRestClassifier(SVC(C=self.C, kernel="rbf")),
        )

    def fit(self, images: np.ndarray, labels: np.ndarray) -> FaceEvaluator:
        self.mean_ = float(images.mean())
        self.spread_ = float(images.std())
        self.classes_ = np.unique(labels)
        features = normalise(images, self.mean_, self.spread_)
        self.model_ = self._pipeline(*features.shape).fit(features, labels)
        return self

    def decision_function(self, images: np.ndarray) -> np.ndarray:
        """One margin per identity in ``classes_``, ``(n, k)``."""
        return self.model_.decision_function(normalise(images, self.mean_, self.spread_))

    def predict(self, images: np.ndarray) -> np.ndarray:
        return self.classes_[self.decision_function(images).argmax(axis=1)]

    def out_of_fold_scores(self, images: np.ndarray, labels: np.ndarray, folds: int = 5) -> np.ndarray:
        """Scores for each real image from an evaluator that never saw it."""
        features = normalise(images, float(images.mean()), float(images.std()))
        scores = np.zeros((len(labels), len(np.unique(labels))))
        splitter = StratifiedKFold(folds, shuffle=True, random_state=self.seed)
        for train, test in splitter.split(features, labels):
            model = self._pipeline(len(train), features.shape[1]).fit(features[train], labels[train])
            scores[test] = model.decision_function(features[test])
        return scores


class PixelEvaluator:
    """The evaluator as a judge: top-1/top-5 and the calibrated lineup on its SVM margins."""

    name = "pixel_evaluator"
    description = "RBF-SVM (one-vs-rest) on PCA of normalised pixels, trained on every photo"

    def __init__(self, lineup: Lineup = FIVE_FACES, seed: int = 0) -> None:
        self.lineup = lineup
        self.seed = seed

    def fit(self, data: FaceData) -> PixelEvaluator:
        self.data = data
        self.evaluator = FaceEvaluator(seed=self.seed).fit(data.images, data.labels)
        self.heldout_scores = self.evaluator.out_of_fold_scores(data.images, data.labels)
        self.lineup = self.lineup.calibrate(self.heldout_scores, data.labels, self.seed)
        return self

    def _figures(self, scores: np.ndarray, identities: np.ndarray) -> dict[str, Any]:
        return {
            **rank_figures(scores, identities),
            "lineup": self.lineup.accuracy(scores, identities, self.seed),
            "lineup_threshold": self.lineup.threshold,
        }

    def score(self, images: np.ndarray, identities: np.ndarray) -> dict[str, Any]:
        identities = np.asarray(identities)
        scores = self.evaluator.decision_function(np.atleast_2d(images))
        return {
            **self._figures(scores, identities),
            "per_label": [
                {"identity": int(k), "prediction": int(scores[i].argmax()), "score": float(scores[i, k])}
                for i, k in enumerate(identities)
            ],
        }

    @cached_property
    def _heldout(self) -> dict[str, Any]:
        return {**self._figures(self.heldout_scores, self.data.labels), "protocol": "5-fold out-of-fold"}

    def real_heldout(self) -> dict[str, Any]:
        return self._heldout
