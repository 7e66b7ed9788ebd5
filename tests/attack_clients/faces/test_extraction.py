"""Extraction: exact from unrounded answers, worse under rounding; surrogates."""

from __future__ import annotations

import numpy as np

from attack_clients.faces.extraction import centred, extract_softmax, fit_surrogate
from attack_clients.faces.network import WhiteBoxModel
from attack_clients.faces.targets import fit_dense_target
from attack_clients.oracle import LocalOracle


def relative_error(extracted, export: dict) -> float:
    layer = export["layers"][0]
    weights, _ = centred(np.asarray(layer["weights"], float), np.asarray(layer["bias"], float))
    return float(np.linalg.norm(extracted.weights - weights) / np.linalg.norm(weights))


def rounding(step: float):
    return lambda p: np.round(p / step) * step


def test_equation_solving_recovers_softmax_with_d_plus_one_queries(digits_target) -> None:
    oracle = LocalOracle(digits_target.model.predict_proba, digits_target.data.classes)
    extracted, profile = extract_softmax(oracle, 64)
    assert oracle.stats.rows == 65
    assert profile.rounding is None
    assert relative_error(extracted, digits_target.export) < 1e-4
    X = digits_target.data.images
    np.testing.assert_allclose(extracted.predict_proba(X), digits_target.model.predict_proba(X), atol=1e-5)


def test_equation_solving_degrades_under_rounding(digits_target) -> None:
    errors = []
    for step in (0.001, 0.05):
        oracle = LocalOracle(digits_target.model.predict_proba, digits_target.data.classes, defense=rounding(step))
        extracted, profile = extract_softmax(oracle, 64)
        assert profile.rounding == step
        errors.append(relative_error(extracted, digits_target.export))
    assert 1e-3 < errors[0] < errors[1]
    assert errors[1] > 0.2


def test_more_random_queries_help_under_rounding(digits_target) -> None:
    X = digits_target.data.images
    truth = digits_target.model.predict_proba(X).argmax(axis=1)
    agreement = []
    for extra in (0, 2000):
        oracle = LocalOracle(digits_target.model.predict_proba, digits_target.data.classes, defense=rounding(0.01))
        extracted, _ = extract_softmax(oracle, 64, extra_queries=extra)
        agreement.append((extracted.predict_proba(X).argmax(axis=1) == truth).mean())
    assert agreement[1] > agreement[0]


def test_surrogate_of_an_mlp_agrees_with_it() -> None:
    from attack_clients.datasets import load_digits

    data = load_digits()
    training = np.arange(len(data.labels)) % 2 == 0
    export = fit_dense_target(data.images[training], data.labels[training], 10, (8, 8), hidden=(64,), epochs=200)
    target = WhiteBoxModel(export)
    oracle = LocalOracle(target.predict_proba, data.classes)
    surrogate, info = fit_surrogate(oracle, (8, 8), queries=3000, rounds=3, basis_size=(8, 8), epochs=10)
    assert info["rows"] == oracle.stats.rows == 3000
    copy = surrogate.white_box((8, 8))
    agreement = (copy.predict_proba(data.images).argmax(1) == target.predict_proba(data.images).argmax(1)).mean()
    assert agreement > 0.8
    downloaded = WhiteBoxModel(surrogate.export((8, 8)))
    np.testing.assert_allclose(copy.predict_proba(data.images), downloaded.predict_proba(data.images), atol=1e-5)
