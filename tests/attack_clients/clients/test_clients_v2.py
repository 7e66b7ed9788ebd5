"""V2 client against a loopback server: binary tensors both ways, batching, budget, retries."""

from __future__ import annotations

import json
import struct
import threading
import time

import numpy as np
import pytest
import requests

from attack_clients.clients import ApiError, RetryPolicy, V2Client, connect
from attack_clients.clients.base import even_chunks
from attack_clients.clients.v2 import InferInput, decode_infer_response, encode_infer_request
from attack_clients.oracle import Oracle, QueryBudgetExceeded

from .http_fake import FakeService, Reply, Seen

CLASSES = ["s1", "s2", "s3"]
WEIGHTS = np.random.default_rng(0).normal(size=(6, 3)).astype(np.float32)
FAST = RetryPolicy(attempts=3, backoff=0.01, max_wait=5.0)


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def image_metadata(_: Seen) -> Reply:
    return Reply(
        200,
        {
            "name": "faces",
            "versions": ["1"],
            "platform": "mock",
            "inputs": [{"name": "pixels", "datatype": "FP32", "shape": [-1, 6]}],
            "outputs": [{"name": "probabilities", "datatype": "FP32", "shape": [-1, 3]}],
            "parameters": {"kind": "image", "classes": CLASSES, "image_shape": [2, 3]},
        },
    )


def split_binary(seen: Seen) -> tuple[dict, bytes]:
    """The test's own reading of a binary-extension request (independent of the client's code)."""
    length = int(seen.headers["Inference-Header-Content-Length"])
    return json.loads(seen.body[:length]), seen.body[length:]


def binary_infer(seen: Seen) -> Reply:
    header, blob = split_binary(seen)
    (tensor,) = header["inputs"]
    assert tensor["datatype"] == "FP32" and tensor["name"] == "pixels"
    assert tensor["parameters"]["binary_data_size"] == len(blob)
    X = np.frombuffer(blob, dtype="<f4").reshape(tensor["shape"])
    probabilities = softmax(X @ WEIGHTS).astype("<f4")
    wants_binary = header["outputs"][0]["parameters"]["binary_data_output"]
    assert header["outputs"][0]["name"] == "probabilities" and wants_binary
    raw = probabilities.tobytes()
    out = {
        "model_name": "faces",
        "id": header["id"],
        "outputs": [
            {
                "name": "probabilities",
                "datatype": "FP32",
                "shape": list(probabilities.shape),
                "parameters": {"binary_data_size": len(raw)},
            },
            {
                "name": "label",
                "datatype": "BYTES",
                "shape": [len(X)],
                "data": [CLASSES[i] for i in probabilities.argmax(1)],
            },
        ],
    }
    head = json.dumps(out).encode()
    return Reply(200, head + raw, {"Inference-Header-Content-Length": str(len(head))})


def json_infer(seen: Seen) -> Reply:
    header, blob = split_binary(seen)
    X = np.frombuffer(blob, dtype="<f4").reshape(header["inputs"][0]["shape"])
    probabilities = softmax(X @ WEIGHTS)
    return Reply(
        200,
        {
            "outputs": [
                {
                    "name": "probabilities",
                    "datatype": "FP32",
                    "shape": list(probabilities.shape),
                    "data": probabilities.ravel().tolist(),
                },
                {
                    "name": "label",
                    "datatype": "BYTES",
                    "shape": [len(X)],
                    "data": [CLASSES[i] for i in probabilities.argmax(1)],
                },
            ]
        },
    )


@pytest.fixture()
def faces(fake: FakeService) -> FakeService:
    fake.route("GET", "/v2/models/faces", image_metadata)
    fake.route("POST", "/v2/models/faces/infer", binary_infer)
    return fake


def test_binary_round_trip_in_batches(faces: FakeService) -> None:
    X = np.random.default_rng(1).random((10, 6)).astype(np.float32)
    client = V2Client(faces.url, "k", "faces", batch_size=4)
    labels, probabilities = client.predict_proba(X)
    expected = softmax(X @ WEIGHTS)
    np.testing.assert_allclose(probabilities, expected, rtol=1e-5)
    np.testing.assert_array_equal(labels, expected.argmax(1))
    assert isinstance(client, Oracle) and client.classes == CLASSES
    infers = faces.requests_to("/v2/models/faces/infer")
    assert sorted(
        json.loads(s.body[: int(s.headers["Inference-Header-Content-Length"])])["inputs"][0]["shape"][0] for s in infers
    ) == [2, 4, 4]
    assert all(s.headers["Authorization"] == "Bearer k" for s in faces.seen)
    assert client.stats.queries == 3 and client.stats.rows == 10
    assert client.stats.bytes_sent == sum(len(s.body) for s in faces.seen)
    assert client.stats.bytes_received > 10 * 3 * 4 and client.stats.seconds > 0


