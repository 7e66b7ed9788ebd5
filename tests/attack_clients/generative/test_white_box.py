"""GMI's latent search on a local white-box target: it finds faces (here digits) the target assigns to each label."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from attack_clients.generative.folds import prior_folds
from attack_clients.generative.prior import prior_for
from attack_clients.generative.white_box import GmiSettings, gmi_search


@pytest.fixture(scope="module")
def digits_prior(prior_cache: Path):
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("MLAAS_DATA_DIR", raising=False)
        fold = prior_folds(10)[0]
        return fold, prior_for(fold.victims, (8, 8), prior_cache, size="reduced")


def test_search_raises_the_targets_confidence_over_the_prior_samples(digits_target, digits_prior) -> None:
    fold, prior = digits_prior
    labels = fold.victims.tolist()
    logits = digits_target.model.full[:-1]
    outcome = gmi_search(prior, logits, labels, GmiSettings(steps=60, starts=3), seed=1)
    assert outcome.images.shape == (len(labels), 64)
    assert outcome.images.min() >= 0 and outcome.images.max() <= 1
    served = digits_target.model.predict_proba(outcome.images)[np.arange(len(labels)), labels]
    np.testing.assert_allclose(served, outcome.confidence, rtol=1e-4)
    samples = prior.generate(prior.sample_latents(200, np.random.default_rng(0)))
    before = digits_target.model.predict_proba(samples)[:, labels].mean(axis=0)
    assert (outcome.confidence > before).all()
    assert np.abs(outcome.latents).max() <= GmiSettings().clip


def test_best_start_is_the_most_confident_and_seeded(digits_target, digits_prior) -> None:
    _, prior = digits_prior
    logits = digits_target.model.full[:-1]
    settings = GmiSettings(steps=5, starts=4)
    one = gmi_search(prior, logits, [2, 3], settings, seed=7)
    two = gmi_search(prior, logits, [2, 3], settings, seed=7)
    np.testing.assert_array_equal(one.images, two.images)
    single = [gmi_search(prior, logits, [2], GmiSettings(steps=5, starts=1), seed=s).confidence[0] for s in range(3)]
    assert len(set(single)) == 3  # starts differ, so choosing among them means something
