"""Control images every judge is calibrated against, and the binomial test that reads them.

A judge earns trust by what it says about images whose answer we know: real
photos it did not fit on should be recognised; a blank image, uniform noise
and the mean face of the *other* people should be at chance; and adversarial
images, which maximise a pixel model's confidence for person k with no face
prior at all, should be at chance too. A judge that credits the adversarial
controls above chance measures model-fooling, not likeness, and the panel
attaches that warning to its figures.

The adversarial controls here are projected gradient ascent from uniform noise
on a softmax regression of the photos' pixels, the architecture of the
zoo's ``faces-softmax`` (the test suite adds PGD on the served network and
black-box MI-Face outputs).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.stats import binomtest
from sklearn.linear_model import LogisticRegression

from attack_clients.datasets import FaceData

SIGNIFICANCE = 0.05


def blank(data: FaceData, identities: np.ndarray, seed: int) -> np.ndarray:
    return np.zeros((len(identities), data.images.shape[1]))


def uniform_noise(data: FaceData, identities: np.ndarray, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random((len(identities), data.images.shape[1]))


def mean_of_others(data: FaceData, identities: np.ndarray, seed: int) -> np.ndarray:
    """Per person, the mean photo of everyone else: a face, but nobody's."""
    return np.stack([data.images[data.labels != k].mean(axis=0) for k in identities])


def pixel_softmax(data: FaceData, seed: int) -> LogisticRegression:
    """Softmax regression on the photos' pixels, like the zoo's ``faces-softmax``."""
    return LogisticRegression(C=1.0, max_iter=300, random_state=seed).fit(data.images, data.labels)


def projected_gradient(
    weights: np.ndarray,
    bias: np.ndarray,
    identities: np.ndarray,
    start: np.ndarray,
    steps: int = 200,
    step: float = 0.02,
) -> np.ndarray:
    """Ascend log softmax(x W^T + b)[k] by signed gradient steps, projected onto [0, 1] pixels."""
    x = start.copy()
    for _ in range(steps):
        logits = x @ weights.T + bias
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        gradient = weights[identities] - p @ weights
        x = np.clip(x + step * np.sign(gradient), 0, 1)
    return x


def adversarial(data: FaceData, identities: np.ndarray, seed: int) -> np.ndarray:
    """PGD from uniform noise on a pixel softmax: the model is sure it is person k, and nothing looks like k."""
    model = pixel_softmax(data, seed)
    classes = list(model.classes_)
    rows = np.asarray([classes.index(k) for k in identities])
    return projected_gradient(model.coef_, model.intercept_, rows, uniform_noise(data, identities, seed))


CONTROLS: dict[str, Callable[[FaceData, np.ndarray, int], np.ndarray]] = {
    "blank": blank,
    "uniform_noise": uniform_noise,
    "mean_of_others": mean_of_others,
    "adversarial_pgd": adversarial,
}
"""Images that must be judged at chance; ``real_heldout`` (each judge's own) must be judged right."""
ADVERSARIAL = ("adversarial_pgd",)


def excess_over_chance(hits: int, n: int, chance: float) -> dict[str, Any]:
    """One-sided exact binomial test that ``hits`` of ``n`` beat ``chance``."""
    p_value = float(binomtest(hits, n, chance, alternative="greater").pvalue) if n else 1.0
    return {"hits": hits, "n": n, "chance": chance, "p_value": p_value, "above_chance": p_value < SIGNIFICANCE}