def test_json_only_answer_is_understood(faces: FakeService) -> None:
    faces.route("POST", "/v2/models/faces/infer", json_infer)
    X = np.random.default_rng(2).random((5, 6))
    labels, probabilities = V2Client(faces.url, "k", "faces").predict_proba(X)
    np.testing.assert_allclose(probabilities, softmax(X.astype(np.float32) @ WEIGHTS), rtol=1e-5)
    assert labels.tolist() == probabilities.argmax(1).tolist()


def test_encoding_is_little_endian_float32_after_the_header() -> None:
    X = np.array([[0.5, -1.0], [np.nan, 2.0]], dtype=np.float64)
    body, headers = encode_infer_request(
        [InferInput("x", "FP32", X), InferInput("c", "BYTES", ["a", ""])],
        ["probabilities"],
        binary_outputs=["probabilities"],
    )
    length = int(headers["Inference-Header-Content-Length"])
    body = bytes(body)
    header = json.loads(body[:length])
    assert header["inputs"][0] == {
        "name": "x",
        "shape": [2, 2],
        "datatype": "FP32",
        "parameters": {"binary_data_size": 16},
    }
    assert header["inputs"][1]["data"] == ["a", ""]
    assert header["outputs"] == [{"name": "probabilities", "parameters": {"binary_data_output": True}}]
    assert body[length:] == struct.pack("<4f", 0.5, -1.0, float("nan"), 2.0)


def test_decoding_binary_bytes_and_mixed_outputs() -> None:
    strings = b"".join(struct.pack("<I", len(s)) + s for s in (b"yes", b"no"))
    floats = struct.pack("<4f", 0.25, 0.75, 1.0, 0.0)
    head = json.dumps(
        {
            "outputs": [
                {"name": "probabilities", "datatype": "FP32", "shape": [2, 2], "parameters": {"binary_data_size": 16}},
                {"name": "label", "datatype": "BYTES", "shape": [2], "parameters": {"binary_data_size": len(strings)}},
                {"name": "extra", "datatype": "FP64", "shape": [1], "data": [3.5]},
            ]
        }
    ).encode()
    tensors = decode_infer_response(head + floats + strings, len(head))
    np.testing.assert_allclose(tensors["probabilities"], [[0.25, 0.75], [1.0, 0.0]])
    assert tensors["label"].tolist() == ["yes", "no"]
    assert tensors["extra"].tolist() == [3.5]


def test_tree_records_send_one_typed_input_per_field(fake: FakeService) -> None:
    fields = [
        {"name": "cheated", "optype": "categorical", "categories": ["No", "Yes"]},
        {"name": "age", "optype": "numeric"},
    ]
    fake.route(
        "GET",
        "/v2/models/tree",
        lambda _: Reply(200, {"parameters": {"kind": "tree", "classes": ["lo", "hi"], "fields": fields}}),
    )

    def infer(seen: Seen) -> Reply:
        header, blob = split_binary(seen)
        cheated, age = header["inputs"]
        assert cheated == {"name": "cheated", "shape": [3], "datatype": "BYTES", "data": ["Yes", "", "No"]}
        ages = np.frombuffer(blob, dtype="<f4")
        assert age["datatype"] == "FP32" and age["shape"] == [3] and ages[0] == 30 and np.isnan(ages[1:]).all()
        return Reply(
            200,
            {
                "outputs": [
                    {
                        "name": "probabilities",
                        "datatype": "FP32",
                        "shape": [3, 2],
                        "data": [0.2, 0.8, 0.9, 0.1, 0.6, 0.4],
                    },
                    {"name": "label", "datatype": "BYTES", "shape": [3], "data": ["hi", "lo", "lo"]},
                ]
            },
        )

    fake.route("POST", "/v2/models/tree/infer", infer)
    client = connect(fake.url, "k", "tree")
    records = [
        {"cheated": "Yes", "age": 30, "unused": 1},
        {"cheated": None, "age": None},
        {"cheated": "No", "age": float("nan")},
    ]
    labels, probabilities = client.predict_records(records)
    assert labels.tolist() == [1, 0, 0] and probabilities.shape == (3, 2)


def test_budget_is_checked_before_sending(faces: FakeService) -> None:
    client = V2Client(faces.url, "k", "faces", max_rows=5)
    client.predict_proba(np.zeros((3, 6)))
    with pytest.raises(QueryBudgetExceeded):
        client.predict_proba(np.zeros((3, 6)))
    assert len(faces.requests_to("/v2/models/faces/infer")) == 1
    assert client.stats.rows == 3


