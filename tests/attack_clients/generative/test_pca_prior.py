"""The eigenface prior: the FacePrior interface, its subspace and its likelihood."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from attack_clients.datasets import load_digits
from attack_clients.generative.pca_prior import PcaPrior, train_prior


@pytest.fixture(scope="module")
def others() -> np.ndarray:
    """Digits 5-9: the auxiliary 'people' of victims 0-4."""
    data = load_digits()
    return data.images[data.labels >= 5]


def test_generate_is_the_mean_plus_scaled_components_in_range(others: np.ndarray) -> None:
    prior = PcaPrior.fit(others, (8, 8), latent_dim=10)
    assert prior.latent_dim == 10 and prior.image_shape == (8, 8)
    np.testing.assert_allclose(prior.generate(np.zeros((1, 10)))[0], others.mean(axis=0), atol=1e-6)
    images = prior.generate(prior.sample_latents(50, np.random.default_rng(0)))
    assert images.shape == (50, 64) and images.dtype == np.float64
    assert images.min() >= 0 and images.max() <= 1
    # Whitened latents: the auxiliary images' codes have unit variance along each component.
    np.testing.assert_allclose(prior.encode(others).std(axis=0, ddof=1), 1.0, rtol=1e-4)


def test_full_rank_reconstructs_its_own_images_and_caps_the_dimension(others: np.ndarray) -> None:
    few = others[:20]
    prior = PcaPrior.fit(few, (8, 8), latent_dim=500)
    assert prior.latent_dim == 19  # the rank of 20 centred images
    np.testing.assert_allclose(prior.generate(prior.encode(few)), few, atol=1e-5)
    with pytest.raises(ValueError):
        PcaPrior.fit(few[:1], (8, 8))


def test_modules_agree_with_generate_and_the_discriminator_prefers_digits(others: np.ndarray) -> None:
    prior = train_prior(others[:-50], (8, 8), "reduced")
    z = prior.sample_latents(8, np.random.default_rng(1))
    with torch.no_grad():
        from_module = prior.generator_module()(torch.as_tensor(z, dtype=torch.float32)).numpy()
        realness = prior.discriminator_module()
        held_out = others[-50:]
        noise = np.random.default_rng(2).random((50, 64))
        score_digits = realness(torch.as_tensor(held_out, dtype=torch.float32)).numpy()
        score_noise = realness(torch.as_tensor(noise, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(from_module, prior.generate(z), atol=1e-5)
    assert score_digits.min() > score_noise.max()
