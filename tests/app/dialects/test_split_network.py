"""The split network through the dialects: features in on v2 (and wherever a dialect can carry them),
features out of the device stage, the device stage's download, the operator's feature log."""

from __future__ import annotations

import json

import numpy as np
import orjson
import pytest
import torch
from flask import Flask
from flask.testing import FlaskClient

from app.zoo.base import ServedModel
from attack_clients.clients.bigml import parse_deepnet
from attack_clients.faces.network import device_stage
from tests.app.dialects.bigml_helpers import BigMLUser, builtin_id, new_user

DEVICE, SERVICE = "faces-split-device", "faces-split"


@pytest.fixture()
def alice(client: FlaskClient, admin_headers: dict[str, str]) -> BigMLUser:
    return new_user(client, admin_headers)


@pytest.fixture(scope="session")
def device(app: Flask) -> ServedModel:
    return app.extensions["mlaas"].registry.builtins[DEVICE]


@pytest.fixture(scope="session")
def service(app: Flask) -> ServedModel:
    return app.extensions["mlaas"].registry.builtins[SERVICE]


def bearer(user: BigMLUser) -> dict[str, str]:
    return {"Authorization": f"Bearer {user.key}"}


def infer(client: FlaskClient, user: BigMLUser, model: str, name: str, X: np.ndarray, **extra) -> dict:
    body = {"inputs": [{"name": name, "datatype": "FP32", "shape": list(X.shape), "data": X.ravel().tolist()}], **extra}
    response = client.post(f"/v2/models/{model}/infer", json=body, headers=bearer(user))
    assert response.status_code == 200, response.get_json()
    return {o["name"]: np.asarray(o["data"]).reshape(o["shape"]) for o in response.get_json()["outputs"]}


def test_metadata_names_the_features(client: FlaskClient, alice: BigMLUser, device, service) -> None:
    d = device.feature_width
    meta = client.get(f"/v2/models/{SERVICE}", headers=bearer(alice)).get_json()
    assert meta["inputs"] == [{"name": "features", "datatype": "FP32", "shape": [-1, d]}]
    assert [o["name"] for o in meta["outputs"]] == ["probabilities", "label"]
    assert meta["parameters"]["kind"] == "features"
    assert meta["parameters"]["split"]["device_model"] == DEVICE
    assert meta["parameters"]["image_shape"] == list(device.image_shape)
    assert meta["parameters"]["heldout_rows"] == device.metadata["heldout_rows"]
    device_meta = client.get(f"/v2/models/{DEVICE}", headers=bearer(alice)).get_json()
    assert device_meta["outputs"][0] == {"name": "features", "datatype": "FP32", "shape": [-1, d]}


def test_device_features_answered_by_the_service_stage(client: FlaskClient, alice: BigMLUser, device) -> None:
    X = device.heldout()[0][:4]
    whole = infer(client, alice, DEVICE, "pixels", X)
    assert list(whole) == ["features", "probabilities", "label"]
    np.testing.assert_allclose(whole["features"], device.device_features(X), rtol=1e-6)
    split = infer(client, alice, SERVICE, "features", whole["features"].astype(np.float32))
    np.testing.assert_allclose(split["probabilities"], whole["probabilities"], rtol=1e-4, atol=1e-7)
    assert split["label"].tolist() == whole["label"].tolist()
    only = infer(client, alice, DEVICE, "pixels", X, outputs=[{"name": "label"}])
    assert list(only) == ["label"]


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ([{"name": "features", "datatype": "FP32", "shape": [1, 3], "data": [1, 2, 3]}], "must have shape [n, "),
        ([{"name": "features", "datatype": "FP32", "shape": [2], "data": [1, 2]}], "must have shape [n, "),
        ([{"name": "pixels", "datatype": "FP32", "shape": [1, 1], "data": [1]}], "unknown input 'pixels'"),
        ([{"name": "features", "datatype": "BYTES", "shape": [1, 1], "data": ["1"]}], "must be FP16, FP32, FP64"),
        ([{"name": "features", "datatype": "INT32", "shape": [1, 1], "data": [1]}], "must be FP16, FP32, FP64"),
    ],
)
def test_bad_feature_tensors_are_400s(client: FlaskClient, alice: BigMLUser, inputs, message) -> None:
    response = client.post(f"/v2/models/{SERVICE}/infer", json={"inputs": inputs}, headers=bearer(alice))
    assert response.status_code == 400 and message in response.get_json()["error"], response.get_json()


