"""Laplace noise on a split network's features (Titcombe et al. 2021), added on the device."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from defenses.device_noise import laplace_features


def test_noise_is_laplace_with_scale_b() -> None:
    features = np.full((4000, 32), 3.0, dtype=np.float32)
    noise = (laplace_features(features, 0.5, seed=1) - features).ravel()
    assert abs(np.mean(noise)) < 0.01
    assert np.mean(np.abs(noise)) == pytest.approx(0.5, rel=0.02)  # E|X| = b for Laplace(0, b)
    assert stats.kstest(noise, stats.laplace(scale=0.5).cdf).pvalue > 0.001
    assert stats.kstest(noise, stats.norm(scale=0.5 * np.sqrt(2)).cdf).pvalue < 1e-6  # same variance, not Gaussian


def test_zero_scale_changes_nothing_and_output_is_float32() -> None:
    features = np.random.default_rng(0).random((5, 8))
    out = laplace_features(features, 0.0, seed=3)
    assert out.dtype == np.float32 and np.array_equal(out, features.astype(np.float32))
    assert laplace_features(features, 2.0, seed=3).dtype == np.float32


def test_seeded_calls_reproduce_and_fresh_ones_differ() -> None:
    features = np.zeros((3, 16), dtype=np.float32)
    assert np.array_equal(laplace_features(features, 1.0, seed=7), laplace_features(features, 1.0, seed=7))
    assert not np.array_equal(laplace_features(features, 1.0, seed=7), laplace_features(features, 1.0, seed=8))
    assert not np.array_equal(laplace_features(features, 1.0), laplace_features(features, 1.0))


def test_each_row_is_noised_on_its_own() -> None:
    """Row i's noise depends on the seed and i, not on the other rows' values or on later rows."""
    rng = np.random.default_rng(0)
    a, b = rng.random((6, 10)), rng.random((6, 10))
    b[0] = a[0]
    noise_a = laplace_features(a, 1.0, seed=5) - a.astype(np.float32)
    noise_b = laplace_features(b, 1.0, seed=5) - b.astype(np.float32)
    assert np.allclose(noise_a, noise_b, atol=1e-5)
    first_two = laplace_features(a[:2], 1.0, seed=5) - a[:2].astype(np.float32)
    assert np.allclose(first_two, noise_a[:2], atol=1e-5)
    assert not np.allclose(noise_a[0], noise_a[1])


@pytest.mark.parametrize("scale", [-0.1, float("nan"), float("inf"), True, "1"])
def test_bad_scales_are_refused(scale) -> None:
    with pytest.raises(ValueError, match="scale b"):
        laplace_features(np.zeros((1, 2)), scale)


def test_bad_features_are_refused() -> None:
    with pytest.raises(ValueError, match="2-D"):
        laplace_features(np.zeros(3), 1.0)
    with pytest.raises(ValueError, match="finite"):
        laplace_features(np.array([[np.nan, 0.0]]), 1.0)
