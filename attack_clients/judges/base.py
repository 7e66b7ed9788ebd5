"""What every judge of reconstructed faces has in common.

A judge is fitted once on the private reference photos of the people a target
model knows, then scores a batch of reconstructions, each with the person it is
meant to show. Scores are plain dicts so they go straight into ``results.json``.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from attack_clients.datasets import FaceData


class NotApplicable(Exception):
    """The judge cannot score this data (e.g. a face recogniser on handwritten digits)."""


class Judge(Protocol):
    """Fitted on the reference photos, scores reconstructions with their identities."""

    name: str
    description: str

    def fit(self, data: FaceData) -> Judge:
        """Learn the reference photos; raises ``NotApplicable`` with the reason when it cannot judge them."""
        ...

    def score(self, images: np.ndarray, identities: np.ndarray) -> dict[str, Any]:
        """Figures for ``images`` ``(n, h*w)`` in [0, 1] meant to show data-set identities ``identities``."""
        ...

    def real_heldout(self) -> dict[str, Any]:
        """The same figures on real photos the judge did not fit on: its ceiling."""
        ...


def true_rank(scores: np.ndarray, identities: np.ndarray) -> np.ndarray:
    """0-based rank of each true identity among per-identity scores (higher is more alike)."""
    own = scores[np.arange(len(identities)), identities]
    return (scores > own[:, None]).sum(axis=1)


def rank_figures(scores: np.ndarray, identities: np.ndarray) -> dict[str, Any]:
    """Top-1 and top-5 identification from per-identity scores, with their chance levels."""
    ranks = true_rank(scores, identities)
    n_classes = scores.shape[1]
    return {
        "n": len(identities),
        "top1": float((ranks == 0).mean()) if len(ranks) else 0.0,
        "top5": float((ranks < 5).mean()) if len(ranks) else 0.0,
        "chance_top1": 1.0 / n_classes,
        "chance_top5": min(5, n_classes) / n_classes,
        "hits": int((ranks == 0).sum()),
    }
