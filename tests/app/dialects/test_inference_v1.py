"""KServe v1 (``:predict`` with instances) against gunicorn: same answers as v2, same error format."""

from __future__ import annotations

import numpy as np
import pytest
import requests

from tests.app.dialects.conftest import IMAGE, bearer, tree_records
from tests.conftest import LiveServer


def _predict(live_server: LiveServer, key: str, model: str, body: object) -> requests.Response:
    return requests.post(f"{live_server.url}/v1/models/{model}:predict", json=body, headers=bearer(key), timeout=60)


def test_model_status(live_server: LiveServer, key: str) -> None:
    response = requests.get(f"{live_server.url}/v1/models/{IMAGE}", headers=bearer(key), timeout=30)
    assert response.status_code == 200 and response.json() == {"name": IMAGE, "ready": True}
    missing = requests.get(f"{live_server.url}/v1/models/no-such-model", headers=bearer(key), timeout=30)
    assert missing.status_code == 404 and isinstance(missing.json()["error"], str)


def test_image_instances_flat_nested_and_keyed(live_server: LiveServer, key: str, models) -> None:
    model = models[IMAGE]
    h, w = model.metadata["image_shape"]
    x = np.random.default_rng(21).random((3, h * w), dtype=np.float32)
    expected = model.predict_proba(x)
    bodies = [
        {"instances": x.tolist()},
        {"instances": x.reshape(3, h, w).tolist()},
        {"instances": [{"pixels": row} for row in x.tolist()]},
    ]
    for body in bodies:
        response = _predict(live_server, key, IMAGE, body)
        assert response.status_code == 200, response.text
        predictions = response.json()["predictions"]
        np.testing.assert_allclose([p["probabilities"] for p in predictions], expected, rtol=1e-5, atol=1e-7)
        assert [p["label"] for p in predictions] == [model.classes[i] for i in expected.argmax(axis=1)]


def test_tree_instances_keyed_and_positional(live_server: LiveServer, key: str, models, tree_name: str) -> None:
    model = models[tree_name]
    fields = [f.to_json() for f in model.fields]
    records = tree_records(fields, rows=5)
    expected = model.predict_proba(model.encode_records(records))
    positional = [[record.get(f["name"]) for f in fields] for record in records]
    keyed_with_nulls = [{f["name"]: record.get(f["name"]) for f in fields} for record in records]
    for instances in (records, positional, keyed_with_nulls):
        response = _predict(live_server, key, tree_name, {"instances": instances})
        assert response.status_code == 200, response.text
        predictions = response.json()["predictions"]
        np.testing.assert_allclose([p["probabilities"] for p in predictions], expected, rtol=1e-6)
        assert [p["label"] for p in predictions] == [model.classes[i] for i in expected.argmax(axis=1)]


@pytest.mark.parametrize(
    ("body", "word"),
    [
        ({}, "instances"),
        ({"instances": []}, "instances"),
        ({"instances": [[0.5], {"pixels": [0.5]}]}, "all lists"),
        ({"instances": [[0.5, 0.5]]}, "pixel values"),
        ({"instances": [["a"] * 4]}, "numbers"),
        ({"instances": [[0.5]], "signature": "x"}, "signature"),
        ({"instances": [{"pixels": [0.5]}]}, "pixel"),
    ],
)
def test_bad_instances_are_400(live_server: LiveServer, key: str, body: object, word: str) -> None:
    response = _predict(live_server, key, IMAGE, body)
    assert response.status_code == 400
    assert word in response.json()["error"]


def test_malformed_json_and_auth(live_server: LiveServer, key: str) -> None:
    url = f"{live_server.url}/v1/models/{IMAGE}:predict"
    malformed = requests.post(url, data=b"{nope", headers=bearer(key), timeout=30)
    assert malformed.status_code == 400 and "JSON" in malformed.json()["error"]
    unauthorised = requests.post(url, json={"instances": [[0.5]]}, timeout=30)
    assert unauthorised.status_code == 401 and isinstance(unauthorised.json()["error"], str)
