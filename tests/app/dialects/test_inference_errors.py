"""v2 error cases over plain HTTP, budgets, rate limits and the query log under concurrency."""

from __future__ import annotations

import json
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import requests

from tests.app.dialects.conftest import IMAGE, User, bearer
from tests.conftest import LiveServer

HEADER = "Inference-Header-Content-Length"


def _n_pixels(live_server: LiveServer) -> int:
    meta = requests.get(f"{live_server.url}/v2/models/{IMAGE}", headers=bearer(live_server.admin_key), timeout=30)
    return meta.json()["inputs"][0]["shape"][1]


def _binary(
    rows: np.ndarray, datatype: str = "FP32", size: int | None = None, name: str = "pixels", **extra: object
) -> tuple[bytes, dict[str, str]]:
    raw = rows.tobytes()
    head = {
        "inputs": [
            {"name": name, "shape": list(rows.shape), "datatype": datatype,
             "parameters": {"binary_data_size": len(raw) if size is None else size}}
        ],
        **extra,
    }
    header = json.dumps(head).encode()
    return header + raw, {HEADER: str(len(header))}


def _post(live_server: LiveServer, key: str, body: bytes, headers: dict[str, str] | None = None,
          model: str = IMAGE) -> requests.Response:
    return requests.post(
        f"{live_server.url}/v2/models/{model}/infer", data=body, headers={**bearer(key), **(headers or {})}, timeout=60
    )


def _json_request(rows: np.ndarray, **extra: object) -> bytes:
    tensor = {"name": "pixels", "shape": list(rows.shape), "datatype": "FP32", "data": rows.ravel().tolist()}
    return json.dumps({"inputs": [tensor], **extra}).encode()


@pytest.fixture(scope="module")
def n_pixels(live_server: LiveServer) -> int:
    return _n_pixels(live_server)


def _bad_requests(n: int) -> dict[str, tuple[bytes, dict[str, str], str]]:
    """name: (body, headers, a word the message must contain)."""
    ok = np.full((2, n), 0.5, dtype=np.float32)
    nan = ok.copy()
    nan[1, 3] = np.nan
    body, headers = _binary(ok)
    cases = {
        "malformed json": (b'{"inputs": [', {}, "JSON"),
        "not an object": (b"[1, 2]", {}, "object"),
        "nan literal": (json.dumps({"inputs": [{"name": "pixels", "shape": [1, n], "datatype": "FP32",
                                                "data": [float("nan")] * n}]}).encode(), {}, "finite"),
        "header longer than body": (body, {HEADER: str(len(body) + 1)}, HEADER),
        "header not a number": (body, {HEADER: "twelve"}, HEADER),
        "binary size mismatch": (*_binary(ok, size=ok.nbytes - 4), "bytes"),
        "size over the body": (_binary(ok, size=ok.nbytes + 4)[0], _binary(ok)[1], "past the end"),
        "trailing bytes": (body + b"\0\0\0\0", headers, "after"),
        "int pixels": (*_binary(ok.astype(np.int32), "INT32"), "FP32"),
        "unknown datatype": (*_binary(ok, "FLOAT"), "datatype"),
        "wrong shape": (*_binary(np.full((2, n - 1), 0.5, np.float32)), "shape"),
        "nan pixel": (*_binary(nan), "finite"),
        "inf pixel": (*_binary(np.where(nan != nan, np.inf, ok).astype(np.float32)), "finite"),
        "out of range": (*_binary(ok * 3), "[0, 1]"),
        "wrong input name": (*_binary(ok, name="image"), "'pixels'"),
        "unknown output": (*_binary(ok, outputs=[{"name": "logits"}]), "logits"),
        "shared memory": (*_binary(ok, outputs=[{"name": "label", "parameters": {"shared_memory_region": "r"}}]),
                          "shared memory"),
        "json count mismatch": (json.dumps({"inputs": [{"name": "pixels", "shape": [2, n], "datatype": "FP32",
                                                       "data": [0.5] * (2 * n - 1)}]}).encode(), {}, "values"),
        "json strings as FP32": (json.dumps({"inputs": [{"name": "pixels", "shape": [1, 2], "datatype": "FP32",
                                                        "data": ["a", "b"]}]}).encode(), {}, "numbers"),
        "no inputs": (b'{"inputs": []}', {}, "inputs"),
        "no data": (b'{"inputs": [{"name": "pixels", "shape": [1, 1], "datatype": "FP32"}]}', {}, "data"),
        "negative shape": (b'{"inputs": [{"name": "pixels", "shape": [-1, 1], "datatype": "FP32", "data": [0]}]}',
                           {}, "shape"),
        "unknown field": (_json_request(ok, extra=1), {}, "extra"),
        "bad content encoding": (_json_request(ok), {"Content-Encoding": "br"}, "Content-Encoding"),
        "not gzip": (_json_request(ok), {"Content-Encoding": "gzip"}, "decompress"),
    }
    return cases


