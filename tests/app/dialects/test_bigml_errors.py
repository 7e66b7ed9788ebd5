"""BigML dialect, in-process: every bad request is a 4xx in BigML's error format, never a 500."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.zoo.base import ServedModel
from tests.app.dialects.bigml_helpers import BigMLUser, assert_bigml_error, builtin_id, new_user


@pytest.fixture()
def alice(client: FlaskClient, admin_headers: dict[str, str]) -> BigMLUser:
    return new_user(client, admin_headers)


@pytest.fixture(scope="session")
def tree(app: Flask) -> ServedModel:
    return next(m for m in app.extensions["mlaas"].registry.builtins.values() if m.kind == "tree")


@pytest.fixture(scope="session")
def image(app: Flask) -> ServedModel:
    return next(m for m in app.extensions["mlaas"].registry.builtins.values() if m.kind == "image")


def valid_record(model: ServedModel) -> dict[str, Any]:
    field = model.fields[0]
    value = field.categories[0] if field.optype == "categorical" else (field.minimum or 0.0)
    return {field.name: value}


def predict(client: FlaskClient, user: BigMLUser | None, body: Any, *, raw: bytes | None = None,
            path: str = "/prediction", query: str | None = None) -> Any:
    url = f"{path}?{query if query is not None else (user.query if user else '')}"
    if raw is not None:
        return client.post(url, data=raw, content_type="application/json")
    return client.post(url, json=body)


# --- authentication -----------------------------------------------------------------------------


def test_missing_and_invalid_keys_are_401(client: FlaskClient, alice: BigMLUser, tree: ServedModel) -> None:
    assert_bigml_error(client.get("/andromeda/model"), 401, -1100)
    assert_bigml_error(client.get(f"/andromeda/model?username={alice.name}&api_key=wrong"), 401, -1100)
    body = {"model": f"model/{builtin_id(tree.name)}", "input_data": {}}
    assert_bigml_error(predict(client, None, body), 401, -1100)


def test_username_must_match_the_key(client: FlaskClient, alice: BigMLUser) -> None:
    assert_bigml_error(client.get(f"/andromeda/model?username=someone-else&api_key={alice.key}"), 401,
                       mentions="someone-else")


def test_query_pairs_joined_by_semicolons_and_bearer_keys_work(client: FlaskClient, alice: BigMLUser) -> None:
    semicolons = client.get(f"/andromeda/model?username={alice.name};api_key={alice.key}")
    assert semicolons.status_code == 200, semicolons.get_data(as_text=True)
    bearer = client.get("/andromeda/model", headers={"Authorization": f"Bearer {alice.key}"})
    assert bearer.status_code == 200
    assert bearer.get_json()["objects"] == semicolons.get_json()["objects"]


# --- prediction bodies ---------------------------------------------------------------------------


def test_malformed_or_non_object_bodies(client: FlaskClient, alice: BigMLUser) -> None:
    assert_bigml_error(predict(client, alice, None, raw=b'{"model": '), 400, mentions="malformed JSON")
    assert_bigml_error(predict(client, alice, ["model"]), 400, mentions="object")
    assert_bigml_error(predict(client, alice, None, raw=b""), 400)
    assert_bigml_error(predict(client, alice, None, raw=b"[" * 100_000), 400, mentions="nested")
    assert_bigml_error(predict(client, alice, None, raw=b"\xff\xfe{}"), 400)


def test_unknown_arguments_and_bad_ids(client: FlaskClient, alice: BigMLUser, tree: ServedModel) -> None:
    model = f"model/{builtin_id(tree.name)}"
    assert_bigml_error(predict(client, alice, {"model": model, "input_data": {}, "colour": 1}), 400, -1204, "colour")
    assert_bigml_error(predict(client, alice, {"input_data": {}}), 400, -1200)
    assert_bigml_error(predict(client, alice, {"model": "model/xyz", "input_data": {}}), 400, -1201)
    assert_bigml_error(predict(client, alice, {"model": 7, "input_data": {}}), 400, -1201)
    assert_bigml_error(predict(client, alice, {"model": model, "deepnet": model}), 400)
    assert_bigml_error(predict(client, alice, {"model": "model/" + "0" * 24, "input_data": {}}), 404, -1201)
    assert_bigml_error(predict(client, alice, {"model": model, "input_data": [1, 2]}), 400, -1205)
    assert_bigml_error(predict(client, alice, {"model": model, "input_data": {}, "missing_strategy": 1}), 400)
    assert_bigml_error(predict(client, alice, {"model": model, "input_data": {}, "tags": "x"}), 400, -1205)


def test_a_tree_id_is_not_a_deepnet_and_back(client: FlaskClient, alice: BigMLUser, tree: ServedModel,
                                              image: ServedModel) -> None:
    assert_bigml_error(predict(client, alice, {"deepnet": f"deepnet/{builtin_id(tree.name)}"}), 404)
    assert_bigml_error(predict(client, alice, {"model": f"model/{builtin_id(image.name)}"}), 404)


def test_bad_input_values_on_a_tree(client: FlaskClient, alice: BigMLUser, tree: ServedModel) -> None:
    model = f"model/{builtin_id(tree.name)}"
    response = predict(client, alice, {"model": model, "input_data": {"no such field": 1}})
    assert_bigml_error(response, 400, -1203, "no such field")
    categorical = next((f for f in tree.fields if f.optype == "categorical"), None)
    numeric = next((f for f in tree.fields if f.optype == "numeric"), None)
    if categorical is not None:
        response = predict(client, alice, {"model": model, "input_data": {categorical.name: "surely-not-a-category"}})
        body = assert_bigml_error(response, 400, -1205, "surely-not-a-category")
        assert body["status"]["extra"] == [categorical.name]  # the core's error names the field
        assert_bigml_error(predict(client, alice, {"model": model, "input_data": {categorical.name: 3}}), 400, -1205)
    if numeric is not None:
        for bad in ("abc", True, [1]):
            response = predict(client, alice, {"model": model, "input_data": {numeric.name: bad}})
            assert_bigml_error(response, 400, -1205, numeric.name)
        raw = f'{{"model": "{model}", "input_data": {{"{numeric.name}": NaN}}}}'.encode()
        assert_bigml_error(predict(client, alice, None, raw=raw), 400, mentions="NaN")
        raw = f'{{"model": "{model}", "input_data": {{"{numeric.name}": 1e999}}}}'.encode()
        assert_bigml_error(predict(client, alice, None, raw=raw), 400, -1205)
        raw = f'{{"model": "{model}", "input_data": {{"{numeric.name}": 1{"0" * 400}}}}}'.encode()
        assert_bigml_error(predict(client, alice, None, raw=raw), 400, -1205, "too large")
        response = predict(client, alice, {"model": model, "input_data": {numeric.name: "nan"}})
        assert_bigml_error(response, 400, -1205)


def test_pixels_out_of_range_or_missing(client: FlaskClient, alice: BigMLUser, image: ServedModel) -> None:
    deepnet = f"deepnet/{builtin_id(image.name)}"
    pixels = {f.name: 0.5 for f in image.fields}
    assert predict(client, alice, {"deepnet": deepnet, "input_data": pixels}).status_code == 201
    first = image.fields[0].name
    assert_bigml_error(predict(client, alice, {"deepnet": deepnet, "input_data": {**pixels, first: 1.5}}), 400,
                       -1205, "[0, 1]")
    assert_bigml_error(predict(client, alice, {"deepnet": deepnet, "input_data": {**pixels, first: -0.5}}), 400,
                       -1205, first)
    missing = dict(pixels)
    missing.pop(first)
    assert_bigml_error(predict(client, alice, {"deepnet": deepnet, "input_data": missing}), 400, -1205, "missing")


def test_body_too_large_is_413_in_bigml_format(client: FlaskClient, alice: BigMLUser, app: Flask,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1000)
    response = predict(client, alice, {"model": "model/" + "0" * 24, "input_data": {"x": "y" * 5000}})
    assert_bigml_error(response, 413, mentions="1000")


def test_over_budget_is_429(client: FlaskClient, admin_headers: dict[str, str], tree: ServedModel) -> None:
    user = new_user(client, admin_headers, row_budget=1)
    body = {"model": f"model/{builtin_id(tree.name)}", "input_data": valid_record(tree)}
    assert predict(client, user, body).status_code == 201
    assert_bigml_error(predict(client, user, body), 429, mentions="budget")


def test_unknown_routes_and_methods_keep_the_format(client: FlaskClient, alice: BigMLUser) -> None:
    assert_bigml_error(client.get(f"/andromeda/prediction/{'a' * 24}?{alice.query}"), 404)
    assert_bigml_error(client.get(f"/andromeda/model/{'a' * 24}?{alice.query}"), 404, -1201)
    assert_bigml_error(client.put(f"/andromeda/model?{alice.query}"), 405)


def test_paging_parameters_are_checked(client: FlaskClient, alice: BigMLUser) -> None:
    assert_bigml_error(client.get(f"/andromeda/model?{alice.query}&limit=abc"), 400, -1205, "limit")
    assert_bigml_error(client.get(f"/andromeda/model?{alice.query}&offset=-1"), 400, -1205, "offset")
    assert_bigml_error(client.get(f"/andromeda/model?{alice.query}&limit=0"), 400, -1205, "limit")
    assert_bigml_error(client.get(f"/andromeda/source?{alice.query}&offset={10**30}"), 400, -1205, "offset")
