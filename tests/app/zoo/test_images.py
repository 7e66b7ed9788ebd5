"""Image models: the numpy forward pass, record encoding, export."""

from __future__ import annotations

import numpy as np
import pytest

from app.zoo import InputError
from tests.app.zoo.conftest import hand_image_model


def test_forward_pass_is_sigmoid_then_softmax() -> None:
    model = hand_image_model()
    X = np.random.default_rng(1).random((7, 6), dtype=np.float32)
    hidden = 1 / (1 + np.exp(-(X @ model.layers[0].weights + model.layers[0].bias)))
    logits = hidden @ model.layers[1].weights + model.layers[1].bias
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    probabilities = model.predict_proba(X)
    np.testing.assert_allclose(probabilities, expected, rtol=1e-5)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)


def test_records_as_flat_or_square_pixels_or_per_pixel_fields() -> None:
    model = hand_image_model()
    flat = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]
    X = model.encode_records(
        [
            {"pixels": flat},
            {"pixels": [flat[:3], flat[3:]]},
            {f"pixel_{i}": v for i, v in enumerate(flat)},
        ]
    )
    assert X.dtype == np.float32
    np.testing.assert_allclose(X, np.tile(flat, (3, 1)))


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"pixels": [0.1] * 5}, "expected 6 pixel values, got 5"),
        ({"pixels": ["a"] * 6}, "must be numbers"),
        ({"pixels": [float("nan")] * 6}, "finite"),
        ({"pixels": [0.0] * 6, "extra": 1}, "unknown field 'extra'"),
        ({"pixel_0": 0.1, "pixel_9": 0.2}, "unknown field 'pixel_9'"),
        ({"pixel_0": 0.1}, "5 pixels missing, first pixel_1"),
    ],
)
def test_bad_records_are_input_errors(record, message) -> None:
    with pytest.raises(InputError, match=message):
        hand_image_model().encode_records([record])


def test_matrix_width_and_values_are_checked() -> None:
    with pytest.raises(InputError, match=r"\(n, 6\)"):
        hand_image_model().predict_proba(np.zeros((1, 5)))
    with pytest.raises(InputError, match="finite"):
        hand_image_model().predict_proba(np.full((1, 6), np.nan))


def test_export_has_layers_decoder_and_shape() -> None:
    model = hand_image_model()
    exported = model.export()
    assert exported["image_shape"] == [2, 3]
    assert [layer["activation"] for layer in exported["layers"]] == ["sigmoid", "softmax"]
    assert exported["layers"][0]["weights"].shape == (6, 4) and exported["layers"][1]["bias"].shape == (3,)
    assert exported["decoder"][0]["weights"].shape == (4, 6)
    assert model.n_features == 6 and model.fields[5].name == "pixel_5"
