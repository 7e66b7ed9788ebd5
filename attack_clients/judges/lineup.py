"""The automated five-face lineup of the 2015 study's human evaluation.

People were shown a reconstruction and five photos and asked which one (if any)
was the person; in 80% of the lineups the person was there. A judge's
per-identity scores stand in for the person's choice.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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


FIVE_FACES = Lineup()
"""The study's lineup: five faces, the person among them four times in five."""
