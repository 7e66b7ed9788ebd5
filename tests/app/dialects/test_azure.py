"""Azure ML's classic request-response service and online /score endpoint against gunicorn."""

from __future__ import annotations

import time
from types import SimpleNamespace

import numpy as np
import pytest
import requests

from app.dialects.azure import _probability_columns
from tests.app.dialects.conftest import IMAGE, User, bearer, tree_records
from tests.conftest import LiveServer

LABELS = "Scored Labels"


def _execute(live_server: LiveServer, key: str | None, service: str, body: object,
             query: str = "?api-version=2.0&details=true") -> requests.Response:
    url = f"{live_server.url}/workspaces/ws-1/services/{service}/execute{query}"
    return requests.post(url, json=body, headers=bearer(key) if key else {}, timeout=60)


def _score(live_server: LiveServer, key: str, body: object, deployment: str | None) -> requests.Response:
    headers = {**bearer(key), **({"azureml-model-deployment": deployment} if deployment else {})}
    return requests.post(f"{live_server.url}/score", json=body, headers=headers, timeout=60)


def _as_strings(value: object) -> str:
    return "" if value is None else str(value)


def _probability_names(classes: list[str]) -> list[str]:
    return ["Scored Probabilities"] if len(classes) == 2 else [f'Scored Probabilities for Class "{c}"' for c in classes]


def test_classic_tree_with_details(live_server: LiveServer, key: str, models, tree_name: str) -> None:
    model = models[tree_name]
    fields = [f.to_json() for f in model.fields]
    records = tree_records(fields, rows=4)
    columns = [f["name"] for f in fields]
    values = [[_as_strings(r.get(c)) for c in columns] for r in records]
    body = {"Inputs": {"input1": {"ColumnNames": columns, "Values": values}}, "GlobalParameters": {}}
    response = _execute(live_server, key, tree_name, body)
    assert response.status_code == 200, response.text
    table = response.json()["Results"]["output1"]
    assert table["type"] == "DataTable"
    value = table["value"]
    names = _probability_names(model.classes)
    assert value["ColumnNames"] == [*columns, LABELS, *names]
    expected_types = ["String" if f["optype"] == "categorical" else "Double" for f in fields]
    assert value["ColumnTypes"] == [*expected_types, "String", *["Double"] * len(names)]
    expected = model.predict_proba(model.encode_records(records))
    for row, sent, probabilities in zip(value["Values"], values, expected, strict=True):
        assert all(isinstance(cell, str) for cell in row)
        assert row[: len(columns)] == sent
        assert row[len(columns)] == model.classes[int(probabilities.argmax())]
        scores = [float(cell) for cell in row[len(columns) + 1 :]]
        np.testing.assert_allclose(scores, probabilities[1:] if len(names) == 1 else probabilities, rtol=1e-9)

    plain = _execute(live_server, key, tree_name, body, query="?api-version=2.0")
    assert plain.status_code == 200
    plain_value = plain.json()["Results"]["output1"]["value"]
    assert "ColumnTypes" not in plain_value and plain_value["Values"] == value["Values"]


def test_classic_image_columns_in_any_order(live_server: LiveServer, key: str, models) -> None:
    model = models[IMAGE]
    x = np.random.default_rng(31).random((2, model.n_features)).round(4)
    order = np.random.default_rng(32).permutation(model.n_features)
    columns = [f"pixel_{i}" for i in order]
    body = {"Inputs": {"input1": {"ColumnNames": columns, "Values": [[str(v) for v in row[order]] for row in x]}},
            "GlobalParameters": {}}
    response = _execute(live_server, key, IMAGE, body, query="?api-version=2.0")
    assert response.status_code == 200, response.text
    value = response.json()["Results"]["output1"]["value"]
    expected = model.predict_proba(x.astype(np.float32))
    scores = np.array([[float(c) for c in row[model.n_features + 1 :]] for row in value["Values"]])
    # float32 logits summed over 10,304 face pixels round differently in another process (BLAS
    # threads, alignment): a few 1e-5 relative; a column order gone wrong would be far off.
    np.testing.assert_allclose(scores, expected, rtol=1e-4, atol=1e-6)
    assert [row[model.n_features] for row in value["Values"]] == [model.classes[i] for i in expected.argmax(1)]