BAD_CASES = list(_bad_requests(4))


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_requests_are_400_with_an_error_message(live_server: LiveServer, key: str, n_pixels: int, case: str):
    body, headers, word = _bad_requests(n_pixels)[case]
    response = _post(live_server, key, body, headers)
    assert response.status_code == 400, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert isinstance(error, str) and word in error


def test_auth_model_and_route_errors(live_server: LiveServer, key: str, n_pixels: int) -> None:
    body, headers = _binary(np.full((1, n_pixels), 0.5, np.float32))
    cases = [
        (requests.post(f"{live_server.url}/v2/models/{IMAGE}/infer", data=body, headers=headers, timeout=30), 401),
        (_post(live_server, "wrong-key", body, headers), 401),
        (_post(live_server, key, body, headers, model="no-such-model"), 404),
        (requests.post(f"{live_server.url}/v2/models/{IMAGE}/versions/7/infer", data=body,
                       headers={**headers, **bearer(key)}, timeout=30), 404),
        (requests.get(f"{live_server.url}/v2/models/{IMAGE}/infer", headers=bearer(key), timeout=30), 405),
        (requests.get(f"{live_server.url}/v2/nothing-here", timeout=30), 404),
        (requests.get(f"{live_server.url}/v2/models/{IMAGE}", timeout=30), 401),
        (requests.get(f"{live_server.url}/v2/models/no-such-model", headers=bearer(key), timeout=30), 404),
    ]
    for response, status in cases:
        assert response.status_code == status, response.text
        assert isinstance(response.json()["error"], str)


def test_a_body_over_the_limit_is_413(live_server: LiveServer, key: str) -> None:
    body = b"\0" * (64 * 1024 * 1024 + 1)
    response = _post(live_server, key, body, {HEADER: "10"})
    assert response.status_code == 413
    assert "limit" in response.json()["error"]


