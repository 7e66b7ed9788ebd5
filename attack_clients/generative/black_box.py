"""Black-box generative inversion: a search of the prior's latent space from confidences alone.

As MIRROR's black-box attack does (An et al., NDSS 2022), the adversary never
sees a gradient: it moves each victim's latent by natural evolution strategies
(antithetic Gaussian probes, centred-rank fitness shaping, Adam on the
estimate; Wierstra et al. 2014, Salimans et al. 2017). The fitness of a latent
is the log of the victim's returned confidence for its generated image minus
a prior term, ``prior_weight * |z|^2 / 2`` (the latent's negative Gaussian
log-density), so the search prefers faces the prior finds likely.

Every victim's probes of one step go to the oracle as one ``predict_proba``
call (over HTTP: one v2 binary request, split only past the batch byte cap),
because the service answers big batches fast and single rows slowly. The start
of each victim is the best of ``starts`` prior samples, scored in one shared
batch. The oracle counts every row. The result is, per victim, the best latent
by fitness among every one queried.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from tqdm.auto import trange

from attack_clients.generative.prior import FacePrior
from attack_clients.oracle import MAX_BATCH_BYTES, Oracle, query_all

LOG_FLOOR = 1e-30
"""Confidences below this are read as this, so that log f stays finite (float32 answers underflow)."""


@dataclass(frozen=True)
class NesSettings:
    """The search's knobs; each step costs ``1 + 2 * pairs`` rows per victim."""

    steps: int = 150
    pairs: int = 8
    sigma: float = 0.5
    learning_rate: float = 0.1
    prior_weight: float = 0.05
    starts: int = 256
    max_norm: float = 2.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.steps < 0 or self.pairs < 1 or self.starts < 1:
            raise ValueError("steps must be >= 0, pairs and starts >= 1")
        if self.sigma <= 0 or self.learning_rate <= 0 or self.prior_weight < 0 or self.max_norm <= 0:
            raise ValueError("sigma, learning_rate and max_norm must be > 0, prior_weight >= 0")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SearchOutcome:
    """Per victim: the reconstruction, its latent, its returned confidence and fitness."""

    images: np.ndarray
    latents: np.ndarray
    confidence: np.ndarray
    fitness: np.ndarray
    start_confidence: np.ndarray
    rows: int

    def per_label(self, labels: Sequence[int]) -> list[dict[str, Any]]:
        return [
            {"label": int(label), "confidence": float(f), "fitness": float(s), "start_confidence": float(f0)}
            for label, f, s, f0 in zip(labels, self.confidence, self.fitness, self.start_confidence, strict=True)
        ]


def clip_norm(z: np.ndarray, radius: float) -> np.ndarray:
    """Latents scaled back onto the ball of ``radius``: a truncation of the prior, which
    has only learnt the region its training latents came from."""
    norms = np.linalg.norm(z, axis=-1, keepdims=True)
    return z * np.minimum(1.0, radius / np.maximum(norms, 1e-12))


def _centred_ranks(values: np.ndarray) -> np.ndarray:
    """Each row's values replaced by their ranks scaled to [-0.5, 0.5]: the estimate ignores the scale of f."""
    ranks = values.argsort(axis=1).argsort(axis=1).astype(np.float64)
    return ranks / max(1, values.shape[1] - 1) - 0.5


class _Adam:
    def __init__(self, shape: tuple[int, ...], learning_rate: float) -> None:
        self.m = np.zeros(shape)
        self.v = np.zeros(shape)
        self.t = 0
        self.learning_rate = learning_rate

    def step(self, gradient: np.ndarray) -> np.ndarray:
        """The ascent step for ``gradient``."""
        self.t += 1
        self.m = 0.9 * self.m + 0.1 * gradient
        self.v = 0.999 * self.v + 0.001 * gradient**2
        m_hat = self.m / (1 - 0.9**self.t)
        v_hat = self.v / (1 - 0.999**self.t)
        return self.learning_rate * m_hat / (np.sqrt(v_hat) + 1e-8)