@pytest.mark.parametrize(
    ("query", "body", "status", "code", "detail", "target"),
    [
        ("", None, 400, "BadArgument", "BadVersionCall", None),
        ("?api-version=1.0", None, 400, "BadArgument", "BadVersionCall", None),
        ("?api-version=2.0&details=maybe", None, 400, "BadArgument", "BadParameterValue", None),
        ("?api-version=2.0", {"Inputs": {}}, 400, "BadArgument", "InputParseError", None),
        ("?api-version=2.0", {"Inputs": {"input1": {"ColumnNames": ["pixel_0"], "Values": [["0.5", "0.5"]]}}},
         400, "BadArgument", "InputParseError", "input1"),
        ("?api-version=2.0", {"Inputs": {"input1": {"ColumnNames": ["colour"], "Values": [["red"]]}}},
         400, "BadArgument", "InputParseError", "input1"),
        ("?api-version=2.0", {"Inputs": {"input1": {"ColumnNames": ["pixel_0"], "Values": [["0.5"]]}}},
         400, "BadArgument", "InputParseError", "input1"),
        ("?api-version=2.0", {"Inputs": {"t": {"ColumnNames": ["pixel_0"], "Values": [["0.5"]]}},
                              "GlobalParameters": {"x": 1}}, 400, "BadArgument", "BadParameterValue", None),
        ("?api-version=2.0", {"Inputs": {"t": []}, "Extra": 1}, 400, "BadArgument", "BadParameterValue", None),
    ],
)
def test_classic_bad_requests(live_server: LiveServer, key: str, query, body, status, code, detail, target) -> None:
    body = body or {"Inputs": {"input1": {"ColumnNames": ["pixel_0"], "Values": [["0.5"]]}}, "GlobalParameters": {}}
    response = _execute(live_server, key, IMAGE, body, query=query)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    (entry,) = error["details"]
    assert entry["code"] == detail and entry["message"]
    assert entry.get("target") == target


def test_classic_image_values_must_be_numbers(live_server: LiveServer, key: str, models) -> None:
    n = models[IMAGE].n_features
    columns = [f"pixel_{i}" for i in range(n)]
    for cell, word in (("dark", "numbers"), ("", "numbers"), ("1.5", "[0, 1]"), ("nan", "finite")):
        body = {"Inputs": {"input1": {"ColumnNames": columns, "Values": [[cell] + ["0.5"] * (n - 1)]}}}
        response = _execute(live_server, key, IMAGE, body)
        assert response.status_code == 400
        assert word in response.json()["error"]["details"][0]["message"]


def test_classic_auth_unknown_service_and_budget(live_server: LiveServer, user: User, models) -> None:
    # before the key's first use: workers cache a key's limits for a second
    live_server.admin("PUT", f"/admin/users/{user.name}/limits", json={"row_budget": 0}).raise_for_status()
    body = {"Inputs": {"input1": {"ColumnNames": ["x"], "Values": [["1"]]}}}
    unauthorised = _execute(live_server, "not-a-key", IMAGE, body)
    assert unauthorised.status_code == 401
    assert unauthorised.json()["error"]["code"] == "Unauthorized"
    assert unauthorised.json()["error"]["details"][0]["code"] == "ScoreRequestUnauthorized"
    missing = _execute(live_server, user.key, "no-such-service", body)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "NotFound"
    malformed = requests.post(f"{live_server.url}/workspaces/w/services/{IMAGE}/execute?api-version=2.0",
                              data=b"{", headers=bearer(user.key), timeout=30)
    assert malformed.status_code == 400 and malformed.json()["error"]["code"] == "BadArgument"

    n = models[IMAGE].n_features
    body = {"Inputs": {"input1": {"ColumnNames": [f"pixel_{i}" for i in range(n)], "Values": [["0.5"] * n]}}}
    over = _execute(live_server, user.key, IMAGE, body)
    assert over.status_code == 429 and over.json()["error"]["code"] == "TooManyRequests"
    assert "budget" in over.json()["error"]["details"][0]["message"]


