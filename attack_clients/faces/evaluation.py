"""Judging reconstructions: an independent evaluator, a lineup and SSIM.

The evaluator is an RBF-SVM on PCA features of per-image-normalised pixels, an
architecture none of the targets has (softmax regression, sigmoid MLP, DAE). It
is trained by the evaluator, on all images of each person; the attacks never
see it. Every image is first rescaled to the training pixel mean and spread, so
a dark or low-contrast reconstruction is judged by its shape, and pure noise or
a blank image is scored at about chance level (a logistic regression on raw
pixels rated noise as hits).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
from skimage.metrics import structural_similarity
from sklearn.decomposition import PCA
from sklearn.model_selection import StratifiedKFold
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.svm import SVC

from attack_clients.datasets import FaceData, data_dir, load_faces


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


def identity_map(model_classes: Sequence[str], data: FaceData) -> np.ndarray | None:
    """Data-set identity of each model class: by name, else by position, else None."""
    names = {name: i for i, name in enumerate(data.classes)}
    if all(name in names for name in model_classes):
        return np.asarray([names[name] for name in model_classes])
    if len(model_classes) == len(data.classes):
        return np.arange(len(model_classes))
    return None


def true_rank(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """0-based rank of each true label among the evaluator's scores."""
    own = scores[np.arange(len(labels)), labels]
    return (scores > own[:, None]).sum(axis=1)