def test_429_honours_retry_after(faces: FakeService) -> None:
    calls = []

    def limited(seen: Seen) -> Reply:
        calls.append(time.monotonic())
        if len(calls) == 1:
            return Reply(429, {"error": "rate limit"}, {"Retry-After": "1"})
        return binary_infer(seen)

    faces.route("POST", "/v2/models/faces/infer", limited)
    client = V2Client(faces.url, "k", "faces", retry=FAST)
    labels, _ = client.predict_proba(np.zeros((2, 6)))
    assert len(labels) == 2 and len(calls) == 2
    assert calls[1] - calls[0] >= 0.95
    assert client.stats.queries == 1 and client.stats.rows == 2


def test_503_then_success_and_exhausted_retries(faces: FakeService) -> None:
    outcomes = iter([503, 200, 503, 503, 503])

    def flaky(seen: Seen) -> Reply:
        status = next(outcomes)
        return binary_infer(seen) if status == 200 else Reply(status, {"error": "busy"})

    faces.route("POST", "/v2/models/faces/infer", flaky)
    client = V2Client(faces.url, "k", "faces", retry=FAST)
    client.predict_proba(np.zeros((1, 6)))
    with pytest.raises(ApiError) as info:
        client.predict_proba(np.zeros((1, 6)))
    assert info.value.status == 503 and info.value.message == "busy"
    assert client.stats.queries == 1


def test_long_retry_after_is_not_slept_through(faces: FakeService) -> None:
    faces.route(
        "POST", "/v2/models/faces/infer", lambda _: Reply(429, {"error": "budget spent"}, {"Retry-After": "3600"})
    )
    started = time.monotonic()
    with pytest.raises(ApiError, match="budget spent"):
        V2Client(faces.url, "k", "faces", retry=FAST).predict_proba(np.zeros((1, 6)))
    assert time.monotonic() - started < 1
    assert len(faces.requests_to("/v2/models/faces/infer")) == 1


def test_client_errors_carry_the_server_message(faces: FakeService) -> None:
    faces.route("POST", "/v2/models/faces/infer", lambda _: Reply(400, {"error": "pixel values must lie in [0, 1]"}))
    with pytest.raises(ApiError) as info:
        V2Client(faces.url, "k", "faces", retry=FAST).predict_proba(np.full((1, 6), 2.0))
    assert info.value.status == 400 and "[0, 1]" in str(info.value)
    assert len(faces.requests_to("/v2/models/faces/infer")) == 1


def test_413_halves_the_batch(faces: FakeService) -> None:
    def small_only(seen: Seen) -> Reply:
        header, _ = split_binary(seen)
        if header["inputs"][0]["shape"][0] > 3:
            return Reply(413, {"error": "request body larger than the limit"})
        return binary_infer(seen)

    faces.route("POST", "/v2/models/faces/infer", small_only)
    client = V2Client(faces.url, "k", "faces", batch_size=8)
    labels, _ = client.predict_proba(np.random.default_rng(3).random((10, 6)))
    assert len(labels) == 10 and client.stats.rows == 10


def test_connection_errors_are_retried_then_raised() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = V2Client(f"http://127.0.0.1:{port}", "k", "faces", retry=RetryPolicy(attempts=2, backoff=0.01))
    with pytest.raises(requests.ConnectionError):
        client.metadata()


def test_json_mode_sends_numbers_and_refuses_nan() -> None:
    body, headers = encode_infer_request(
        [InferInput("x", "FP32", np.array([[0.5, 1.0]]))], ["probabilities"], binary=False
    )
    assert headers == {"Content-Type": "application/json"}
    assert json.loads(body)["inputs"][0]["data"] == [0.5, 1.0]
    with pytest.raises(ValueError, match="NaN"):
        encode_infer_request([InferInput("x", "FP32", np.array([np.nan]))], ["probabilities"], binary=False)


def test_requests_of_one_call_go_out_together(faces: FakeService) -> None:
    lock = threading.Lock()
    active: list[int] = []
    peak: list[int] = []

    def slow(seen: Seen) -> Reply:
        with lock:
            active.append(1)
            peak.append(len(active))
        time.sleep(0.3)
        with lock:
            active.pop()
        return binary_infer(seen)

    faces.route("POST", "/v2/models/faces/infer", slow)
    X = np.random.default_rng(4).random((8, 6)).astype(np.float32)
    client = V2Client(faces.url, "k", "faces", batch_size=4, concurrency=2)
    _, probabilities = client.predict_proba(X)
    np.testing.assert_allclose(probabilities, softmax(X @ WEIGHTS), rtol=1e-5)
    assert max(peak) == 2 and client.stats.queries == 2 and client.stats.rows == 8


def test_even_chunks_cover_the_rows_in_equal_pieces() -> None:
    assert even_chunks(680, 512) == [(0, 340), (340, 680)]
    assert even_chunks(10, 4) == [(0, 3), (3, 7), (7, 10)]
    assert even_chunks(3, 8) == [(0, 3)]