def test_score_request_shapes(live_server: LiveServer, key: str, models, tree_name: str) -> None:
    model = models[tree_name]
    fields = [f.to_json() for f in model.fields]
    records = tree_records(fields, rows=3)
    columns = [f["name"] for f in fields]
    rows = [[r.get(c) for c in columns] for r in records]
    expected = model.predict_proba(model.encode_records(records))
    names = _probability_names(model.classes)
    bodies = [
        {"input_data": {"columns": columns[::-1], "index": [0, 1, 2], "data": [row[::-1] for row in rows]}},
        {"input_data": {"columns": columns, "data": rows}},
        {"input_data": rows},
        {"data": rows},
    ]
    for body in bodies:
        response = _score(live_server, key, body, tree_name)
        assert response.status_code == 200, response.text
        answer = response.json()
        assert isinstance(answer, list) and len(answer) == 3
        for item, probabilities in zip(answer, expected, strict=True):
            assert list(item) == [LABELS, *names]
            assert item[LABELS] == model.classes[int(probabilities.argmax())]
            got = [item[n] for n in names]
            np.testing.assert_allclose(got, probabilities[1:] if len(names) == 1 else probabilities, rtol=1e-9)


def test_score_image_rows(live_server: LiveServer, key: str, models) -> None:
    model = models[IMAGE]
    x = np.random.default_rng(41).random((2, model.n_features)).round(3)
    response = _score(live_server, key, {"data": x.tolist()}, IMAGE)
    assert response.status_code == 200, response.text
    names = _probability_names(model.classes)
    got = np.array([[item[n] for n in names] for item in response.json()])
    np.testing.assert_allclose(got, model.predict_proba(x.astype(np.float32)), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize(
    ("body", "deployment", "status", "code"),
    [
        ({"data": [[0.5]]}, None, 400, "BadRequest"),
        ({"data": [[0.5]]}, "no-such-model", 404, "NotFound"),
        ({"data": [[0.5]], "input_data": [[0.5]]}, IMAGE, 400, "BadRequest"),
        ({"inputs": [[0.5]]}, IMAGE, 400, "BadRequest"),
        ({"data": []}, IMAGE, 400, "BadRequest"),
        ({"data": [[0.5]]}, IMAGE, 400, "BadRequest"),
        ({"input_data": {"data": [[0.5]], "index": [0, 1]}}, IMAGE, 400, "BadRequest"),
    ],
)
def test_score_errors(live_server: LiveServer, key: str, body, deployment, status, code) -> None:
    response = _score(live_server, key, body, deployment)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and isinstance(error["message"], str)
    if deployment is None:
        assert "azureml-model-deployment" in error["message"]


def test_score_needs_a_key(live_server: LiveServer) -> None:
    response = requests.post(f"{live_server.url}/score", json={"data": [[0.5]]},
                             headers={"azureml-model-deployment": IMAGE}, timeout=30)
    assert response.status_code == 401 and response.json()["error"]["code"] == "Unauthorized"


def test_azure_queries_are_logged(live_server: LiveServer, user: User, tree_name: str, models) -> None:
    fields = [f.to_json() for f in models[tree_name].fields]
    rows = [[r.get(f["name"]) for f in fields] for r in tree_records(fields, rows=2)]
    assert _score(live_server, user.key, {"data": rows}, tree_name).status_code == 200
    assert _score(live_server, user.key, {"data": [[1]]}, tree_name).status_code == 400
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        log = live_server.admin("GET", "/admin/query-log", params={"limit": 2000}).json()["queries"]
        mine = sorted((q["endpoint"], q["model"], q["status"], q["rows"]) for q in log if q["username"] == user.name)
        if len(mine) == 2:
            break
        time.sleep(0.2)
    assert mine == [("azure", tree_name, 200, 2), ("azure", tree_name, 400, 0)]


def test_binary_models_have_one_probability_column() -> None:
    probabilities = np.array([[0.25, 0.75], [0.9, 0.1]])
    binary = SimpleNamespace(model=SimpleNamespace(classes=["no", "yes"]), probabilities=probabilities)
    names, values = _probability_columns(binary)
    assert names == ["Scored Probabilities"]
    np.testing.assert_array_equal(values, [[0.75], [0.1]])
    three = SimpleNamespace(model=SimpleNamespace(classes=["a", "b", "c"]), probabilities=np.eye(3))
    names, values = _probability_columns(three)
    assert names == ['Scored Probabilities for Class "a"', 'Scored Probabilities for Class "b"',
                     'Scored Probabilities for Class "c"']
    np.testing.assert_array_equal(values, np.eye(3))