@dataclass(frozen=True)
class Lineup:
    """Five-face lineups: the person is present in ``present_rate`` of them.

    The judge picks the lineup member the evaluator scores highest for the
    reconstruction and says "not present" when that score is below
    ``threshold`` (calibrated on real held-out images by :meth:`calibrate`).
    Lineups are drawn from ``seed``, so every judged set sees the same draws.
    """

    size: int = 5
    present_rate: float = 0.8
    trials: int = 25
    threshold: float = 0.0

    def draw(self, labels: np.ndarray, n_classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """Members ``(n * trials, size)`` and whether the person is among them."""
        rng = np.random.default_rng(seed)
        targets = np.repeat(labels, self.trials)
        present = rng.random(len(targets)) < self.present_rate
        keys = rng.random((len(targets), n_classes))
        keys[np.arange(len(targets)), targets] = np.inf
        members = np.argsort(keys, axis=1)[:, : self.size]
        members[present, 0] = targets[present]
        return members, present

    def _picks(self, scores: np.ndarray, labels: np.ndarray, seed: int):
        members, present = self.draw(labels, scores.shape[1], seed)
        rows = np.repeat(np.arange(len(labels)), self.trials)
        member_scores = scores[rows[:, None], members]
        best = member_scores.argmax(axis=1)
        pick = members[np.arange(len(members)), best]
        return pick, member_scores.max(axis=1), present, np.repeat(labels, self.trials)

    @staticmethod
    def _accuracy(pick, pick_score, present, targets, threshold: float) -> float:
        says_present = pick_score >= threshold
        right = np.where(present, says_present & (pick == targets), ~says_present)
        return float(right.mean())

    def accuracy(self, scores: np.ndarray, labels: np.ndarray, seed: int = 0) -> float:
        """Share of lineups judged right (the person named, or "not present")."""
        return self._accuracy(*self._picks(scores, np.asarray(labels), seed), self.threshold)

    def calibrate(self, scores: np.ndarray, labels: np.ndarray, seed: int = 0) -> Lineup:
        """The lineup with the threshold that maximises accuracy on real images."""
        picks = self._picks(scores, np.asarray(labels), seed)
        candidates = np.unique(picks[1])
        accuracy = [self._accuracy(*picks, t) for t in candidates]
        best = float(candidates[int(np.argmax(accuracy))])
        return Lineup(self.size, self.present_rate, self.trials, best)


def ssim_to_person(
    reconstructions: np.ndarray,
    labels: np.ndarray,
    data: FaceData,
    mean: float | None = None,
    spread: float | None = None,
    per_person: int = 10,
) -> list[np.ndarray]:
    """SSIM of each reconstruction against the first ``per_person`` images of its person.

    Every face data set has 10 images per person; the cap keeps digits (about
    180 per class) cheap. With ``mean``/``spread`` the reconstruction is first
    normalised (and clipped to [0, 1]), as the evaluator sees it.
    """
    shape = data.image_shape
    out = []
    for image, label in zip(reconstructions, labels, strict=True):
        if mean is not None and spread is not None:
            image = np.clip(normalise(image, mean, spread)[0], 0, 1)
        own = data.images[data.labels == label][:per_person]
        out.append(
            np.array([structural_similarity(image.reshape(shape), real.reshape(shape), data_range=1.0) for real in own])
        )
    return out


class ReconstructionJudge:
    """Evaluator, calibrated lineup and SSIM over one data set, fitted once."""

    def __init__(self, data: FaceData, lineup: Lineup = Lineup(), seed: int = 0) -> None:
        self.data = data
        self.seed = seed
        self.evaluator = FaceEvaluator(seed=seed).fit(data.images, data.labels)
        held_out = self.evaluator.out_of_fold_scores(data.images, data.labels)
        self.real_top1 = float((held_out.argmax(axis=1) == data.labels).mean())
        self.lineup = lineup.calibrate(held_out, data.labels, seed)
        self.real_lineup = self.lineup.accuracy(held_out, data.labels, seed)

    def judge(self, reconstructions: np.ndarray, labels: Sequence[int]) -> dict[str, Any]:
        """Top-1/top-5, lineup accuracy and SSIM for reconstructions of ``labels``.

        ``ssim_mean``/``ssim_max`` compare the reconstruction as the evaluator
        sees it (normalised to the training mean and spread, clipped to [0, 1])
        with each image of the person: the attack controls neither brightness
        nor contrast (x0 = 0 and the γ stop leave faces dark). ``ssim_raw_mean``
        uses the raw pixels.
        """
        labels = np.asarray(labels)
        scores = self.evaluator.decision_function(reconstructions)
        ranks = true_rank(scores, labels)
        normalised = ssim_to_person(reconstructions, labels, self.data, self.evaluator.mean_, self.evaluator.spread_)
        raw = ssim_to_person(reconstructions, labels, self.data)
        n_classes = scores.shape[1]
        return {
            "n_labels": len(labels),
            "top1": float((ranks == 0).mean()),
            "top5": float((ranks < 5).mean()),
            "chance_top1": 1.0 / n_classes,
            "chance_top5": min(5, n_classes) / n_classes,
            "lineup_accuracy": self.lineup.accuracy(scores, labels, self.seed),
            "lineup_threshold": self.lineup.threshold,
            "lineup_accuracy_real_heldout": self.real_lineup,
            "lineup_accuracy_always_absent": 1.0 - self.lineup.present_rate,
            "evaluator_top1_real_heldout": self.real_top1,
            "ssim_mean": float(np.mean([np.mean(s) for s in normalised])),
            "ssim_max": float(np.mean([np.max(s) for s in normalised])),
            "ssim_raw_mean": float(np.mean([np.mean(s) for s in raw])),
            "per_label": [
                {
                    "label": int(label),
                    "evaluator_prediction": int(scores[i].argmax()),
                    "rank": int(ranks[i]),
                    "score": float(scores[i, label]),
                    "ssim_mean": float(np.mean(normalised[i])),
                    "ssim_max": float(np.max(normalised[i])),
                }
                for i, label in enumerate(labels)
            ],
        }


@cache
def _judge(image_shape: tuple[int, int], seed: int, root: str | None) -> ReconstructionJudge:
    return ReconstructionJudge(load_faces(image_shape), seed=seed)


def judge_for(image_shape: tuple[int, int], seed: int = 0) -> ReconstructionJudge:
    """The judge for a model's resolution, fitted once per process and data folder.

    Raises ``FileNotFoundError`` when ``MLAAS_DATA_DIR`` lacks data at that size.
    """
    return _judge(tuple(image_shape), seed, str(data_dir()))
