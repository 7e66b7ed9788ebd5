"""Black-box gradients agree with the white-box gradient; rows are counted."""

from __future__ import annotations

import numpy as np
import torch

from attack_clients.faces.gradients import (
    DctBasis,
    FiniteDifferenceGradient,
    WhiteBoxGradient,
    ZerothOrderGradient,
    dct_basis,
)
from attack_clients.faces.inversion import BlackBoxSettings, invert_black_box, invert_white_box
from attack_clients.faces.mi_face import MIFaceParams
from attack_clients.faces.network import WhiteBoxModel
from attack_clients.judges.pixel_evaluator import FaceEvaluator
from attack_clients.oracle import LocalOracle


def cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a * b).sum(dim=1) / (a.norm(dim=1) * b.norm(dim=1))


def test_dct_basis_is_orthonormal_and_low_frequency() -> None:
    basis = dct_basis((12, 10), (4, 3))
    assert basis.shape == (120, 12)
    torch.testing.assert_close(basis.T @ basis, torch.eye(12), atol=1e-5, rtol=0)
    assert torch.allclose(basis[:, 0], torch.full((120,), 120**-0.5))


def test_zeroth_order_gradient_correlates_with_true_gradient(digits_target) -> None:
    oracle = LocalOracle(digits_target.model.predict_proba, digits_target.data.classes)
    x = torch.full((10, 64), 0.3)
    labels = torch.arange(10)
    log_f, truth = WhiteBoxGradient(digits_target.model.classifier)(x, labels)
    estimator = ZerothOrderGradient(oracle, DctBasis((8, 8), (8, 8)), directions=200, delta=0.05, seed=1)
    zo_log_f, estimate = estimator(x, labels)
    torch.testing.assert_close(zo_log_f, log_f, atol=1e-4, rtol=0)
    assert cosine(estimate, truth).mean() > 0.6
    assert oracle.stats.rows == 10 * estimator.rows_per_point == 10 * 401
    assert oracle.stats.queries == 1  # every label's probes in one batch


def test_log_gradient_is_the_gradient_divided_by_the_confidence(digits_target) -> None:
    x = torch.full((4, 64), 0.2)
    labels = torch.tensor([0, 2, 5, 7])
    log_f, plain = WhiteBoxGradient(digits_target.model.classifier)(x, labels)
    same_log_f, scaled = WhiteBoxGradient(digits_target.model.classifier, log_gradient=True)(x, labels)
    torch.testing.assert_close(same_log_f, log_f)
    torch.testing.assert_close(scaled, plain / log_f.exp()[:, None].float(), rtol=1e-4, atol=1e-6)
    oracle = LocalOracle(digits_target.model.predict_proba, digits_target.data.classes)
    estimator = ZerothOrderGradient(oracle, DctBasis((8, 8), (8, 8)), 200, 0.05, seed=2, log_gradient=True)
    _, estimate = estimator(x, labels)
    assert cosine(estimate, scaled).mean() > 0.6


def test_finite_differences_match_and_subset_moves_only_probed_pixels(digits_target) -> None:
    oracle = LocalOracle(digits_target.model.predict_proba, digits_target.data.classes)
    x = torch.rand(3, 64, generator=torch.Generator().manual_seed(0))
    x[0, :5] = 1.0  # forces backward differences there
    labels = torch.tensor([1, 4, 9])
    _, truth = WhiteBoxGradient(digits_target.model.classifier)(x, labels)
    _, estimate = FiniteDifferenceGradient(oracle, step=1e-3)(x, labels)
    assert cosine(estimate, truth).min() > 0.99
    assert oracle.stats.rows == 3 * 65
    _, partial = FiniteDifferenceGradient(oracle, step=1e-3, coordinates=10, seed=0)(x, labels)
    assert ((partial != 0).sum(dim=1) <= 10).all()


def test_black_box_mi_face_identifies_digits_and_counts_rows(digits_target) -> None:
    data = digits_target.data
    oracle = LocalOracle(digits_target.model.predict_proba, data.classes)
    labels = list(range(10))
    settings = BlackBoxSettings(directions=8, delta=0.5, basis=(8, 8))
    images, result = invert_black_box(oracle, labels, (8, 8), MIFaceParams(alpha=400, lam=1.0), settings)
    assert oracle.stats.rows == int(result.evaluations.sum()) * 17
    evaluator = FaceEvaluator(n_components=30).fit(data.images, data.labels)
    assert (evaluator.predict(images) == np.asarray(labels)).mean() >= 0.5
    white, _ = invert_white_box(digits_target.export, labels, MIFaceParams(alpha=400, lam=1.0))
    assert (evaluator.predict(white) == np.asarray(labels)).mean() >= 0.5


def test_black_box_log_gradient_climbs_from_confidences_near_1e_minus_20(digits_target) -> None:
    """A bias of 45 on class 0 gives the others f ~ 1e-20 at x0 (unrounded answers)."""
    layer = dict(digits_target.export["layers"][0])
    layer["bias"] = np.r_[45.0, np.zeros(9)]
    model = WhiteBoxModel({**digits_target.export, "layers": [layer]})
    oracle = LocalOracle(model.predict_proba, digits_target.data.classes)
    settings = BlackBoxSettings(directions=8, delta=0.5, basis=(8, 8), log_gradient=True)
    _, result = invert_black_box(oracle, [3, 5], (8, 8), MIFaceParams(alpha=300, lam=0.5), settings)
    start = np.log(model.predict_proba(np.zeros((1, 64)))[0, [3, 5]])
    assert (start < -35).all()
    assert (result.log_confidence - start > 10).all()


def test_separable_dct_synthesis_equals_the_dense_basis() -> None:
    basis = DctBasis((12, 10), (4, 3))
    z = torch.randn(5, 2, 12, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(basis.synthesise(z), z @ basis.dense().T, atol=1e-5, rtol=0)


def test_a_basis_larger_than_the_image_is_capped_at_the_image() -> None:
    basis = DctBasis((8, 8), (16, 16))
    assert basis.size == (8, 8) and basis.dense().shape == (64, 64)


def test_hand_written_backpropagation_matches_autograd() -> None:
    rng = np.random.default_rng(3)
    layers = [
        {"weights": rng.normal(0, 0.3, (30, 12)), "bias": rng.normal(0, 0.1, 12), "activation": "sigmoid"},
        {"weights": rng.normal(0, 0.3, (12, 7)), "bias": rng.normal(0, 0.1, 7), "activation": "sigmoid"},
        {"weights": rng.normal(0, 0.5, (7, 5)), "bias": rng.normal(0, 0.1, 5), "activation": "softmax"},
    ]
    classifier = WhiteBoxModel({"layers": layers, "image_shape": [5, 6]}).classifier
    x = torch.rand(6, 30, generator=torch.Generator().manual_seed(1))
    labels = torch.tensor([0, 1, 2, 3, 4, 0])
    for log_gradient in (False, True):
        by_hand = WhiteBoxGradient(classifier, log_gradient)
        assert by_hand.dense is not None
        autograd = WhiteBoxGradient(classifier, log_gradient)
        autograd.dense = None
        (log_f, grad), (expected_log_f, expected) = by_hand(x, labels), autograd(x, labels)
        torch.testing.assert_close(log_f, expected_log_f)
        torch.testing.assert_close(grad, expected, rtol=1e-5, atol=1e-7)


def test_other_networks_fall_back_to_autograd() -> None:
    network = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2), torch.nn.Softmax(1))
    assert WhiteBoxGradient(network).dense is None
