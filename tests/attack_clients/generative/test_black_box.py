"""NES in a prior's latent space, from returned confidences only, on a digits softmax.

Victims 0-4; the prior is fitted on the digits 5-9 only, as the adversary's
prior never sees a victim.
"""

from __future__ import annotations

import numpy as np
import pytest

from attack_clients.generative.black_box import NesSettings, clip_norm, run_search, search
from attack_clients.generative.pca_prior import PcaPrior
from attack_clients.oracle import LocalOracle
from tests.attack_clients.faces.conftest import Target

VICTIMS = [0, 1, 2, 3, 4]
SETTINGS = NesSettings(steps=40, pairs=6, starts=64, seed=1)


@pytest.fixture(scope="module")
def prior(digits_target: Target) -> PcaPrior:
    data = digits_target.data
    return PcaPrior.fit(data.images[data.labels >= 5], data.image_shape, latent_dim=24)


class Calls(LocalOracle):
    """A local oracle that also keeps each call's row count."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.calls: list[int] = []

    def predict_proba(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.calls.append(len(X))
        return super().predict_proba(X)


def oracle_of(target: Target) -> Calls:
    return Calls(target.model.predict_proba, target.data.classes)


def test_search_raises_each_victims_confidence_from_its_start(digits_target: Target, prior: PcaPrior) -> None:
    oracle = oracle_of(digits_target)
    outcome = run_search(oracle, prior, VICTIMS, SETTINGS)
    served = digits_target.model.predict_proba(outcome.images.astype(np.float32))
    own = served[np.arange(len(VICTIMS)), VICTIMS]
    np.testing.assert_allclose(own, outcome.confidence, rtol=1e-4)
    assert (outcome.confidence >= outcome.start_confidence).all()
    assert np.median(outcome.confidence) > 0.75 > np.median(outcome.start_confidence)
    assert (served.argmax(axis=1) == VICTIMS).all()
    np.testing.assert_allclose(outcome.images, prior.generate(outcome.latents))


def test_every_row_is_counted_and_each_step_is_one_batch(digits_target: Target, prior: PcaPrior) -> None:
    oracle = oracle_of(digits_target)
    outcome = run_search(oracle, prior, VICTIMS, SETTINGS)
    per_step = len(VICTIMS) * (1 + 2 * SETTINGS.pairs)
    assert oracle.calls == [SETTINGS.starts] + [per_step] * SETTINGS.steps
    assert outcome.rows == oracle.stats.rows == SETTINGS.starts + SETTINGS.steps * per_step


def test_seeded_and_search_returns_the_outcomes_images(digits_target: Target, prior: PcaPrior) -> None:
    first = run_search(oracle_of(digits_target), prior, VICTIMS, SETTINGS)
    again = search(oracle_of(digits_target), prior, VICTIMS, SETTINGS)
    np.testing.assert_array_equal(first.images, again)
    other = run_search(oracle_of(digits_target), prior, VICTIMS, NesSettings(steps=40, pairs=6, starts=64, seed=2))
    assert not np.allclose(first.latents, other.latents)


def test_the_prior_term_keeps_latents_likely(digits_target: Target, prior: PcaPrior) -> None:
    free = run_search(oracle_of(digits_target), prior, VICTIMS, NesSettings(steps=40, prior_weight=0.0, seed=1))
    held = run_search(oracle_of(digits_target), prior, VICTIMS, NesSettings(steps=40, prior_weight=2.0, seed=1))
    assert np.linalg.norm(held.latents, axis=1).mean() < np.linalg.norm(free.latents, axis=1).mean()


def test_clip_norm_and_settings_checks() -> None:
    z = np.array([[3.0, 4.0], [0.3, 0.4]])
    np.testing.assert_allclose(clip_norm(z, 1.0), [[0.6, 0.8], [0.3, 0.4]])
    with pytest.raises(ValueError):
        NesSettings(sigma=0)
    with pytest.raises(ValueError):
        NesSettings(pairs=0)
