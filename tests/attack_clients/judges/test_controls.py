"""Every judge against images whose answer is known: real photos right, everything else at chance.

The face recogniser is the headline judge, so it must also rate adversarial
images (a target's confidence for person k maximised with no face prior) at
chance; the pixel evaluator is allowed to fail that test, but then it must
carry the model-fooling warning wherever its figures go.
"""

from __future__ import annotations

import numpy as np
import pytest

from attack_clients.faces.inversion import invert_black_box
from attack_clients.faces.mi_face import MIFaceParams
from attack_clients.faces.network import WhiteBoxModel
from attack_clients.judges.controls import CONTROLS, excess_over_chance, projected_gradient, uniform_noise
from attack_clients.judges.panel import IDENTIFYING, MODEL_FOOLING
from attack_clients.oracle import LocalOracle

CHANCE_CONTROLS = ("blank", "uniform_noise", "mean_of_others")


@pytest.mark.parametrize("judge", ["face_recognizer", "evaluation_network"])
def test_real_heldout_photos_are_recognised(att_panel, judge: str) -> None:
    assert att_panel.judges[judge].real_heldout()["top1"] >= 0.95


def test_face_recogniser_ceiling_matches_dlib_published_behaviour(att_panel) -> None:
    ceiling = att_panel.judges["face_recognizer"].real_heldout()
    assert ceiling["verified"] >= 0.9
    assert ceiling["faces_detected"] >= 0.9


@pytest.mark.parametrize("control", CHANCE_CONTROLS)
@pytest.mark.parametrize("judge", IDENTIFYING)
def test_non_faces_and_nobody_are_at_chance(att_panel, judge: str, control: str) -> None:
    verdict = att_panel.controls[judge][control]
    assert verdict["n"] == 40
    assert not verdict["above_chance"], verdict


def test_face_recogniser_rates_pixel_pgd_controls_at_chance(att_panel) -> None:
    assert not att_panel.controls["face_recognizer"]["adversarial_pgd"]["above_chance"]
    assert not att_panel.credits_adversarial("face_recognizer")


def _chance_test(att_panel, judge: str, images: np.ndarray) -> dict:
    identities = np.arange(len(images))
    figures = att_panel.judges[judge].score(images, identities)
    return excess_over_chance(figures["hits"], len(images), 1 / 40)


def test_pgd_on_the_target_network_fools_it_but_not_the_face_recogniser(att_panel, att_softmax) -> None:
    layer = att_softmax["layers"][0]
    identities = np.arange(40)
    images = projected_gradient(
        layer["weights"].T, layer["bias"], identities, uniform_noise(att_panel.data, identities, seed=1)
    )
    fooled = WhiteBoxModel(att_softmax).predict_proba(images).argmax(axis=1)
    assert (fooled == identities).mean() == 1.0
    assert not _chance_test(att_panel, "face_recognizer", images)["above_chance"]


def test_black_box_mi_face_outputs_are_not_faces_to_the_face_recogniser(att_panel, att_softmax) -> None:
    model = WhiteBoxModel(att_softmax)
    labels = list(range(40))
    images, _ = invert_black_box(
        LocalOracle(model.predict_proba, att_panel.data.classes),
        labels,
        (112, 92),
        MIFaceParams(alpha=400),
    )
    assert (model.predict_proba(images).argmax(axis=1) == np.arange(40)).mean() >= 0.5
    assert not _chance_test(att_panel, "face_recognizer", images)["above_chance"]


def test_a_judge_crediting_adversarial_controls_carries_the_warning(att_panel) -> None:
    identities = np.arange(3)
    verdict = att_panel.judge(att_panel.data.images[[0, 10, 20]], identities)
    for judge in IDENTIFYING:
        assert verdict[judge]["credits_adversarial"] == att_panel.credits_adversarial(judge)
        assert (verdict[judge].get("warning") == MODEL_FOOLING) == att_panel.credits_adversarial(judge)


def test_every_control_is_recorded_for_every_identifying_judge(att_panel) -> None:
    for judge in IDENTIFYING:
        assert set(att_panel.controls[judge]) == set(CONTROLS)


def test_digits_have_no_face_recogniser_and_say_why(digits_panel) -> None:
    verdict = digits_panel.judge(digits_panel.data.images[:2], digits_panel.data.labels[:2])
    assert verdict["face_recognizer"] == {
        "applies": False,
        "reason": pytest.approx(verdict["face_recognizer"]["reason"]),
    }
    assert "digits" in verdict["face_recognizer"]["reason"]
    assert verdict["evaluation_network"]["applies"]


@pytest.mark.parametrize("control", CHANCE_CONTROLS)
def test_digit_judges_rate_chance_controls_at_chance(digits_panel, control: str) -> None:
    for judge in ("evaluation_network", "pixel_evaluator"):
        assert not digits_panel.controls[judge][control]["above_chance"], (judge, control)


def test_digit_evaluation_network_recognises_heldout_digits(digits_panel) -> None:
    """Digits are the no-data fallback, not faces: the faces' 0.95 bar is for the AT&T photos above."""
    assert digits_panel.judges["evaluation_network"].real_heldout()["top1"] >= 0.9
