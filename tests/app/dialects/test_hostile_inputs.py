"""Hostile requests, dialect by dialect: each is a 4xx in the dialect's own format, fast, and cheap.

Every case is sent in-process to every endpoint that reads a body; "cheap" is the peak of the
memory Python traces while the request runs, against the size of the request. The live
server's share (chunked and slow bodies under gunicorn, worker memory) is in
``tests/app/integration/test_hostile_live.py``.
"""

from __future__ import annotations

import gzip
import io
import json
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.app.dialects.bigml_helpers import BigMLUser, builtin_id, new_user

IMAGE = "faces-softmax"
HEADER = "Inference-Header-Content-Length"
# What a request may keep beyond its own size: werkzeug's and Flask's request objects, the
# error response, the test client's copy of the body.
OVERHEAD = 1 << 20
# The parsers' working memory while they run: orjson's reader takes about 12 times the text it
# reads, freed when it returns (the 7 GB allocations this guards against were 60 million times).
TRANSIENT = 16
SECONDS = 1.0


def _v1v2(status: int, body: Any) -> bool:
    return set(body) == {"error"} and isinstance(body["error"], str) and bool(body["error"])


def _bigml(status: int, body: Any) -> bool:
    inner = body.get("status", {})
    return body.get("code") == status and inner.get("code", 0) < 0 and bool(inner.get("message")) \
        and isinstance(inner.get("extra"), list)


def _azure_classic(status: int, body: Any) -> bool:
    error = body.get("error", {})
    return isinstance(error.get("code"), str) and bool(error.get("message")) and isinstance(error.get("details"), list)


def _azure_online(status: int, body: Any) -> bool:
    error = body.get("error", {})
    return isinstance(error.get("code"), str) and bool(error.get("message"))


def _admin(status: int, body: Any) -> bool:
    error = body.get("error", {})
    return error.get("code") == status and bool(error.get("message"))


@dataclass(frozen=True)
class Endpoint:
    """Where a dialect reads a JSON body, how to embed a hostile value, and its error format."""

    method: str
    path: str
    wrap: Callable[[bytes], bytes]
    well_formed: Callable[[int, Any], bool]
    admin: bool = False
    headers: tuple[tuple[str, str], ...] = ()


def _endpoints(tree: str) -> dict[str, Endpoint]:
    bigml_model = f"model/{builtin_id(tree)}".encode()
    return {
        "v2": Endpoint("POST", f"/v2/models/{IMAGE}/infer",
                       lambda v: b'{"inputs": [{"name": "pixels", "shape": [1, 1], "datatype": "FP32", "data": '
                                 + v + b"}]}", _v1v2),
        "v1": Endpoint("POST", f"/v1/models/{tree}:predict", lambda v: b'{"instances": [' + v + b"]}", _v1v2),
        "bigml": Endpoint("POST", "/prediction",
                          lambda v: b'{"model": "' + bigml_model + b'", "input_data": {"x": ' + v + b"}}", _bigml),
        "azure classic": Endpoint("POST", f"/workspaces/ws/services/{tree}/execute?api-version=2.0",
                                  lambda v: b'{"Inputs": {"input1": {"ColumnNames": ["x"], "Values": [[' + v
                                            + b"]]}}}", _azure_classic),
        "azure online": Endpoint("POST", "/score", lambda v: b'{"input_data": {"columns": ["x"], "data": [[' + v
                                                              + b"]]}}", _azure_online,
                                 headers=(("azureml-model-deployment", tree),)),
        "admin limits": Endpoint("PUT", "/admin/users/{user}/limits", lambda v: b'{"row_budget": ' + v + b"}",
                                 _admin, admin=True),
        "admin users": Endpoint("POST", "/admin/users", lambda v: b'{"username": ' + v + b"}", _admin, admin=True),
    }


# Values embedded where each dialect expects a value: every one is refused while the JSON is read.
HOSTILE_VALUES = {
    "nested 3,000 deep": b"[" * 3000 + b"]" * 3000,
    "objects nested 1,100 deep": b'{"a": ' * 1100 + b"1" + b"}" * 1100,
    "nested 100,000 deep, unclosed": b"[" * 100_000,
    "integer of 4,301 digits": b"9" * 4301,
    "integer of 100,000 digits": b"-" + b"9" * 100_000,
    "integer of 5,000 digits after long digits": b"[1234567890123456789, " + b"7" * 5000 + b"]",
    "lone high surrogate": b'"\\ud800"',
    "lone low surrogate": b'"\\udfff"',
    "lone surrogate as a key": b'{"\\ud800": 1}',
    "surrogate encoded in UTF-8": b'"\xed\xa0\x80"',
    "bad UTF-8": b'"\xff\xfe"',
    "overlong UTF-8": b'"\xc0\xaf"',
    "NaN": b"NaN",
    "truncated": b"[1, 2",
}
# Whole bodies, the same for every endpoint.
HOSTILE_BODIES = {
    "empty": b"",
    "whitespace": b" \r\n\t",
    "not JSON": b"\x00\x01\x02",
    "a bare string": b'"x"',
    "UTF-16 garbage": "{\ud83d".encode("utf-16", "surrogatepass"),
    "UTF-32 BOM only": b"\x00\x00\xfe\xff",
}


