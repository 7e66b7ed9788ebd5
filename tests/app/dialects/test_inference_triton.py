"""Open Inference Protocol v2 driven by the unmodified tritonclient against gunicorn."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from tests.app.dialects.conftest import IMAGE, bearer, tree_records
from tests.conftest import LiveServer


@pytest.fixture()
def triton(live_server: LiveServer) -> httpclient.InferenceServerClient:
    client = httpclient.InferenceServerClient(url=live_server.url.removeprefix("http://"))
    yield client
    client.close()


def _pixels(n_pixels: int, rows: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random((rows, n_pixels), dtype=np.float32)


def _image_input(x: np.ndarray, binary: bool) -> httpclient.InferInput:
    tensor = httpclient.InferInput("pixels", list(x.shape), "FP32")
    tensor.set_data_from_numpy(x, binary_data=binary)
    return tensor


def test_health_server_and_model_metadata(triton, key, models) -> None:
    assert triton.is_server_live() and triton.is_server_ready()
    assert "binary_tensor_data" in triton.get_server_metadata()["extensions"]
    assert triton.is_model_ready(IMAGE, headers=bearer(key))
    assert triton.is_model_ready(IMAGE, "1", headers=bearer(key))
    assert not triton.is_model_ready(IMAGE, "2", headers=bearer(key))
    assert not triton.is_model_ready("no-such-model", headers=bearer(key))
    assert not triton.is_model_ready(IMAGE)  # no key

    meta = triton.get_model_metadata(IMAGE, headers=bearer(key))
    model = models[IMAGE]
    h, w = model.metadata["image_shape"]
    assert meta["name"] == IMAGE and meta["versions"] == ["1"]
    assert meta["inputs"] == [{"name": "pixels", "datatype": "FP32", "shape": [-1, h * w]}]
    assert meta["outputs"][0] == {"name": "probabilities", "datatype": "FP32", "shape": [-1, len(model.classes)]}
    assert meta["outputs"][1] == {"name": "label", "datatype": "BYTES", "shape": [-1]}
    parameters = meta["parameters"]
    assert parameters["kind"] == "image" and parameters["classes"] == model.classes
    assert parameters["image_shape"] == [h, w]
    for info in ("dataset", "training_rows", "heldout_rows", "heldout_accuracy"):
        assert parameters[info] == model.metadata[info]
    assert triton.get_model_metadata(IMAGE, "1", headers=bearer(key)) == meta


@pytest.mark.parametrize("binary_in", [True, False])
@pytest.mark.parametrize("binary_out", [True, False])
def test_image_infer_matches_the_local_model(triton, key, models, binary_in: bool, binary_out: bool) -> None:
    model = models[IMAGE]
    x = _pixels(model.n_features, rows=5, seed=3)
    result = triton.infer(
        IMAGE,
        [_image_input(x, binary_in)],
        outputs=[
            httpclient.InferRequestedOutput("probabilities", binary_data=binary_out),
            httpclient.InferRequestedOutput("label", binary_data=binary_out),
        ],
        request_id="req-7",
        headers=bearer(key),
    )
    expected = model.predict_proba(x)
    probabilities = result.as_numpy("probabilities")
    assert probabilities.dtype == np.float32 and probabilities.shape == expected.shape
    np.testing.assert_allclose(probabilities, expected, rtol=1e-5, atol=1e-7)
    labels = [v.decode() if isinstance(v, bytes) else v for v in result.as_numpy("label")]
    assert labels == [model.classes[i] for i in expected.argmax(axis=1)]
    response = result.get_response()
    assert response["id"] == "req-7" and response["model_name"] == IMAGE and response["model_version"] == "1"


def test_default_outputs_are_binary_and_complete(triton, key, models) -> None:
    x = _pixels(models[IMAGE].n_features, rows=3, seed=4)
    result = triton.infer(IMAGE, [_image_input(x, True)], model_version="1", headers=bearer(key))
    outputs = result.get_response()["outputs"]
    assert [o["name"] for o in outputs] == ["probabilities", "label"]
    assert all("binary_data_size" in o["parameters"] for o in outputs)
    np.testing.assert_allclose(result.as_numpy("probabilities"), models[IMAGE].predict_proba(x), rtol=1e-5, atol=1e-7)


def test_only_the_requested_output_comes_back(triton, key, models) -> None:
    x = _pixels(models[IMAGE].n_features, rows=2, seed=5)
    result = triton.infer(
        IMAGE, [_image_input(x, True)], outputs=[httpclient.InferRequestedOutput("label")], headers=bearer(key)
    )
    assert [o["name"] for o in result.get_response()["outputs"]] == ["label"]
    assert result.as_numpy("probabilities") is None


def test_classification_extension_gives_the_top_classes(triton, key, models) -> None:
    model = models[IMAGE]
    x = _pixels(model.n_features, rows=4, seed=6)
    result = triton.infer(
        IMAGE,
        [_image_input(x, True)],
        outputs=[httpclient.InferRequestedOutput("probabilities", class_count=3)],
        headers=bearer(key),
    )
    top = result.as_numpy("probabilities")
    assert top.shape == (4, 3)
    expected = model.predict_proba(x)
    for row, cells in zip(expected, top, strict=True):
        parsed = [cell.decode().split(":") for cell in cells]
        indices = [int(i) for _, i, _ in parsed]
        assert indices == list(np.argsort(-row, kind="stable")[:3])
        assert [label for _, _, label in parsed] == [model.classes[i] for i in indices]
        np.testing.assert_allclose([float(p) for p, _, _ in parsed], row[indices], rtol=1e-5)


def test_compressed_request_bodies(triton, key, models) -> None:
    x = _pixels(models[IMAGE].n_features, rows=2, seed=8)
    for algorithm in ("gzip", "deflate"):
        result = triton.infer(
            IMAGE, [_image_input(x, True)], headers=bearer(key), request_compression_algorithm=algorithm
        )
        np.testing.assert_allclose(result.as_numpy("probabilities"), models[IMAGE].predict_proba(x), rtol=1e-5)


def _tree_inputs(fields: list[dict[str, Any]], records: list[dict[str, Any]], binary: bool) -> list:
    inputs = []
    for field in fields:
        values = [record.get(field["name"]) for record in records]
        if field["optype"] == "categorical":
            array = np.array(["" if v is None else v for v in values], dtype=object)
            tensor = httpclient.InferInput(field["name"], [len(records)], "BYTES")
        else:
            array = np.array([np.nan if v is None else v for v in values], dtype=np.float32)
            tensor = httpclient.InferInput(field["name"], [len(records)], "FP32")
        tensor.set_data_from_numpy(array, binary_data=binary)
        inputs.append(tensor)
    return inputs


@pytest.mark.parametrize("binary", [True, False])
def test_tree_model_with_bytes_inputs(triton, key, models, tree_name: str, binary: bool) -> None:
    meta = triton.get_model_metadata(tree_name, headers=bearer(key))
    fields = meta["parameters"]["fields"]
    assert meta["parameters"]["kind"] == "tree"
    assert meta["parameters"]["sensitive"] in [f["name"] for f in fields]
    assert [i["name"] for i in meta["inputs"]] == [f["name"] for f in fields]
    assert all(i["datatype"] == ("BYTES" if f["optype"] == "categorical" else "FP32")
               for i, f in zip(meta["inputs"], fields, strict=True))
    records = tree_records(fields, rows=6)
    result = triton.infer(
        tree_name,
        _tree_inputs(fields, records, binary),
        outputs=[httpclient.InferRequestedOutput(n, binary_data=binary) for n in ("probabilities", "label")],
        headers=bearer(key),
    )
    model = models[tree_name]
    expected = model.predict_proba(model.encode_records(records))
    np.testing.assert_allclose(result.as_numpy("probabilities"), expected, rtol=1e-5, atol=1e-7)
    labels = [v.decode() if isinstance(v, bytes) else v for v in result.as_numpy("label")]
    assert labels == [model.classes[i] for i in expected.argmax(axis=1)]


def test_errors_reach_tritonclient_with_status_and_message(triton, key, models) -> None:
    x = _pixels(models[IMAGE].n_features, rows=1, seed=9)
    with pytest.raises(InferenceServerException) as unknown:
        triton.infer("no-such-model", [_image_input(x, True)], headers=bearer(key))
    assert unknown.value.status() == "404" and "no-such-model" in unknown.value.message()
    with pytest.raises(InferenceServerException) as version:
        triton.infer(IMAGE, [_image_input(x, True)], model_version="2", headers=bearer(key))
    assert version.value.status() == "404"
    with pytest.raises(InferenceServerException) as unauthorised:
        triton.infer(IMAGE, [_image_input(x, True)])
    assert unauthorised.value.status() == "401"
    with pytest.raises(InferenceServerException) as out_of_range:
        triton.infer(IMAGE, [_image_input(x + 2, True)], headers=bearer(key))
    assert out_of_range.value.status() == "400" and "[0, 1]" in out_of_range.value.message()
