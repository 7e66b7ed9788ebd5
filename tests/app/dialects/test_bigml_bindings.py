"""BigML's official Python bindings, unmodified, against gunicorn: remote and local predictions agree."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests
from bigml.api import BigML
from bigml.domain import Domain
from bigml.model import Model

from tests.app.dialects.bigml_helpers import CSV, builtin_id
from tests.app.dialects.conftest import IMAGE, User, tree_records
from tests.conftest import LiveServer


@pytest.fixture()
def api(live_server: LiveServer, user: User, tmp_path: Path) -> BigML:
    host = live_server.url.removeprefix("http://")
    domain = Domain(domain=host, protocol="http", prediction_domain=host, prediction_protocol="http")
    return BigML(user.name, user.key, domain=domain, storage=str(tmp_path / "storage"))


def remote(live_server: LiveServer, user: User, resource: str, input_data: dict[str, Any]) -> dict[str, Any]:
    """A prediction sent with plain requests, to compare the bindings' view with."""
    response = requests.post(f"{live_server.url}/prediction", params={"username": user.name, "api_key": user.key},
                             json={resource.split("/")[0]: resource, "input_data": input_data}, timeout=60)
    assert response.status_code == 201, response.text
    return response.json()


def test_list_models_shows_builtins(api: BigML, models, tree_name: str) -> None:
    listing = api.list_models("limit=100")
    assert listing["code"] == 200 and listing["error"] is None
    resources = {entry["resource"]: entry["name"] for entry in listing["objects"]}
    assert resources[f"model/{builtin_id(tree_name)}"] == tree_name
    assert resources[f"deepnet/{builtin_id(IMAGE)}"] == IMAGE
    assert listing["meta"]["total_count"] == len(models)


def test_remote_and_local_tree_predictions_agree(api: BigML, live_server: LiveServer, user: User, models,
                                                 tree_name: str) -> None:
    model = models[tree_name]
    resource = f"model/{builtin_id(tree_name)}"
    records = tree_records([f.to_json() for f in model.fields], rows=30)
    local = Model(resource, api=api)
    expected = model.predict_proba(model.encode_records(records))
    for record, probabilities in zip(records, expected, strict=True):
        prediction = api.create_prediction(resource, record)
        assert prediction["code"] == 201 and prediction["error"] is None, prediction
        answer = prediction["object"]
        assert answer["output"] == model.classes[int(probabilities.argmax())]
        assert answer["output"] == remote(live_server, user, resource, record)["output"]
        assert answer["prediction"] == {answer["objective_field"]: answer["output"]}
        mine = local.predict(record, full=True)
        assert mine["prediction"] == answer["output"], record
        # the bindings print != as /= (an accident of their operator table)
        assert [rule.replace(" /= ", " != ") for rule in mine["path"]] == answer["prediction_path"]["path"]
        np.testing.assert_allclose([p for _, p in answer["probabilities"]], probabilities, rtol=1e-12)


def test_upload_flow_with_the_bindings(api: BigML, tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text(CSV)
    source = api.create_source(str(path), {"name": "people"})
    assert source["code"] == 201 and api.ok(source), source
    dataset = api.create_dataset(source)
    assert dataset["code"] == 201 and api.ok(dataset), dataset
    model = api.create_model(dataset, {"objective_field": "label"})
    assert model["code"] == 201 and api.ok(model), model
    assert model["object"]["status"]["code"] == 5
    local = Model(model["resource"], api=api)
    for age in range(20, 60, 4):
        for colour in ("red", "green", "blue"):
            record = {"age": age, "colour": colour, "hours": (age * 3) % 50 + 10}
            prediction = api.create_prediction(model, record)
            assert prediction["code"] == 201, prediction
            assert prediction["object"]["output"] == local.predict(record, full=True)["prediction"]
    assert any(entry["resource"] == model["resource"] for entry in api.list_models("limit=1000")["objects"])
    assert api.delete_model(model)["code"] == 204


def test_deepnet_prediction_with_the_bindings(api: BigML, live_server: LiveServer, user: User, models) -> None:
    model = models[IMAGE]
    pixels = np.random.default_rng(5).random(model.n_features).round(3)
    input_data = {f.name: float(v) for f, v in zip(model.fields, pixels, strict=True)}
    prediction = api.create_prediction(f"deepnet/{builtin_id(IMAGE)}", input_data)
    assert prediction["code"] == 201, prediction
    expected = model.predict_proba(pixels[None, :].astype(np.float32))[0]
    assert prediction["object"]["output"] == model.classes[int(expected.argmax())]
    np.testing.assert_allclose([p for _, p in prediction["object"]["probabilities"]], expected, rtol=1e-5)


def test_download_switch_stops_local_models_only(api: BigML, live_server: LiveServer, tree_name: str,
                                                caplog: pytest.LogCaptureFixture) -> None:
    resource = f"model/{builtin_id(tree_name)}"
    switch = f"/admin/models/{tree_name}/download"
    assert live_server.admin("PUT", switch, json={"downloadable": False}).status_code == 200
    try:
        raw = requests.get(f"{live_server.url}/andromeda/{resource}", params={"username": api.username,
                                                                             "api_key": api.api_key}, timeout=60)
        assert raw.status_code == 403 and raw.json()["status"]["message"]
        assert api.create_prediction(resource, {})["code"] == 201
        with caplog.at_level(logging.CRITICAL, logger="BigML"), pytest.raises(Exception, match="model"):
            Model(resource, api=api)
    finally:
        assert live_server.admin("PUT", switch, json={"downloadable": True}).status_code == 200