@pytest.fixture(scope="module")
def tree(app) -> str:
    return next(m.name for m in app.extensions["mlaas"].registry.builtins.values() if m.kind == "tree")


@pytest.fixture(scope="module")
def alice(app, tree: str) -> BigMLUser:
    from tests.conftest import ADMIN_KEY

    return new_user(app.test_client(), {"Authorization": f"Bearer {ADMIN_KEY}"})


@dataclass(frozen=True)
class Memory:
    """Python's traced memory over one request: its peak, and what was still held after it."""

    peak: int
    kept: int


def _send(client: FlaskClient, endpoint: Endpoint, body: bytes, alice: BigMLUser, admin_headers: dict[str, str],
          headers: dict[str, str] | None = None, **environ: Any) -> tuple[Any, float, Memory]:
    """The response, the seconds it took and the traced memory it took."""
    key_headers = admin_headers if endpoint.admin else {"Authorization": f"Bearer {alice.key}"}
    path = endpoint.path.format(user=alice.name)
    tracemalloc.start()
    tracemalloc.reset_peak()
    baseline = tracemalloc.get_traced_memory()[0]
    started = time.perf_counter()
    try:
        response = client.open(path, method=endpoint.method, data=body,
                               headers={"Content-Type": "application/json", **key_headers, **dict(endpoint.headers),
                                        **(headers or {})},
                               environ_overrides=environ)
        seconds = time.perf_counter() - started
        current, peak = tracemalloc.get_traced_memory()
        memory = Memory(peak - baseline, current - baseline)
    finally:
        tracemalloc.stop()
    return response, seconds, memory


def _assert_refused(endpoint: Endpoint, response: Any, seconds: float, memory: Memory, size: int,
                    statuses: tuple[int, ...] = (400,)) -> None:
    body = response.get_json()
    assert response.status_code in statuses, (response.status_code, body)
    assert endpoint.well_formed(response.status_code, body), body
    assert seconds < SECONDS, seconds
    assert memory.kept < size + OVERHEAD, (memory, size)
    assert memory.peak < TRANSIENT * size + OVERHEAD, (memory, size)


@pytest.mark.parametrize("case", HOSTILE_VALUES)
@pytest.mark.parametrize("dialect", ["v2", "v1", "bigml", "azure classic", "azure online", "admin limits",
                                     "admin users"])
def test_hostile_json_values_are_a_400_in_the_dialects_format(
    client, tree: str, alice: BigMLUser, admin_headers, dialect: str, case: str
) -> None:
    endpoint = _endpoints(tree)[dialect]
    body = endpoint.wrap(HOSTILE_VALUES[case])
    response, seconds, memory = _send(client, endpoint, body, alice, admin_headers)
    _assert_refused(endpoint, response, seconds, memory, len(body))
    message = json.dumps(response.get_json())
    assert "internal" not in message.lower()


@pytest.mark.parametrize("case", HOSTILE_BODIES)
@pytest.mark.parametrize("dialect", ["v2", "v1", "bigml", "azure classic", "azure online", "admin limits"])
def test_hostile_whole_bodies_are_a_400(client, tree: str, alice: BigMLUser, admin_headers, dialect: str,
                                        case: str) -> None:
    endpoint = _endpoints(tree)[dialect]
    body = HOSTILE_BODIES[case]
    response, seconds, memory = _send(client, endpoint, body, alice, admin_headers)
    _assert_refused(endpoint, response, seconds, memory, len(body))


def test_a_4300_digit_integer_is_read_and_then_judged(client, tree: str, alice: BigMLUser, admin_headers) -> None:
    """The neighbour of the limit parses; the dialect then refuses the value itself (no 500)."""
    for dialect in ("v1", "bigml", "azure online", "admin limits"):
        endpoint = _endpoints(tree)[dialect]
        response, seconds, memory = _send(client, endpoint, endpoint.wrap(b"9" * 4300), alice, admin_headers)
        _assert_refused(endpoint, response, seconds, memory, 4300 + 100)


def test_a_lone_surrogate_bigml_input_key_is_a_400_naming_the_problem(client, tree: str, alice: BigMLUser,
                                                                      admin_headers) -> None:
    endpoint = _endpoints(tree)["bigml"]
    body = b'{"model": "model/' + builtin_id(tree).encode() + b'", "input_data": {"\\ud800": "x"}}'
    response, _, _ = _send(client, endpoint, body, alice, admin_headers)
    assert response.status_code == 400 and response.get_json()["status"]["code"] == -1204
    assert "surrogate" in response.get_json()["status"]["message"]