class _Scorer:
    """Queries latents' images and scores them for their victims; keeps each victim's best."""

    def __init__(self, oracle: Oracle, prior: FacePrior, labels: np.ndarray, settings: NesSettings, cap: int) -> None:
        self.oracle = oracle
        self.prior = prior
        self.labels = labels
        self.settings = settings
        self.max_batch_bytes = cap
        self.rows = 0
        self.best_z = np.zeros((len(labels), prior.latent_dim))
        self.best_fitness = np.full(len(labels), -np.inf)
        self.best_confidence = np.zeros(len(labels))

    def confidences(self, z: np.ndarray) -> np.ndarray:
        """Returned confidences ``(n, k)`` of the images of latents ``(n, latent_dim)``, one oracle batch."""
        self.rows += len(z)
        return query_all(self.oracle, self.prior.generate(z), self.max_batch_bytes)

    def fitness(self, z: np.ndarray, confidence: np.ndarray) -> np.ndarray:
        return np.log(np.maximum(confidence, LOG_FLOOR)) - self.settings.prior_weight * 0.5 * (z**2).sum(axis=-1)

    def keep_best(self, z: np.ndarray, confidence: np.ndarray) -> np.ndarray:
        """Record ``z (m, c, d)`` with its victims' confidences ``(m, c)``; returns their fitness."""
        fitness = self.fitness(z, confidence)
        best = fitness.argmax(axis=1)
        rows = np.arange(len(z))
        better = fitness[rows, best] > self.best_fitness
        self.best_fitness[better] = fitness[rows, best][better]
        self.best_confidence[better] = confidence[rows, best][better]
        self.best_z[better] = z[rows, best][better]
        return fitness


def run_search(
    oracle: Oracle,
    prior: FacePrior,
    labels: Sequence[int],
    settings: NesSettings = NesSettings(),
    progress: bool = False,
    max_batch_bytes: int = MAX_BATCH_BYTES,
) -> SearchOutcome:
    """NES in the prior's latent space towards each of ``labels`` (the oracle's class indices), batched."""
    labels = np.asarray(labels, dtype=int)
    m, d, pairs = len(labels), prior.latent_dim, settings.pairs
    rng = np.random.default_rng(settings.seed)
    scorer = _Scorer(oracle, prior, labels, settings, max_batch_bytes)

    pool = clip_norm(prior.sample_latents(settings.starts, rng).astype(np.float64), settings.max_norm * np.sqrt(d))
    answers = scorer.confidences(pool)[:, labels].T
    scorer.keep_best(np.broadcast_to(pool, (m, *pool.shape)), answers)
    z = scorer.best_z.copy()
    start_confidence = scorer.best_confidence.copy()
    adam = _Adam(z.shape, settings.learning_rate)
    radius = settings.max_norm * np.sqrt(d)
    for _ in trange(settings.steps, desc="NES", disable=not progress, leave=False):
        noise = rng.standard_normal((m, pairs, d))
        step = settings.sigma * noise
        probes = clip_norm(np.concatenate([z[:, None], z[:, None] + step, z[:, None] - step], axis=1), radius)
        answers = scorer.confidences(probes.reshape(-1, d)).reshape(m, 1 + 2 * pairs, -1)
        own = answers[np.arange(m), :, labels]
        fitness = scorer.keep_best(probes, own)
        shaped = _centred_ranks(fitness[:, 1:])
        gradient = np.einsum("mp,mpd->md", shaped[:, :pairs] - shaped[:, pairs:], noise) / (2 * pairs * settings.sigma)
        z = clip_norm(z + adam.step(gradient), radius)
    return SearchOutcome(
        images=prior.generate(scorer.best_z),
        latents=scorer.best_z,
        confidence=scorer.best_confidence,
        fitness=scorer.best_fitness,
        start_confidence=start_confidence,
        rows=scorer.rows,
    )


def search(
    oracle: Oracle,
    prior: FacePrior,
    labels: Sequence[int],
    settings: NesSettings = NesSettings(),
    progress: bool = False,
) -> np.ndarray:
    """Each victim's reconstruction ``(len(labels), h*w)``: :func:`run_search`'s images."""
    return run_search(oracle, prior, labels, settings, progress).images
