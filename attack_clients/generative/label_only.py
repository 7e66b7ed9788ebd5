"""Label-only generative inversion: boundary repulsion in the prior's latent space (BREP-MI).

Kahla et al. (CVPR 2022): from the predicted labels alone, start each victim at
a latent whose image the target labels as the victim, then walk away from the
decision boundary. Points on a sphere of radius ``R`` around the latent are
queried; those labelled as anyone else push the latent away
(``M = mean_n phi(z + R u_n) u_n``, ``phi`` = -1 outside the victim's class and
0 inside), and a step is kept only if its centre is still labelled as the
victim. When every point of the sphere is the victim's, the sphere grows: the
latent is at least ``R`` from the boundary, deeper in the class. The confidences
the oracle may also return are never read.

Starts are prior samples queried in shared batches until each victim has one
(a victim no sample lands on keeps the prior's mean latent and is reported as
unstarted). Each step's centres and sphere points of every victim go to the
oracle as one batch; the oracle counts every row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from tqdm.auto import trange

from attack_clients.generative.black_box import clip_norm
from attack_clients.generative.prior import FacePrior
from attack_clients.oracle import MAX_BATCH_BYTES, Oracle


@dataclass(frozen=True)
class BrepSettings:
    """The search's knobs; each step costs ``1 + points`` rows per started victim."""

    steps: int = 150
    points: int = 32
    radius: float = 1.0
    growth: float = 1.3
    max_radius: float = 12.0
    step_size: float = 0.5
    starts: int = 512
    start_rounds: int = 8
    max_norm: float = 2.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.steps < 0 or self.points < 1 or self.starts < 1 or self.start_rounds < 1:
            raise ValueError("steps must be >= 0, points, starts and start_rounds >= 1")
        if not 0 < self.radius <= self.max_radius or self.growth <= 1 or self.step_size <= 0 or self.max_norm <= 0:
            raise ValueError("need 0 < radius <= max_radius, growth > 1, step_size > 0 and max_norm > 0")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class LabelOnlyOutcome:
    """Per victim: the reconstruction, its latent, whether it started, and the sphere radius reached."""

    images: np.ndarray
    latents: np.ndarray
    started: np.ndarray
    radius: np.ndarray
    rows: int

    def per_label(self, labels: Sequence[int]) -> list[dict[str, Any]]:
        return [
            {"label": int(label), "started": bool(s), "radius": float(r)}
            for label, s, r in zip(labels, self.started, self.radius, strict=True)
        ]


class _LabelQueries:
    """Labels of latents' images, in batches of at most ``max_batch_bytes`` of float32 pixels."""

    def __init__(self, oracle: Oracle, prior: FacePrior, max_batch_bytes: int) -> None:
        self.oracle = oracle
        self.prior = prior
        self.per_batch = max(1, max_batch_bytes // (4 * int(np.prod(prior.image_shape))))
        self.rows = 0

    def __call__(self, z: np.ndarray) -> np.ndarray:
        self.rows += len(z)
        images = self.prior.generate(z)
        return np.concatenate(
            [
                np.asarray(self.oracle.predict_proba(images[i : i + self.per_batch])[0], dtype=int)
                for i in range(0, len(images), self.per_batch)
            ]
        )


def _starts(
    labels_of: _LabelQueries, prior: FacePrior, victims: np.ndarray, settings: BrepSettings, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """A latent labelled as each victim (the first sample found), and which victims have one."""
    z = np.zeros((len(victims), prior.latent_dim))
    started = np.zeros(len(victims), dtype=bool)
    radius = settings.max_norm * np.sqrt(prior.latent_dim)
    for _ in range(settings.start_rounds):
        samples = clip_norm(prior.sample_latents(settings.starts, rng).astype(np.float64), radius)
        answered = labels_of(samples)
        for row in np.flatnonzero(~started):
            hits = np.flatnonzero(answered == victims[row])
            if len(hits):
                z[row], started[row] = samples[hits[0]], True
        if started.all():
            break
    return z, started


def run_search(
    oracle: Oracle,
    prior: FacePrior,
    labels: Sequence[int],
    settings: BrepSettings = BrepSettings(),
    progress: bool = False,
    max_batch_bytes: int = MAX_BATCH_BYTES,
) -> LabelOnlyOutcome:
    """BREP-MI towards each of ``labels`` (the oracle's class indices), every victim in one batch per step."""
    victims = np.asarray(labels, dtype=int)
    d, n = prior.latent_dim, settings.points
    rng = np.random.default_rng(settings.seed)
    labels_of = _LabelQueries(oracle, prior, max_batch_bytes)
    z, started = _starts(labels_of, prior, victims, settings, rng)
    radius = np.full(len(victims), settings.radius)
    move = np.zeros_like(z)
    norm_cap = settings.max_norm * np.sqrt(d)
    for _ in trange(settings.steps, desc="BREP-MI", disable=not progress, leave=False):
        active = np.flatnonzero(started & (radius < settings.max_radius))
        if not len(active):
            break
        centres = clip_norm(z[active] + move[active], norm_cap)
        directions = rng.standard_normal((len(active), n, d))
        directions /= np.linalg.norm(directions, axis=2, keepdims=True)
        sphere = centres[:, None] + radius[active, None, None] * directions
        answered = labels_of(np.concatenate([centres, sphere.reshape(-1, d)]))
        inside = answered[: len(active)] == victims[active]
        outside = answered[len(active) :].reshape(len(active), n) != victims[active, None]
        z[active[inside]] = centres[inside]
        move[active[~inside]] = 0.0
        accepted = active[inside]
        repulsion = -(outside[inside, :, None] * directions[inside]).mean(axis=1)
        clear = ~outside[inside].any(axis=1)
        radius[accepted[clear]] *= settings.growth
        norms = np.linalg.norm(repulsion, axis=1, keepdims=True)
        step = settings.step_size * radius[accepted, None] * repulsion / np.maximum(norms, 1e-12)
        move[accepted] = np.where(clear[:, None], 0.0, step)
    return LabelOnlyOutcome(prior.generate(z), z, started, radius, labels_of.rows)


def search(
    oracle: Oracle,
    prior: FacePrior,
    labels: Sequence[int],
    settings: BrepSettings = BrepSettings(),
    progress: bool = False,
) -> np.ndarray:
    """Each victim's reconstruction ``(len(labels), h*w)``: :func:`run_search`'s images."""
    return run_search(oracle, prior, labels, settings, progress).images
