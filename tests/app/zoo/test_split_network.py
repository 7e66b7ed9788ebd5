"""The split network in the zoo: the numpy convolution, serialisation, the service stage as a model."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from app.zoo import InputError
from app.zoo.images import Conv2d, ImageModel, Layer, pixel_fields
from app.zoo.serialise import read_model, write_model
from app.zoo.split_network import service_stage, service_stages
from app.zoo.split_train import conv_plan
from tests.app.zoo.conftest import hand_image_model


def small_split_model(seed: int = 0) -> ImageModel:
    """A 9x8 image through conv(2 filters, 3x3, stride 2) -> conv(4, full) = 4 features, then dense."""
    rng = np.random.default_rng(seed)
    f32 = np.float32
    conv1 = Conv2d(rng.normal(size=(2, 1, 3, 3)).astype(f32), rng.normal(size=2).astype(f32), "relu", (1, 9, 8), 2)
    conv2 = Conv2d(rng.normal(size=(4, 2, 4, 3)).astype(f32), rng.normal(size=4).astype(f32), "relu", (2, 4, 3), 1)
    hidden = Layer(rng.normal(size=(4, 5)).astype(f32), rng.normal(size=5).astype(f32), "relu")
    output = Layer(rng.normal(size=(5, 3)).astype(f32), rng.normal(size=3).astype(f32), "softmax")
    template = hand_image_model()
    X = rng.random((6, 72), dtype=f32)
    return ImageModel(
        name="toy-split-device",
        kind="image",
        classes=["a", "b", "c"],
        fields=pixel_fields(72),
        objective=template.objective,
        layers=[conv1, conv2, hidden, output],
        image_shape=(9, 8),
        heldout_X=X,
        heldout_y=np.array([0, 1, 2, 0, 1, 2]),
        split_at=2,
        metadata={"dataset": "toy", "training_rows": [], "heldout_rows": list(range(6))},
    )


def test_convolution_matches_torch() -> None:
    model = small_split_model()
    X = model.heldout_X
    conv1, conv2 = model.layers[:2]
    expected = torch.relu(torch.nn.functional.conv2d(torch.from_numpy(X).reshape(6, 1, 9, 8),
                                                     torch.from_numpy(conv1.weights), torch.from_numpy(conv1.bias),
                                                     stride=2))
    np.testing.assert_allclose(conv1(X), expected.reshape(6, -1).numpy(), rtol=1e-5, atol=1e-6)
    assert conv1.out_shape == (2, 4, 3) and conv2.out_shape == (4, 1, 1)
    assert model.feature_width == 4 and model.device_features(X).shape == (6, 4)


def test_serialisation_round_trip_keeps_the_split() -> None:
    model = small_split_model()
    buffer = io.BytesIO()
    write_model(model, buffer)
    buffer.seek(0)
    loaded = read_model(buffer)
    assert isinstance(loaded, ImageModel) and loaded.split_at == 2
    assert isinstance(loaded.layers[0], Conv2d) and loaded.layers[0].in_shape == (1, 9, 8)
    np.testing.assert_array_equal(loaded.predict_proba(model.heldout_X), model.predict_proba(model.heldout_X))
    assert loaded.export()["split_at"] == 2 and loaded.export()["layers"][0]["type"] == "convolution"


def test_service_stage_answers_the_device_features_as_the_whole_network() -> None:
    device = small_split_model()
    service = service_stage(device)
    features = device.device_features(device.heldout_X)
    assert service.name == "toy-split" and service.vector_input == "features" and service.n_features == 4
    np.testing.assert_allclose(service.predict_proba(features), device.predict_proba(device.heldout_X), rtol=1e-6)
    np.testing.assert_array_equal(service.heldout()[0], features)
    assert service.metadata["split"] == {"device_model": "toy-split-device", "features": 4, "split_at": 2}
    assert list(service_stages({"a": device, "b": hand_image_model()})) == ["toy-split"]


def test_service_stage_records_and_refusals() -> None:
    service = service_stage(small_split_model())
    rows = service.encode_records([{"features": [1, 2, 3, 4]}, {f"feature_{i}": i + 1 for i in range(4)}])
    np.testing.assert_array_equal(rows, [[1, 2, 3, 4], [1, 2, 3, 4]])
    for record, message in [
        ({"features": [1, 2, 3]}, "expected 4 feature values"),
        ({"feature_0": 1}, "3 features missing"),
        ({"pixel_0": 1}, "unknown field 'pixel_0'"),
        ({"features": [1, 2, 3, 4], "x": 1}, "unknown field 'x'"),
        ({"features": [1, 2, 3, float("nan")]}, "finite"),
    ]:
        with pytest.raises(InputError, match=message):
            service.encode_records([record])
    assert service.check_inputs(np.array([[np.inf, 0, 0, 0]])) is not None
    assert service.check_inputs(np.array([[-5.0, 0, 0, 1e6]])) is None  # features are unbounded


@pytest.mark.parametrize(("shape", "strides"), [((112, 92), [4, 4, 1]), ((64, 64), [4, 4, 1]), ((8, 8), [1, 2, 1])])
def test_the_device_stage_ends_at_one_by_one(shape: tuple[int, int], strides: list[int]) -> None:
    plan = conv_plan(shape, 3)
    assert [stride for _, _, stride in plan] == strides
    h, w = shape
    for kh, kw, stride in plan:
        h, w = (h - kh) // stride + 1, (w - kw) // stride + 1
    assert (h, w) == (1, 1)
