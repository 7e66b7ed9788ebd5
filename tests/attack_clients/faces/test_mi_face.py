"""Algorithm 1's loop: stopping rule, best iterate, batching, PROCESS."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from attack_clients.faces.inversion import invert_white_box
from attack_clients.faces.mi_face import MIFaceParams, mi_face
from attack_clients.faces.network import WhiteBoxModel
from attack_clients.faces.process import dae_process


def scripted(costs: list[float]):
    """A cost c = 1 - f that follows a script, one value per call, with a unit gradient."""
    calls = iter(costs)

    def log_confidence_and_gradient(x: torch.Tensor, labels: torch.Tensor):
        value = next(calls)
        return torch.full((len(labels),), math.log(1 - value), dtype=torch.float64), -torch.ones_like(x)

    return log_confidence_and_gradient


def test_gamma_stops_when_confidence_reaches_gamma() -> None:
    costs = [0.975 - 0.1 * i for i in range(10)] + [0.005] * 10
    result = mi_face(scripted(costs), [3], torch.zeros(1, 4), MIFaceParams(alpha=100, beta=5, gamma=0.99))
    assert result.stop_reasons == ["gamma"]
    assert result.iterations[0] == 10
    assert result.confidence[0] >= 0.99


def test_literal_gamma_reading_would_have_stopped_at_once() -> None:
    """At x0 the cost is ~0.975 <= 0.99: the literal rule ends after one step."""
    result = mi_face(scripted([0.975, 0.97, 0.96, 0.95]), [0], torch.zeros(1, 2), MIFaceParams(alpha=3, beta=10))
    assert result.stop_reasons == ["alpha"]
    assert result.iterations[0] == 3


def test_beta_window_stops_without_progress_and_keeps_the_best() -> None:
    costs = [0.9, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.96] + [0.97] * 20
    result = mi_face(scripted(costs), [0], torch.zeros(1, 3), MIFaceParams(alpha=50, beta=3))
    assert result.stop_reasons == ["beta"]
    # i=3: c=0.7 >= max(0.9, 0.5, 0.6)? no. i=4: 0.8 >= max(0.5, 0.6, 0.7) -> stop.
    assert result.iterations[0] == 4
    assert result.cost[0] == pytest.approx(0.5)
    np.testing.assert_allclose(result.x[0], 0.1)  # the iterate after one step, not the last


def test_decisions_see_progress_below_float_resolution_of_c() -> None:
    """f from 1e-30 to 1e-20: c = 1 - f is 1.0 throughout, -log f still falls."""
    log_f = [-70.0 + 0.25 * i for i in range(300)]
    calls = iter(log_f)

    def rising(x: torch.Tensor, labels: torch.Tensor):
        return torch.full((len(labels),), next(calls), dtype=torch.float64), -torch.ones_like(x)

    result = mi_face(rising, [0], torch.zeros(1, 2), MIFaceParams(alpha=200, beta=100))
    assert result.stop_reasons == ["alpha"]
    assert result.log_confidence[0] == pytest.approx(-70.0 + 0.25 * 200)


def test_window_test_waits_for_beta_earlier_costs() -> None:
    rising = [0.5, 0.9, 0.95, 0.99, 0.995]
    early = mi_face(scripted(rising), [0], torch.zeros(1, 2), MIFaceParams(alpha=3, beta=4))
    assert early.stop_reasons == ["alpha"]
    full = mi_face(scripted(rising), [0], torch.zeros(1, 2), MIFaceParams(alpha=10, beta=4))
    assert full.stop_reasons == ["beta"]
    assert full.iterations[0] == 4


def test_labels_stop_independently_in_one_batch(digits_target) -> None:
    labels = list(range(10))
    params = MIFaceParams(alpha=300)
    batched, batched_result = invert_white_box(digits_target.export, labels, params)
    single, single_result = invert_white_box(digits_target.export, [7], params)
    np.testing.assert_allclose(batched[7], single[0], atol=1e-5)
    assert batched_result.iterations[7] == single_result.iterations[0]
    assert batched.shape == (10, 64)
    assert batched.min() >= 0 and batched.max() <= 1


def test_dae_process_searches_codes_and_returns_pixels() -> None:
    rng = np.random.default_rng(0)

    def layer(n_in: int, n_out: int, activation: str) -> dict:
        return {"weights": rng.normal(0, 0.5, (n_in, n_out)), "bias": np.zeros(n_out), "activation": activation}

    export = {
        "layers": [layer(64, 32, "sigmoid"), layer(32, 16, "sigmoid"), layer(16, 10, "softmax")],
        "decoder": [layer(16, 32, "sigmoid"), layer(32, 64, "sigmoid")],
        "encoder_depth": 2,
        "image_shape": [8, 8],
    }
    model = WhiteBoxModel(export)
    assert model.code_space
    assert model.start(3).shape == (3, 16)
    images, result = invert_white_box(export, [0, 1, 2], MIFaceParams(alpha=20, process_every=5))
    assert images.shape == (3, 64)
    assert result.x.shape == (3, 16)
    cleaned = dae_process(model)(model.start(2))
    assert cleaned.shape == (2, 16)


def test_log_gradient_moves_labels_the_paper_gradient_cannot(digits_target) -> None:
    """A bias that gives class 0 the blank image leaves the others f ~ 1e-4 at x0."""
    export = {**digits_target.export, "layers": [dict(digits_target.export["layers"][0])]}
    bias = np.zeros(10)
    bias[0] = 8.0
    export["layers"][0]["bias"] = bias
    labels = list(range(1, 10))
    params = MIFaceParams(alpha=1000)
    _, paper = invert_white_box(export, labels, params)
    _, log = invert_white_box(export, labels, params, log_gradient=True)
    assert np.median(paper.confidence) < 0.01
    assert (log.confidence >= 0.99).mean() >= 0.8
    assert log.confidence.mean() > 0.9
