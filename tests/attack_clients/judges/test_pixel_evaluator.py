"""The pixel evaluator's plumbing: normalisation, lineup, ranks, class matching, contrast invariance.

Its verdicts on control images are tested with every other judge's in ``test_controls``.
"""

from __future__ import annotations

import numpy as np
import pytest

from attack_clients.datasets import load_digits
from attack_clients.judges.base import true_rank
from attack_clients.judges.identities import identity_map
from attack_clients.judges.lineup import Lineup
from attack_clients.judges.pixel_evaluator import FaceEvaluator, normalise


def test_normalise_matches_mean_and_spread_and_handles_blank() -> None:
    images = np.vstack([np.linspace(0, 0.2, 16), np.zeros(16)])
    out = normalise(images, 0.5, 0.2)
    assert out[0].mean() == pytest.approx(0.5)
    assert out[0].std() == pytest.approx(0.2)
    np.testing.assert_allclose(out[1], 0.5)


def test_lineup_perfect_scores_and_uninformative_scores() -> None:
    labels = np.arange(20)
    perfect = np.eye(20)
    lineup = Lineup().calibrate(perfect, labels)
    assert lineup.accuracy(perfect, labels) == 1.0
    flat = np.zeros((20, 20))
    assert lineup.accuracy(flat, labels) == pytest.approx(0.2, abs=0.05)


def test_lineup_draws_have_the_person_eighty_percent_of_the_time() -> None:
    members, present = Lineup(trials=200).draw(np.arange(40), 40, seed=0)
    targets = np.repeat(np.arange(40), 200)
    assert present.mean() == pytest.approx(0.8, abs=0.02)
    assert ((members == targets[:, None]).any(axis=1) == present).all()
    assert all(len(set(row)) == 5 for row in members[:100])


def test_true_rank() -> None:
    scores = np.array([[0.1, 0.5, 0.4], [0.9, 0.05, 0.05]])
    assert true_rank(scores, np.array([2, 0])).tolist() == [1, 0]


def test_identity_map_by_name_then_position() -> None:
    data = load_digits()
    assert identity_map(list(reversed(data.classes)), data).tolist() == list(range(9, -1, -1))
    assert identity_map([f"c{i}" for i in range(10)], data).tolist() == list(range(10))
    assert identity_map(["x"], data) is None


def test_evaluator_is_not_fooled_by_scaling() -> None:
    data = load_digits()
    evaluator = FaceEvaluator(n_components=30).fit(data.images, data.labels)
    dark = data.images[:50] * 0.2
    assert (evaluator.predict(dark) == data.labels[:50]).mean() > 0.9