def test_nan_features_and_unknown_outputs_are_400s(client: FlaskClient, alice: BigMLUser, device) -> None:
    d = device.feature_width
    nan = {"inputs": [{"name": "features", "datatype": "FP32", "shape": [1, d], "data": [float("nan")] * d}]}
    response = client.post(f"/v2/models/{SERVICE}/infer", data=json.dumps(nan),
                           headers={**bearer(alice), "Content-Type": "application/json"})
    assert response.status_code == 400 and "finite" in response.get_json()["error"]
    body = {**nan, "inputs": [{**nan["inputs"][0], "data": [0.5] * d}], "outputs": [{"name": "features"}]}
    response = client.post(f"/v2/models/{SERVICE}/infer", json=body, headers=bearer(alice))
    assert response.status_code == 400 and "unknown output 'features'" in response.get_json()["error"]


def test_other_dialects_carry_the_features(client: FlaskClient, alice: BigMLUser, device, service) -> None:
    features = device.device_features(device.heldout()[0][:2])
    expected = service.predict_proba(features)
    v1 = client.post(f"/v1/models/{SERVICE}:predict", json={"instances": features.tolist()}, headers=bearer(alice))
    assert v1.status_code == 200
    np.testing.assert_allclose([p["probabilities"] for p in v1.get_json()["predictions"]], expected, rtol=1e-4,
                               atol=1e-7)
    columns = [f"feature_{i}" for i in range(features.shape[1])]
    azure = client.post("/score", json={"input_data": {"columns": columns, "data": features.tolist()}},
                        headers={**bearer(alice), "azureml-model-deployment": SERVICE})
    assert azure.status_code == 200, azure.get_json()
    record = dict(zip(columns, features[0].tolist(), strict=True))
    bigml = client.post(f"/prediction?{alice.query}",
                        json={"deepnet": f"deepnet/{builtin_id(SERVICE)}", "input_data": record})
    assert bigml.status_code == 201, bigml.get_json()
    np.testing.assert_allclose([p for _, p in bigml.get_json()["probabilities"]], expected[0], rtol=1e-4, atol=1e-7)


def test_device_stage_download_runs_on_the_client(client: FlaskClient, alice: BigMLUser, device) -> None:
    """The deepnet JSON carries the convolutions; the attack client's torch reader computes the same features."""
    response = client.get(f"/andromeda/deepnet/{builtin_id(DEVICE)}?{alice.query}")
    assert response.status_code == 200
    export = parse_deepnet(orjson.loads(response.get_data()))
    assert export["split_at"] == device.split_at and export["layers"][0]["type"] == "convolution"
    X = device.heldout()[0][:5]
    with torch.no_grad():
        local = device_stage(export)(torch.tensor(X, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(local, device.device_features(X), rtol=1e-4, atol=1e-4)


def test_feature_log_is_for_the_operator_only(client: FlaskClient, alice: BigMLUser, admin_headers, device) -> None:
    features = device.device_features(device.heldout()[0][:3]).astype(np.float32)
    infer(client, alice, SERVICE, "features", features)
    url = f"/admin/models/{SERVICE}/features"
    assert client.get(url, headers=bearer(alice)).status_code == 403
    assert client.get(url).status_code == 401
    logged = client.get(f"{url}?username={alice.name}", headers=admin_headers).get_json()
    assert logged["model"] == SERVICE and len(logged["queries"]) == 1
    assert logged["queries"][0]["username"] == alice.name
    np.testing.assert_array_equal(np.asarray(logged["queries"][0]["features"], dtype=np.float32), features)
    assert client.get(f"/admin/models/{DEVICE}/features", headers=admin_headers).status_code == 400
    assert client.get(f"{url}?limit=x", headers=admin_headers).status_code == 400