# --- bodies cut short or too long (the WSGI server's view: gunicorn terminates its input) -------


@pytest.mark.parametrize("dialect", ["v2", "v1", "bigml", "azure classic", "azure online", "admin limits"])
def test_a_body_shorter_than_its_content_length_is_a_400(client, tree: str, alice: BigMLUser, admin_headers,
                                                         dialect: str) -> None:
    endpoint = _endpoints(tree)[dialect]
    body = endpoint.wrap(b"1")
    response, seconds, memory = _send(client, endpoint, b"", alice, admin_headers, CONTENT_LENGTH=str(len(body) + 10),
                                    **{"wsgi.input": io.BytesIO(body), "wsgi.input_terminated": True})
    _assert_refused(endpoint, response, seconds, memory, len(body))
    assert "ended after" in json.dumps(response.get_json())


@pytest.mark.parametrize("dialect", ["v2", "v1", "bigml", "azure classic", "azure online", "admin limits"])
@pytest.mark.parametrize("chunked", [False, True])
def test_a_body_over_the_limit_is_a_413_chunked_or_not(app, client, tree: str, alice: BigMLUser, admin_headers,
                                                        monkeypatch, dialect: str, chunked: bool) -> None:
    """A valid JSON body over the limit: refused whole, not cut at the limit and parsed."""
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 10_000)
    endpoint = _endpoints(tree)[dialect]
    body = endpoint.wrap(b"[" + b"1, " * 5000 + b"1]")
    environ: dict[str, Any] = {"wsgi.input": io.BytesIO(body), "wsgi.input_terminated": True}
    if chunked:
        environ["HTTP_TRANSFER_ENCODING"] = "chunked"
    else:
        environ["CONTENT_LENGTH"] = str(len(body))
    response, seconds, memory = _send(client, endpoint, b"", alice, admin_headers, **environ)
    _assert_refused(endpoint, response, seconds, memory, len(body), statuses=(413,))


def test_a_chunked_body_within_the_limit_is_read_whole(client, tree: str, alice: BigMLUser, admin_headers) -> None:
    endpoint = _endpoints(tree)["admin limits"]
    body = b'{"rate_limit": 7}' + b" " * 3_000_000
    response, _, _ = _send(client, endpoint, b"", alice, admin_headers, HTTP_TRANSFER_ENCODING="chunked",
                           **{"wsgi.input": io.BytesIO(body), "wsgi.input_terminated": True})
    assert response.status_code == 200 and response.get_json()["rate_limit"] == 7


# --- v2: the headers it reads and binary tensors whose shape disagrees with the body ------------


def _binary(header: dict[str, Any], data: bytes) -> tuple[bytes, str]:
    head = json.dumps(header).encode()
    return head + data, str(len(head))


def _tensor(datatype: str, shape: list[Any], size: int) -> dict[str, Any]:
    return {"inputs": [{"name": "pixels", "datatype": datatype, "shape": shape,
                        "parameters": {"binary_data_size": size}}]}


BINARY_CASES = {
    "BYTES shape 1e12, 5 bytes": (_tensor("BYTES", [10**12], 5), b"\x01\0\0\0a"),
    "BYTES shape 1e9, 120 bytes": (_tensor("BYTES", [10**9], 120), b"\0" * 120),
    "BYTES shape 31 elements, 120 bytes": (_tensor("BYTES", [31], 120), b"\0" * 120),
    "BYTES shape [1e6, 1e6]": (_tensor("BYTES", [10**6, 10**6], 8), b"\0" * 8),
    "FP32 shape 1e12, 8 bytes": (_tensor("FP32", [10**12], 8), b"\0" * 8),
    "FP32 shape 2**70": (_tensor("FP32", [2**70], 8), b"\0" * 8),
    "FP32 shape [0, 2**62]": (_tensor("FP32", [0, 2**62], 0), b""),
    "FP32 shape [0, 2**40, 2**40]": (_tensor("FP32", [0, 2**40, 2**40], 0), b""),
    "FP32 shape [1e12] as a float": (_tensor("FP32", [1e12], 8), b"\0" * 8),
    "FP32 negative shape": (_tensor("FP32", [-1, 2], 8), b"\0" * 8),
    "binary_data_size past the body": (_tensor("FP32", [2], 10**30), b"\0" * 8),
    "binary_data_size negative": (_tensor("FP32", [2], -8), b"\0" * 8),
    "JSON data shape 1e12": ({"inputs": [{"name": "pixels", "datatype": "FP32", "shape": [10**12], "data": [1]}]},
                             b""),
    "JSON BYTES data shape [1e9]": ({"inputs": [{"name": "pixels", "datatype": "BYTES", "shape": [10**9],
                                                 "data": ["a"]}]}, b""),
}


