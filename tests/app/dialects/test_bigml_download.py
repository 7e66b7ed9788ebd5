"""BigML white-box downloads, in-process: tree JSON, deepnet layers, the download switch, defended numbers."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import orjson
import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.dialects import bigml_resources
from app.zoo.base import Field, ServedModel
from app.zoo.images import ImageModel, Layer, pixel_fields
from tests.app.dialects.bigml_helpers import BigMLUser, assert_bigml_error, builtin_id, new_user


@pytest.fixture()
def alice(client: FlaskClient, admin_headers: dict[str, str]) -> BigMLUser:
    return new_user(client, admin_headers)


@pytest.fixture(scope="session")
def builtins(app: Flask) -> dict[str, ServedModel]:
    return app.extensions["mlaas"].registry.builtins


@pytest.fixture(scope="session")
def tree(builtins: dict[str, ServedModel]) -> ServedModel:
    return next(m for m in builtins.values() if m.kind == "tree")


@pytest.fixture()
def switched_off(client: FlaskClient, admin_headers: dict[str, str], tree: ServedModel) -> Iterator[ServedModel]:
    """The tree with its download switched off for the test's duration (the app is shared)."""
    url = f"/admin/models/{tree.name}/download"
    assert client.put(url, json={"downloadable": False}, headers=admin_headers).status_code == 200
    try:
        yield tree
    finally:
        assert client.put(url, json={"downloadable": True}, headers=admin_headers).status_code == 200


def wilson(share: float, n: float, z: float = 1.96) -> float:
    f = z * z / n
    return (share + f / 2 - z * math.sqrt((share * (1 - share) + f / 4) / n)) / (1 + f)


