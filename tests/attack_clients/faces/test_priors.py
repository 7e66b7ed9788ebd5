"""Image priors: each does what it says on a small array, and with none on the descent is Algorithm 1's."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.fft import dctn

from attack_clients.attacks import ATTACKS, Target
from attack_clients.cli import main
from attack_clients.faces.gradients import DctBasis
from attack_clients.faces.inversion import invert_black_box, invert_white_box
from attack_clients.faces.mi_face import MIFaceParams
from attack_clients.faces.priors import (
    ImagePrior,
    PriorSettings,
    clip_contrast,
    gaussian_blur,
    image_prior,
    lowpass,
    parse_priors,
    total_variation,
)
from attack_clients.oracle import LocalOracle

SHAPE = (12, 10)


@pytest.fixture
def images() -> torch.Tensor:
    return torch.as_tensor(np.random.default_rng(0).random((3, SHAPE[0] * SHAPE[1])))


def test_tv_gradient_matches_finite_differences(images: torch.Tensor) -> None:
    stack = images.reshape(-1, *SHAPE)
    _, grad = total_variation(stack)
    h = 1e-6
    for index in [(0, 0, 0), (1, 5, 4), (2, 11, 9), (0, 11, 0), (2, 0, 9)]:
        up, down = stack.clone(), stack.clone()
        up[index] += h
        down[index] -= h
        numeric = (total_variation(up)[0] - total_variation(down)[0])[index[0]] / (2 * h)
        assert float(grad[index]) == pytest.approx(float(numeric), rel=1e-5, abs=1e-7)


def test_tv_is_smallest_on_a_flat_image_and_its_gradient_points_uphill(images: torch.Tensor) -> None:
    stack = images.reshape(-1, *SHAPE)
    tv, grad = total_variation(stack)
    flat, _ = total_variation(torch.full_like(stack, 0.5))
    assert bool((tv > flat).all())
    assert bool((total_variation(stack - 0.01 * grad)[0] < tv).all())


@pytest.mark.parametrize("k", [1, 3, 6])
def test_lowpass_leaves_exactly_the_lowest_k_by_k_coefficients(images: torch.Tensor, k: int) -> None:
    out = lowpass(images.float(), DctBasis(SHAPE, (k, k))).double().numpy().reshape(-1, *SHAPE)
    before = dctn(images.numpy().reshape(-1, *SHAPE), axes=(1, 2), norm="ortho")
    after = dctn(out, axes=(1, 2), norm="ortho")
    kept = np.zeros(SHAPE, dtype=bool)
    kept[:k, :k] = True
    assert np.abs(after[:, ~kept]).max() < 1e-5
    np.testing.assert_allclose(after[:, kept], before[:, kept], atol=1e-5)
    assert np.abs(before[:, ~kept]).max() > 0.1  # there was something to remove


def test_blur_preserves_each_images_mean_and_smooths(images: torch.Tensor) -> None:
    out = gaussian_blur(images, SHAPE, sigma=1.5)
    np.testing.assert_allclose(out.mean(dim=1).numpy(), images.mean(dim=1).numpy(), rtol=1e-10)
    assert bool((total_variation(out.reshape(-1, *SHAPE))[0] < total_variation(images.reshape(-1, *SHAPE))[0]).all())


def test_contrast_clip_bounds_each_image_to_its_percentiles(images: torch.Tensor) -> None:
    images = images.clone()
    images[0, 0], images[1, 1] = 5.0, -5.0  # outliers
    out = clip_contrast(images, 5, 95)
    for row, clipped in zip(images.numpy(), out.numpy(), strict=True):
        low, high = np.percentile(row, [5, 95])
        assert clipped.min() == pytest.approx(low) and clipped.max() == pytest.approx(high)
        inside = (row >= low) & (row <= high)
        np.testing.assert_array_equal(clipped[inside], row[inside])


def test_settings_check_names_and_ranges() -> None:
    assert parse_priors("tv, lowpass,") == ("tv", "lowpass")
    with pytest.raises(ValueError, match="unknown image prior"):
        parse_priors("tv,sharpen")
    with pytest.raises(ValueError, match="percentiles"):
        PriorSettings(("contrast",), contrast=(90.0, 10.0))
    assert image_prior(PriorSettings(tv_weight=1.0), SHAPE) is None
    with pytest.raises(ValueError, match="unknown image prior"):
        ATTACKS["mi-face-wb-prior"].tuned(prior=("tv", "sharpen"))
    with pytest.raises(ValueError, match="percentiles"):
        ATTACKS["mi-face-bb"].tuned(contrast=(1.0, 50.0, 99.0))


def test_projection_applies_blur_only_every_n_steps(images: torch.Tensor) -> None:
    prior = ImagePrior(PriorSettings(("blur",), blur_every=3), SHAPE)
    assert prior.project(images, 2) is images
    assert not torch.equal(prior.project(images, 3), images)


def test_with_no_prior_white_box_is_algorithm_1_bit_for_bit(digits_target) -> None:
    params = MIFaceParams(alpha=60)
    plain_images, plain = invert_white_box(digits_target.export, [0, 4, 7], params)
    images, result = invert_white_box(digits_target.export, [0, 4, 7], params, prior=PriorSettings(tv_weight=1.0))
    np.testing.assert_array_equal(images, plain_images)
    np.testing.assert_array_equal(result.log_confidence, plain.log_confidence)
    np.testing.assert_array_equal(result.iterations, plain.iterations)


def test_with_no_prior_black_box_is_algorithm_1_bit_for_bit(digits_target) -> None:
    oracle = LocalOracle(digits_target.model.predict_proba, digits_target.data.classes)
    params = MIFaceParams(alpha=10, lam=1.0)
    plain, _ = invert_black_box(oracle, [1, 2], (8, 8), params)
    images, _ = invert_black_box(oracle, [1, 2], (8, 8), params, prior=PriorSettings())
    np.testing.assert_array_equal(images, plain)


def test_priors_make_smoother_reconstructions_that_still_reach_the_label(digits_target) -> None:
    labels = list(range(10))
    params = MIFaceParams(alpha=300, gamma=0.999)
    plain, _ = invert_white_box(digits_target.export, labels, params)
    prior = PriorSettings(("tv", "lowpass"), tv_weight=0.02, lowpass=5)
    smooth, result = invert_white_box(digits_target.export, labels, params, prior=prior)
    tv_plain = total_variation(torch.as_tensor(plain).reshape(-1, 8, 8))[0]
    tv_smooth = total_variation(torch.as_tensor(smooth).reshape(-1, 8, 8))[0]
    assert float(tv_smooth.mean()) < 0.8 * float(tv_plain.mean())
    assert (digits_target.model.predict_proba(smooth).argmax(axis=1) == labels).mean() >= 0.9
    assert np.isfinite(result.log_confidence).all()


def test_priors_refuse_a_search_in_dae_codes() -> None:
    rng = np.random.default_rng(0)

    def layer(n_in: int, n_out: int, activation: str) -> dict:
        return {"weights": rng.normal(0, 0.5, (n_in, n_out)), "bias": np.zeros(n_out), "activation": activation}

    export = {
        "layers": [layer(64, 16, "sigmoid"), layer(16, 3, "softmax")],
        "decoder": [layer(16, 64, "sigmoid")],
        "encoder_depth": 1,
        "image_shape": [8, 8],
    }
    with pytest.raises(ValueError, match="code space"):
        invert_white_box(export, [0], MIFaceParams(alpha=2), prior=PriorSettings(("tv",)))


def test_mi_face_prior_flags_reach_results_json(tmp_path: Path, digits_target, monkeypatch) -> None:
    from tests.attack_clients.faces.test_cli_faces import FakeClient

    monkeypatch.delenv("MLAAS_DATA_DIR", raising=False)
    monkeypatch.setattr(Target, "connect", lambda self, dialect=None: FakeClient(digits_target))
    common = ["--url", "http://x", "--key", "k", "--model", "m", "--out", str(tmp_path), "--quiet", "--no-eval"]
    argv = ["mi-face", *common, "--white-box", "--iterations", "30", "--prior", "tv,blur", "--blur-every", "7"]
    assert main(argv) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["priors"] == {"tv": {"tv_weight": 0.001}, "blur": {"blur_every": 7, "blur_sigma": 1.0}}
    assert main(["mi-face", *common, "--iterations", "3"]) == 0
    assert json.loads((tmp_path / "results.json").read_text())["priors"] == {}