@pytest.mark.parametrize("case", BINARY_CASES)
def test_v2_tensors_whose_shape_disagrees_with_the_body(client, tree: str, alice: BigMLUser, admin_headers,
                                                         case: str) -> None:
    header, data = BINARY_CASES[case]
    body, length = _binary(header, data)
    endpoint = _endpoints(tree)["v2"]
    response, seconds, memory = _send(client, endpoint, body, alice, admin_headers, headers={HEADER: length})
    _assert_refused(endpoint, response, seconds, memory, len(body))


@pytest.mark.parametrize("value", ["²", "٣", "-1", "+5", "5.0", "0x10", "1e3", "", "9" * 5000, "9" * 19, "99999"])
def test_v2_inference_header_length_must_be_decimal_digits_within_the_body(
    client, tree: str, alice: BigMLUser, admin_headers, value: str
) -> None:
    body, _ = _binary(_tensor("FP32", [1, 1], 4), b"\0" * 4)
    endpoint = _endpoints(tree)["v2"]
    response, seconds, memory = _send(client, endpoint, body, alice, admin_headers,
                                    headers={HEADER: value.encode().decode("latin-1")})
    _assert_refused(endpoint, response, seconds, memory, len(body))
    assert HEADER in response.get_json()["error"]


@pytest.mark.parametrize(
    ("encoding", "body", "status"),
    [
        ("br", b"{}", 400),
        ("gzip", b"not gzip at all", 400),
        ("deflate", b"\x78\x9c\xff\xff", 400),
        ("gzip", gzip.compress(b"[" * 3000 + b"]" * 3000), 400),
        ("gzip", gzip.compress(b" " * 20_000), 413),
    ],
)
def test_v2_content_encodings(app, client, tree: str, alice: BigMLUser, admin_headers, monkeypatch,
                              encoding: str, body: bytes, status: int) -> None:
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 10_000)
    endpoint = _endpoints(tree)["v2"]
    response, seconds, memory = _send(client, endpoint, body, alice, admin_headers,
                                    headers={"Content-Encoding": encoding})
    _assert_refused(endpoint, response, seconds, memory, 10_000, statuses=(status,))


# --- headers and query strings the other dialects read -------------------------------------------


def test_headers_and_query_strings_of_every_dialect(client, tree: str, alice: BigMLUser, admin_headers) -> None:
    latin = "\xff\xe9" * 2000  # WSGI headers are latin-1 text; these are not UTF-8 when encoded
    cases = [
        ("v2", {"Authorization": "Bearer " + latin}, "", (401,)),
        ("v1", {"Authorization": latin}, "", (401,)),
        ("azure online", {"azureml-model-deployment": latin}, "", (404,)),
        ("azure online", {"azureml-model-deployment": "\t"}, "", (400,)),
        ("azure classic", {}, "&details=%ff%fe", (400,)),
        ("bigml", {"Authorization": ""}, "?username=%ff&api_key=%ff%ed%a0%80", (401,)),
        ("bigml", {"Authorization": ""}, "?api_key=;;;&&=&", (401,)),
    ]
    for dialect, headers, query, statuses in cases:
        endpoint = _endpoints(tree)[dialect]
        replaced = Endpoint(endpoint.method, endpoint.path + query, endpoint.wrap, endpoint.well_formed)
        response, seconds, memory = _send(client, replaced, endpoint.wrap(b"1"), alice, admin_headers, headers=headers)
        _assert_refused(endpoint, response, seconds, memory, 10_000, statuses=statuses)


# --- limits -----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [2**63, 10**30, -1, 1.5, True])
def test_admin_limits_beyond_what_the_database_holds_are_400(client, alice: BigMLUser, admin_headers,
                                                              value: Any) -> None:
    for field in ("row_budget", "rate_limit", "rows_used"):
        response = client.put(f"/admin/users/{alice.name}/limits", json={field: value}, headers=admin_headers)
        assert response.status_code == 400 and _admin(400, response.get_json()), response.get_json()


def test_a_spent_budget_429_says_when_to_retry(client, tree: str, admin_headers) -> None:
    broke = new_user(client, admin_headers, row_budget=0)
    for path, body in ((f"/v1/models/{tree}:predict", {"instances": [{}]}),
                       (f"/prediction?{broke.query}", {"model": f"model/{builtin_id(tree)}", "input_data": {}})):
        response = client.post(path, json=body, headers={"Authorization": f"Bearer {broke.key}"})
        assert response.status_code == 429, response.get_json()
        assert int(response.headers["Retry-After"]) >= 60
