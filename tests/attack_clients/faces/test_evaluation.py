"""The evaluator rates noise and blank at chance; lineup and SSIM plumbing."""

from __future__ import annotations

import numpy as np
import pytest

from attack_clients.faces.evaluation import (
    FaceEvaluator,
    Lineup,
    ReconstructionJudge,
    identity_map,
    judge_for,
    normalise,
    true_rank,
)
from attack_clients.faces.inversion import invert_white_box
from attack_clients.faces.mi_face import MIFaceParams


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


def test_identity_map_by_name_then_position(digits_target) -> None:
    data = digits_target.data
    assert identity_map(list(reversed(data.classes)), data).tolist() == list(range(9, -1, -1))
    assert identity_map([f"c{i}" for i in range(10)], data).tolist() == list(range(10))
    assert identity_map(["x"], data) is None


def chance_checks(judge: ReconstructionJudge, n_classes: int, n_pixels: int) -> None:
    labels = list(range(n_classes))
    rng = np.random.default_rng(0)
    for images in (rng.random((n_classes, n_pixels)), np.zeros((n_classes, n_pixels))):
        metrics = judge.judge(images, labels)
        assert metrics["top1"] <= 2.0 / n_classes + 1e-9
        assert metrics["top5"] <= 2 * min(5, n_classes) / n_classes
        assert metrics["lineup_accuracy"] <= 0.35


def test_noise_and_blank_are_judged_at_chance_on_digits(digits_target, monkeypatch) -> None:
    monkeypatch.delenv("MLAAS_DATA_DIR", raising=False)  # shares the CLI tests' cached judge
    data = digits_target.data
    chance_checks(judge_for(data.image_shape), len(data.classes), data.images.shape[1])


def test_noise_blank_chance_and_white_box_hits_on_real_faces(faces_target) -> None:
    data = faces_target.data
    judge = ReconstructionJudge(data)
    assert judge.real_top1 > 0.9
    assert judge.real_lineup > 0.9
    chance_checks(judge, 40, data.images.shape[1])
    labels = list(range(40))
    images, _ = invert_white_box(faces_target.export, labels, MIFaceParams())
    metrics = judge.judge(images, labels)
    assert metrics["top1"] > 0.5
    assert metrics["lineup_accuracy"] > 0.5
    assert metrics["ssim_mean"] > 0.15


def test_evaluator_is_not_fooled_by_scaling(digits_target) -> None:
    data = digits_target.data
    evaluator = FaceEvaluator(n_components=30).fit(data.images, data.labels)
    dark = data.images[:50] * 0.2
    assert (evaluator.predict(dark) == data.labels[:50]).mean() > 0.9
