"""BREP-MI in a prior's latent space, from labels only, on a digits softmax."""

from __future__ import annotations

import numpy as np
import pytest

from attack_clients.generative.label_only import BrepSettings, run_search, search
from attack_clients.generative.pca_prior import PcaPrior
from attack_clients.oracle import LocalOracle
from tests.attack_clients.faces.conftest import Target

VICTIMS = [0, 1, 2, 3, 4]
SETTINGS = BrepSettings(steps=30, points=16, starts=256, seed=1)


@pytest.fixture(scope="module")
def prior(digits_target: Target) -> PcaPrior:
    data = digits_target.data
    return PcaPrior.fit(data.images[data.labels >= 5], data.image_shape, latent_dim=24)


def one_hot(probabilities: np.ndarray) -> np.ndarray:
    """A label-only API: the confidences say nothing but the label."""
    return np.eye(probabilities.shape[1])[probabilities.argmax(axis=1)]


def test_reconstructions_stay_labelled_as_their_victims_and_move_off_the_boundary(
    digits_target: Target, prior: PcaPrior
) -> None:
    oracle = LocalOracle(digits_target.model.predict_proba, digits_target.data.classes, one_hot)
    outcome = run_search(oracle, prior, VICTIMS, SETTINGS)
    assert outcome.started.all()
    labels = digits_target.model.predict_proba(outcome.images.astype(np.float32)).argmax(axis=1)
    assert (labels == VICTIMS).all()
    assert (outcome.radius > SETTINGS.radius).sum() >= 3  # most spheres grew: deeper inside the class
    assert outcome.rows == oracle.stats.rows
    np.testing.assert_allclose(outcome.images, prior.generate(outcome.latents))


def test_only_labels_are_read(digits_target: Target, prior: PcaPrior) -> None:
    """The same search behind full confidences and behind one-hot answers is the same search."""
    model, classes = digits_target.model, digits_target.data.classes
    labels_only = search(LocalOracle(model.predict_proba, classes, one_hot), prior, VICTIMS, SETTINGS)
    confidences = search(LocalOracle(model.predict_proba, classes), prior, VICTIMS, SETTINGS)
    np.testing.assert_array_equal(labels_only, confidences)


def test_a_victim_no_sample_reaches_is_reported_unstarted(digits_target: Target, prior: PcaPrior) -> None:
    def never_nine(X: np.ndarray) -> np.ndarray:
        probabilities = digits_target.model.predict_proba(X)
        probabilities[:, 9] = 0
        return probabilities

    common = np.bincount(never_nine(prior.generate(prior.sample_latents(64, np.random.default_rng(1)))).argmax(1))
    oracle = LocalOracle(never_nine, digits_target.data.classes)
    settings = BrepSettings(steps=5, points=8, starts=64, start_rounds=2, seed=1)
    outcome = run_search(oracle, prior, [9, int(common.argmax())], settings)
    assert outcome.started.tolist() == [False, True]
    np.testing.assert_allclose(outcome.latents[0], 0.0)
    assert outcome.rows == oracle.stats.rows == 2 * 64 + 5 * (1 + 8)


def test_settings_checks() -> None:
    with pytest.raises(ValueError):
        BrepSettings(growth=1.0)
    with pytest.raises(ValueError):
        BrepSettings(radius=20.0, max_radius=10.0)
