"""The v2 tensor codec on its own, checked against tritonclient's own (de)serialisers."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from tritonclient.http import InferResult
from tritonclient.utils import deserialize_bytes_tensor, serialize_byte_tensor

from app.core.errors import BadRequest
from app.dialects import tensors


def _body(inputs: list[tuple[dict, bytes]], **extra: object) -> tuple[bytes, str]:
    header = json.dumps({"inputs": [spec for spec, _ in inputs], **extra}).encode()
    return header + b"".join(raw for _, raw in inputs), str(len(header))


def test_numeric_and_bytes_inputs_are_read_in_order() -> None:
    pixels = np.arange(6, dtype=np.float32).reshape(2, 3) / 10
    words = np.array(["rare", "", "médium"], dtype=object)
    packed = serialize_byte_tensor(words).item()
    body, length = _body([
        ({"name": "a", "datatype": "FP32", "shape": [2, 3], "parameters": {"binary_data_size": pixels.nbytes}},
         pixels.tobytes()),
        ({"name": "w", "datatype": "BYTES", "shape": [3], "parameters": {"binary_data_size": len(packed)}}, packed),
        ({"name": "j", "datatype": "INT64", "shape": [2, 2], "data": [[1, 2], [3, 4]]}, b""),
    ], id="x")
    request = tensors.parse_request(body, length)
    a, w, j = request.inputs
    np.testing.assert_array_equal(a.data, pixels)
    assert a.data.dtype == np.float32 and not a.data.flags.writeable  # a view of the body, not a copy
    assert w.data.tolist() == ["rare", "", "médium"]
    assert j.data.dtype == np.int64 and j.data.tolist() == [[1, 2], [3, 4]]
    assert request.id == "x" and request.outputs is None and not request.binary_default


def test_output_flags_per_output_beat_the_request_default() -> None:
    body = json.dumps({
        "inputs": [{"name": "a", "datatype": "FP64", "shape": [1], "data": [0.5]}],
        "outputs": [{"name": "p", "parameters": {"binary_data": False, "classification": 2}}, {"name": "l"}],
        "parameters": {"binary_data_output": True},
    }).encode()
    request = tensors.parse_request(body, None)
    assert request.outputs == [tensors.RequestedOutput("p", False, 2), tensors.RequestedOutput("l", True, 0)]


@pytest.mark.parametrize(
    ("header", "raw", "word"),
    [
        ({"name": "w", "datatype": "BYTES", "shape": [2], "parameters": {"binary_data_size": 6}},
         b"\x02\0\0\0ab", "fewer than 2"),
        ({"name": "w", "datatype": "BYTES", "shape": [1], "parameters": {"binary_data_size": 7}},
         b"\x09\0\0\0abc", "runs past"),
        ({"name": "w", "datatype": "BYTES", "shape": [1], "parameters": {"binary_data_size": 6}},
         b"\x01\0\0\0ab", "longer"),
        ({"name": "w", "datatype": "BYTES", "shape": [1], "parameters": {"binary_data_size": 5}},
         b"\x01\0\0\0\xff", "UTF-8"),
        ({"name": "a", "datatype": "FP32", "shape": [2], "parameters": {"binary_data_size": 8}, "data": [1, 2]},
         b"\0" * 8, "both"),
        ({"name": "a", "datatype": "FP32", "shape": [2], "parameters": {"binary_data_size": -8}}, b"", "non-negative"),
        ({"name": "a", "datatype": "BOOL", "shape": [2], "data": [1, 0]}, b"", "true/false"),
        ({"name": "a", "datatype": "INT8", "shape": [2], "data": [0.5, 1]}, b"", "integers"),
        ({"name": "a", "datatype": "FP32", "shape": [2, 2], "data": [[1, 2], [3]]}, b"", "ragged"),
        ({"name": "a", "datatype": "BYTES", "shape": [2], "data": ["a", 3]}, b"", "strings"),
        ({"name": 3, "datatype": "FP32", "shape": [1], "data": [1]}, b"", "name"),
    ],
)
def test_malformed_tensors(header: dict, raw: bytes, word: str) -> None:
    body, length = _body([(header, raw)])
    with pytest.raises(BadRequest, match=word):
        tensors.parse_request(body, length)


def test_duplicate_names_and_bad_output_parameters() -> None:
    spec = {"name": "a", "datatype": "FP32", "shape": [1], "data": [1]}
    with pytest.raises(BadRequest, match="twice"):
        tensors.parse_request(json.dumps({"inputs": [spec, spec]}).encode(), None)
    for outputs, word in (([{"name": "p"}, {"name": "p"}], "twice"),
                          ([{"name": "p", "parameters": {"binary_data": "yes"}}], "true or false"),
                          ([{"name": "p", "parameters": {"classification": -1}}], "classification"),
                          ({"name": "p"}, "list")):
        with pytest.raises(BadRequest, match=word):
            tensors.parse_request(json.dumps({"inputs": [spec], "outputs": outputs}).encode(), None)


def test_responses_read_back_with_tritonclient() -> None:
    probabilities = np.array([[0.25, 0.75], [1 / 3, 2 / 3]], dtype=np.float32)
    labels = ["yes", "ñö"]
    outputs = [
        tensors.OutputTensor("probabilities", "FP32", (2, 2), probabilities),
        tensors.OutputTensor("label", "BYTES", (2,), labels),
    ]
    for binary in (True, False):
        body, length = tensors.build_response({"model_name": "m", "id": "7"}, [(o, binary) for o in outputs])
        assert (length is not None) == binary
        result = InferResult.from_response_body(body, header_length=length)
        np.testing.assert_array_equal(result.as_numpy("probabilities"), probabilities)
        assert [v.decode() if isinstance(v, bytes) else v for v in result.as_numpy("label")] == labels
        assert result.get_response()["id"] == "7"
    assert deserialize_bytes_tensor(tensors.encode_bytes(labels)).tolist() == [s.encode() for s in labels]


def test_json_floats_keep_their_float32_value() -> None:
    tensor = tensors.OutputTensor("p", "FP32", (1,), np.array([0.1], np.float32))
    body, _ = tensors.build_response({}, [(tensor, False)])
    assert json.loads(body)["outputs"][0]["data"] == [0.1]


def test_read_aligned_aligns_the_tensor_after_the_header() -> None:
    payload = bytes(range(256)) * 40
    for offset in (0, 1, 37, 63):
        view = tensors.read_aligned(io.BytesIO(payload), len(payload), offset)
        assert bytes(view) == payload
        assert np.frombuffer(view, np.uint8, offset=offset).ctypes.data % tensors.ALIGNMENT == 0
    with pytest.raises(BadRequest, match="ended after"):
        tensors.read_aligned(io.BytesIO(payload[:100]), len(payload), 0)


def test_header_length_is_checked_against_the_body() -> None:
    body, length = _body([({"name": "a", "datatype": "FP32", "shape": [1], "data": [1]}, b"")])
    for bad in (str(len(body) + 1), "-1", "x"):
        with pytest.raises(BadRequest, match="Inference-Header-Content-Length"):
            tensors.parse_request(body, bad)
    with pytest.raises(BadRequest, match="malformed JSON"):
        tensors.parse_request(body, str(int(length) - 1))