def walk(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node["children"]:
        yield from walk(child)


def test_tree_json_has_bigml_shape_and_counts(client: FlaskClient, alice: BigMLUser, tree: ServedModel) -> None:
    response = client.get(f"/andromeda/model/{builtin_id(tree.name)}?{alice.query}")
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["resource"] == f"model/{builtin_id(tree.name)}" and body["name"] == tree.name
    assert body["status"] == {"code": 5, "message": "The model has been created", "progress": 1, "elapsed": 0}
    fields = body["model"]["fields"]
    assert [fields[i]["name"] for i in body["input_fields"]] == [f.name for f in tree.fields]
    assert body["objective_fields"] == [body["objective_field"]]
    assert fields[body["objective_field"]]["name"] == tree.objective.name
    root = body["model"]["root"]
    assert root["predicate"] is True
    training = dict(map(tuple, body["model"]["distribution"]["training"]["categories"]))
    assert training == {c: n for c, n in root["objective_summary"]["categories"]}
    nodes = list(walk(root))
    assert [n["id"] for n in nodes] == list(range(len(nodes)))
    assert len(nodes) > 1
    export_counts = [n["counts"] for n in _export_nodes(tree.export()["root"])]
    for node, counts in zip(nodes, export_counts, strict=True):
        categories = dict(node["objective_summary"]["categories"])
        assert categories == {c: n for c, n in zip(tree.classes, counts, strict=True) if n}
        assert node["count"] == sum(counts)
        best = int(np.argmax(counts))
        assert node["output"] == tree.classes[best]
        assert node["confidence"] == pytest.approx(wilson(counts[best] / sum(counts), sum(counts)), abs=1e-12)
        for child in node["children"]:
            assert child["predicate"]["field"] in body["input_fields"]
            assert child["predicate"]["operator"] in ("=", "!=", "<=", ">")


def _export_nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node["children"]:
        yield from _export_nodes(child)


def test_exclude_optype_and_light_reads(client: FlaskClient, alice: BigMLUser, tree: ServedModel) -> None:
    url = f"/andromeda/model/{builtin_id(tree.name)}?{alice.query}"
    without = client.get(f"{url}&exclude=root,input_fields").get_json()
    assert "root" not in without["model"] and "input_fields" not in without
    assert without["model"]["fields"]
    numeric = client.get(f"{url}&optype=numeric").get_json()["model"]["fields"]
    assert all(f["optype"] == "numeric" for f in numeric.values())
    assert len(numeric) == sum(f.optype == "numeric" for f in tree.fields)
    light = client.get(f"{url}&full=false").get_json()
    assert light["status"]["code"] == 5 and "root" not in light["model"] and "fields" not in light["model"]


def test_download_switch_off_is_403_but_predictions_work(
    client: FlaskClient, alice: BigMLUser, switched_off: ServedModel
) -> None:
    ident = builtin_id(switched_off.name)
    assert_bigml_error(client.get(f"/andromeda/model/{ident}?{alice.query}"), 403, -1100, switched_off.name)
    status = client.get(f"/andromeda/model/{ident}?{alice.query}&exclude=root").get_json()
    assert status["status"]["code"] == 5 and "root" not in status["model"]
    answer = client.post(f"/prediction?{alice.query}", json={"model": f"model/{ident}", "input_data": {}})
    assert answer.status_code == 201, answer.get_json()
    assert answer.get_json()["prediction_path"]["path"] == []


def test_prediction_path_follows_the_tree(client: FlaskClient, alice: BigMLUser, tree: ServedModel) -> None:
    ident = builtin_id(tree.name)
    body = client.get(f"/andromeda/model/{ident}?{alice.query}").get_json()
    node, record = body["model"]["root"], {}
    fields = body["model"]["fields"]
    while node["children"]:  # walk down the second child each time, building a record that goes there
        child = node["children"][-1]
        test = child["predicate"]
        name = fields[test["field"]]["name"]
        if name in record:
            break
        record[name] = test["value"] if test["operator"] in ("=", "<=") else _beyond(test, fields)
        node = child
    answer = client.post(f"/prediction?{alice.query}", json={"model": f"model/{ident}", "input_data": record})
    assert answer.status_code == 201, answer.get_json()
    path = answer.get_json()["prediction_path"]["path"]
    assert path and all(isinstance(rule, str) for rule in path)
    assert path[0].startswith(fields[body["model"]["root"]["children"][-1]["predicate"]["field"]]["name"])


def _beyond(test: dict[str, Any], fields: dict[str, Any]) -> Any:
    if test["operator"] == ">":
        return test["value"] + 1
    categories = [c for c, _ in fields[test["field"]]["summary"]["categories"]]
    return next(c for c in categories if c != test["value"])


def test_defended_numbers_only(client: FlaskClient, admin_headers: dict[str, str], alice: BigMLUser,
                               tree: ServedModel) -> None:
    url = f"/admin/users/{alice.name}/defense"
    assert client.put(url, json=[{"round": 0.25}], headers=admin_headers).status_code == 200
    deadline = time.monotonic() + 5  # each worker picks up defence changes within a refresh period
    while True:
        answer = client.post(f"/prediction?{alice.query}",
                             json={"model": f"model/{builtin_id(tree.name)}", "input_data": {}}).get_json()
        numbers = [answer["confidence"], answer["probability"]] + [p for _, p in answer["probabilities"]]
        numbers += [p for _, p in answer["confidences"]]
        if all(abs(x / 0.25 - round(x / 0.25)) < 1e-9 for x in numbers) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert all(abs(x / 0.25 - round(x / 0.25)) < 1e-9 for x in numbers), answer
    assert answer["confidences"] == answer["probabilities"]
    assert answer["confidence"] == dict(answer["probabilities"])[answer["output"]]
    assert [c for c, _ in answer["probabilities"]] == tree.classes


def check_network(network: dict[str, Any], model: ServedModel) -> None:
    """The network is the model's export with BigML's names and one weight row per node."""
    export = model.export()
    assert network["image_shape"] == list(export["image_shape"]) and network["classes"] == model.classes
    assert network.get("encoder_depth") == (len(export["decoder"]) if export.get("decoder") else None)
    for group in ("layers", "decoder"):
        assert len(network[group]) == len(export.get(group) or [])
        for ours, theirs in zip(network[group], export.get(group) or [], strict=True):
            weights = np.asarray(ours["weights"], dtype=np.float32)
            assert weights.shape == theirs["weights"].T.shape == (ours["number_of_nodes"], theirs["weights"].shape[0])
            np.testing.assert_array_equal(weights, theirs["weights"].T)
            np.testing.assert_array_equal(np.asarray(ours["offset"], dtype=np.float32), theirs["bias"])
            assert ours["activation_function"] == theirs["activation"]


def test_deepnet_download_is_the_network(client: FlaskClient, alice: BigMLUser,
                                         builtins: dict[str, ServedModel]) -> None:
    model = builtins["faces-softmax"]
    response = client.get(f"/andromeda/deepnet/{builtin_id(model.name)}?{alice.query}")
    assert response.status_code == 200
    body = orjson.loads(response.get_data())
    assert body["resource"] == f"deepnet/{builtin_id(model.name)}" and body["status"]["code"] == 5
    assert len(body["input_fields"]) == model.n_features == len(body["deepnet"]["fields"]) - 1
    check_network(body["deepnet"]["network"], model)


def test_autoencoder_streams_its_decoder_too(builtins: dict[str, ServedModel]) -> None:
    """A small stacked autoencoder (the built-in is 10304 pixels wide): encoder, head and decoder."""
    rng = np.random.default_rng(3)
    template = builtins["faces-dae"]

    def layer(n_in: int, n_out: int, activation: str) -> Layer:
        return Layer(rng.normal(size=(n_in, n_out)).astype(np.float32), rng.normal(size=n_out).astype(np.float32),
                     activation)

    classes = ["a", "b", "c"]
    model = ImageModel(
        name="tiny-dae", kind="image", classes=classes, fields=pixel_fields(12),
        objective=Field("who", "categorical", tuple(classes)),
        layers=[layer(12, 5, "sigmoid"), layer(5, 3, "sigmoid"), layer(3, 3, "softmax")],
        decoder=[layer(3, 5, "sigmoid"), layer(5, 12, "sigmoid")], image_shape=(3, 4),
        heldout_X=template.heldout()[0][:0, :12], heldout_y=template.heldout()[1][:0],
    )
    document = b"".join(bigml_resources.stream_deepnet(bigml_resources.deepnet_head(model, 0.0), model))
    check_network(orjson.loads(document)["deepnet"]["network"], model)


def test_deepnet_download_streams_in_slices(builtins: dict[str, ServedModel]) -> None:
    """The big network is written slice by slice: no piece near the size of the whole weights."""
    model = builtins["faces-mlp"]
    weights = sum(layer.weights.size for layer in model.layers)
    parts = bigml_resources.stream_deepnet(bigml_resources.deepnet_head(model, 0.0), model)
    sizes = [len(part) for part, _ in zip(parts, range(12), strict=False)]
    assert max(sizes) < 24 * bigml_resources.SLICE_FLOATS  # one slice at most (some 13 bytes per float)
    if weights > 12 * bigml_resources.SLICE_FLOATS:
        assert len(sizes) == 12


def test_deepnet_download_off_and_light(client: FlaskClient, admin_headers: dict[str, str], alice: BigMLUser,
                                        builtins: dict[str, ServedModel]) -> None:
    model = builtins["faces-softmax"]
    url = f"/andromeda/deepnet/{builtin_id(model.name)}?{alice.query}"
    switch = f"/admin/models/{model.name}/download"
    assert client.put(switch, json={"downloadable": False}, headers=admin_headers).status_code == 200
    try:
        assert_bigml_error(client.get(url), 403, -1100)
        light = client.get(f"{url}&exclude=network").get_json()
        assert "network" not in light["deepnet"] and light["status"]["code"] == 5
        pixels = {f.name: 0.25 for f in model.fields}
        answer = client.post(f"/prediction?{alice.query}",
                             json={"model": f"deepnet/{builtin_id(model.name)}", "input_data": pixels})
        assert answer.status_code == 201 and answer.get_json()["deepnet"] == f"deepnet/{builtin_id(model.name)}"
        assert "prediction_path" not in answer.get_json()
    finally:
        assert client.put(switch, json={"downloadable": True}, headers=admin_headers).status_code == 200
    filtered = client.get(f"{url}&exclude=network&optype=image").get_json()
    assert filtered["deepnet"]["fields"] == {}