def test_json_and_binary_answers_agree(live_server: LiveServer, key: str, n_pixels: int) -> None:
    rows = np.random.default_rng(11).random((3, n_pixels), dtype=np.float32)
    outputs = [{"name": "probabilities"}, {"name": "label"}]
    as_json = _post(live_server, key, _json_request(rows, outputs=outputs, id="j"))
    assert as_json.status_code == 200 and as_json.headers["Content-Type"] == "application/json"
    answer = as_json.json()
    assert answer["id"] == "j" and HEADER not in as_json.headers
    (probabilities, label) = answer["outputs"]
    assert probabilities["shape"] == [3, len(probabilities["data"]) // 3] and label["shape"] == [3]

    body, headers = _binary(rows, outputs=[{"name": "probabilities", "parameters": {"binary_data": True}}])
    as_binary = _post(live_server, key, body, headers)
    assert as_binary.status_code == 200 and as_binary.headers["Content-Type"] == "application/octet-stream"
    length = int(as_binary.headers[HEADER])
    header = json.loads(as_binary.content[:length])
    size = header["outputs"][0]["parameters"]["binary_data_size"]
    assert len(as_binary.content) == length + size
    binary = np.frombuffer(as_binary.content[length:], dtype="<f4").reshape(header["outputs"][0]["shape"])
    np.testing.assert_array_equal(binary, np.asarray(probabilities["data"], np.float32).reshape(binary.shape))

    nested = json.dumps({"inputs": [{"name": "pixels", "shape": [3, n_pixels], "datatype": "FP64",
                                     "data": rows.astype(np.float64).tolist()}]}).encode()
    from_nested = _post(live_server, key, nested).json()["outputs"][0]["data"]
    np.testing.assert_allclose(from_nested, probabilities["data"], rtol=1e-6)


def test_row_budget_gives_429_after_ten_rows(live_server: LiveServer, user: User, n_pixels: int) -> None:
    key = user.key
    live_server.admin("PUT", f"/admin/users/{user.name}/limits", json={"row_budget": 10}).raise_for_status()

    def rows(n: int) -> requests.Response:
        return _post(live_server, key, *_binary(np.full((n, n_pixels), 0.25, np.float32)))

    refused_output = _post(live_server, key, *_binary(np.full((4, n_pixels), 0.25, np.float32),
                                                      outputs=[{"name": "logits"}]))
    assert refused_output.status_code == 400  # refused before predicting: costs no budget
    assert [rows(4).status_code, rows(4).status_code] == [200, 200]
    refused = rows(4)
    assert refused.status_code == 429 and "budget" in refused.json()["error"]
    assert rows(2).status_code == 200
    assert rows(1).status_code == 429
    assert live_server.admin("GET", f"/admin/users/{user.name}").json()["rows_used"] == 10


def test_rate_limit_gives_429_with_retry_after(live_server: LiveServer, user: User, n_pixels: int) -> None:
    key = user.key
    live_server.admin("PUT", f"/admin/users/{user.name}/limits", json={"rate_limit": 3}).raise_for_status()
    body, headers = _binary(np.full((1, n_pixels), 0.25, np.float32))
    for _ in range(5):
        time.sleep(1 - time.time() % 1 + 0.02)  # start just after a (one-second) window opens
        started = time.time()
        statuses = [_post(live_server, key, body, headers) for _ in range(4)]
        if int(time.time()) == int(started):
            break
    else:
        pytest.fail("could not fit four requests into one rate window")
    assert [r.status_code for r in statuses] == [200, 200, 200, 429]
    assert int(statuses[-1].headers["Retry-After"]) >= 1
    assert "rate limit" in statuses[-1].json()["error"]
    time.sleep(1.05)
    assert _post(live_server, key, body, headers).status_code == 200


def test_every_query_is_logged_under_concurrency(live_server: LiveServer, user: User, n_pixels: int) -> None:
    good = _binary(np.full((2, n_pixels), 0.5, np.float32))
    bad = _binary(np.full((1, n_pixels), 2.0, np.float32))
    v1 = {"instances": [[0.5] * n_pixels]}

    def fire(i: int) -> int:
        if i % 5 == 4:
            return requests.post(f"{live_server.url}/v1/models/{IMAGE}:predict", json=v1,
                                 headers=bearer(user.key), timeout=60).status_code
        body, headers = bad if i % 5 == 3 else good
        return _post(live_server, user.key, body, headers).status_code

    n = 40
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(fire, range(n)))
    assert Counter(statuses) == {200: 32, 400: 8}
    deadline = time.monotonic() + 15
    while True:
        log = live_server.admin("GET", "/admin/query-log", params={"limit": 5000}).json()["queries"]
        mine = [q for q in log if q["username"] == user.name]
        if len(mine) >= n or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert len(mine) == n
    assert Counter((q["endpoint"], q["status"], q["rows"]) for q in mine) == {
        ("v2", 200, 2): 24, ("v2", 400, 0): 8, ("v1", 200, 1): 8
    }
    assert {q["model"] for q in mine} == {IMAGE}
