"""Open Inference Protocol v2 (KServe / Triton, with binary tensors) and KServe v1.

v2 is the fast path for large query batches: binary pixel tensors reach the model as
views of the request body. Image models take one ``pixels`` input, ``[n, n_pixels]``
(or ``[n, h, w]``), FP32 (FP64 and FP16 too; integer types are refused rather than
guessed at: pixels are intensities in [0, 1], so 8-bit images are divided by 255 by
the client); tree models one input per field, ``[n]`` (or ``[n, 1]``), BYTES
for categorical fields ("" for missing) and numbers for numeric fields (NaN for
missing). Outputs are ``probabilities`` (FP32 ``[n, n_classes]``, classes in the
order of the metadata's ``parameters.classes``) and ``label`` (BYTES ``[n]``); with
Triton's classification extension (``class_count``) ``probabilities`` holds each row's
top classes as "probability:index:label". A disclosed defence is in ``parameters``.

v1: ``{"instances": [...]}``, each instance a list (pixels, flat or ``[h][w]``; or a
tree model's field values in field order, null for missing) or an object keyed by
field name; the answer is ``{"predictions": [{"label", "probabilities"}, ...]}``.
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np
import orjson
from flask import Response, current_app, request
from flask.typing import ResponseReturnValue
from flask_smorest import Blueprint
from werkzeug.exceptions import MethodNotAllowed

from app.core.accounts import Principal
from app.core.errors import ApiError, BadRequest, NotFound, PayloadTooLarge
from app.core.registry import READY, model_state
from app.core.service import Prediction, bearer_key, prediction_endpoint, services
from app.dialects import tensors
from app.dialects.common import json_object, reject_unknown, request_body
from app.dialects.dialect import Dialect
from app.zoo.base import ServedModel

blp = Blueprint(
    "inference", __name__, description="Open Inference Protocol v2 (KServe/Triton) and KServe v1 prediction"
)

VERSION = "1"
PIXELS = "pixels"
PROBABILITIES = "probabilities"
LABEL = "label"
FEATURES = "features"
PIXEL_TYPES = ("FP16", "FP32", "FP64")
EXTENSIONS = ["binary_tensor_data", "classification"]
PREDICT_SUFFIX = ":predict"
INFO_KEYS = (
    "dataset",
    "training_rows",
    "heldout_rows",
    "heldout_accuracy",
    "training_defense",
    "epsilon",
    "delta",
    "sensitive_placement",
    "image_shape",
    "split",
    "training_defense_params",
)
"""What evaluators read: the data split, held-out accuracy, and a training defence with its privacy budget."""


def _json(payload: Any, status: int = 200) -> Response:
    """orjson serialises numpy arrays natively and float32 in its shortest form."""
    return Response(orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY), status, mimetype="application/json")


def _render_error(err: ApiError) -> Response:
    return _json({"error": err.message}, err.status)


DIALECT = Dialect(blp, ((("/v2", "/v1"), _render_error),))


def _model(name: str, version: str | None) -> tuple[Principal, ServedModel]:
    principal = services().authenticate(bearer_key())
    model = services().model(principal, name)
    if version is not None and version != VERSION:
        raise NotFound(f"model {name!r} has no version {version!r}; only version {VERSION} exists")
    return principal, model


# --- server and model metadata -------------------------------------------------------------


@blp.route("/v2", methods=["GET"])
def server_metadata() -> ResponseReturnValue:
    """Server name, version and the protocol extensions it supports."""
    version = current_app.config["API_VERSION"]
    return _json({"name": "mlaas-inversion-lab", "version": version, "extensions": EXTENSIONS})


@blp.route("/v2/health/live", methods=["GET"])
def live() -> ResponseReturnValue:
    """The worker answers (no key needed)."""
    return _json({"live": True})


@blp.route("/v2/health/ready", methods=["GET"])
def ready() -> ResponseReturnValue:
    """Ready to predict: the app exists only once the zoo is loaded (no key needed)."""
    return _json({"ready": True})


@blp.route("/v2/models/<model_name>/ready", methods=["GET"])
@blp.route("/v2/models/<model_name>/versions/<version>/ready", methods=["GET"])
def model_ready(model_name: str, version: str | None = None) -> ResponseReturnValue:
    """200 if the caller can use the model (a key is needed: uploaded models are per user); 400 with its
    ``state`` while a defended model is still training."""
    _, model = _model(model_name, version)
    state = model_state(model)
    if state != READY:
        return _json({"error": f"model {model_name!r} is not ready: {state}", "name": model_name, "ready": False,
                      "state": state}, 400)
    return _json({"name": model_name, "ready": True})


@blp.route("/v2/models/<model_name>", methods=["GET"])
@blp.route("/v2/models/<model_name>/versions/<version>", methods=["GET"])
def model_metadata(model_name: str, version: str | None = None) -> ResponseReturnValue:
    """The model's tensors and, in ``parameters``, its classes, schema and data-set split."""
    _, model = _model(model_name, version)
    return _json(_metadata(model_name, model))


def _metadata(name: str, model: ServedModel) -> dict[str, Any]:
    """The v2 model metadata of ``model``, served under ``name``."""
    rows = -1
    parameters: dict[str, Any] = {"kind": model.kind, "classes": list(model.classes)}
    if model.image_shape is not None:
        inputs = [{"name": PIXELS, "datatype": "FP32", "shape": [rows, model.n_features]}]
        parameters["image_shape"] = list(model.image_shape)
    elif model.vector_input is not None:
        inputs = [{"name": model.vector_input, "datatype": "FP32", "shape": [rows, model.n_features]}]
    else:
        inputs = [
            {"name": f.name, "datatype": "BYTES" if f.optype == "categorical" else "FP32", "shape": [rows]}
            for f in model.fields
        ]
        parameters["fields"] = [f.to_json() for f in model.fields]
        parameters["sensitive"] = model.sensitive
    parameters.update({key: model.metadata[key] for key in INFO_KEYS if key in model.metadata})
    parameters["state"] = model_state(model)
    return {
        "name": name,
        "versions": [VERSION],
        "platform": model.platform,
        "inputs": inputs,
        "outputs": [
            *([{"name": FEATURES, "datatype": "FP32", "shape": [rows, model.feature_width]}]
              if model.feature_width is not None else []),
            {"name": PROBABILITIES, "datatype": "FP32", "shape": [rows, len(model.classes)]},
            {"name": LABEL, "datatype": "BYTES", "shape": [rows]},
        ],
        "parameters": parameters,
    }


# --- v2 inference ---------------------------------------------------------------------------


@blp.route("/v2/models/<model_name>/infer", methods=["POST"])
@blp.route("/v2/models/<model_name>/versions/<version>/infer", methods=["POST"])
@prediction_endpoint("v2")
def infer(model_name: str, version: str | None = None) -> ResponseReturnValue:
    """Predict a batch sent as JSON tensors or as binary tensors after a JSON header."""
    principal, model = _model(model_name, version)
    header_length = request.headers.get(tensors.HEADER_LENGTH)
    parsed = tensors.parse_request(_body(header_length), header_length)
    wanted = parsed.outputs or [
        tensors.RequestedOutput(name, parsed.binary_default) for name in _output_names(model)
    ]
    _check_outputs(wanted, _output_names(model))
    if model.image_shape is not None:
        prediction = services().predict(principal, model, _pixels(model, model.image_shape, parsed.inputs))
    elif model.vector_input is not None:
        prediction = services().predict(principal, model, _vector(model, model.vector_input, parsed.inputs))
    else:
        prediction = services().predict_records(principal, model, _tree_records(model, parsed.inputs))
    header: dict[str, Any] = {"model_name": model_name, "model_version": VERSION}
    if parsed.id is not None:
        header["id"] = parsed.id
    if prediction.defense is not None:
        header["parameters"] = {"defense": prediction.defense}
    outputs = [(_output(prediction, want), want.binary) for want in wanted]
    body, json_length = tensors.build_response(header, outputs)
    if json_length is None:
        return Response(body, mimetype="application/json")
    response = Response(body, mimetype="application/octet-stream")
    response.headers[tensors.HEADER_LENGTH] = str(json_length)
    return response


def _body(header_length: str | None) -> bytes | memoryview:
    """The request body, read once: straight into an aligned buffer when its length is known.

    gzip or deflate bodies (tritonclient can send them) are inflated, within the body limit.
    """
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding == "identity":
        length = request.content_length
        json_length = tensors.header_length(header_length)
        if length is None or json_length is None:
            return request_body()
        request.stream  # noqa: B018 - raises the 413 when Content-Length is over the body limit
        # Exactly Content-Length bytes from the server's own stream: werkzeug's wrapper
        # would copy every chunk twice more.
        return tensors.read_aligned(request.environ["wsgi.input"], length, json_length)
    if encoding not in ("gzip", "deflate"):
        raise BadRequest(f"unsupported Content-Encoding {encoding!r}; use gzip, deflate or none")
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    inflater = zlib.decompressobj(wbits=31 if encoding == "gzip" else 15)
    try:
        inflated = inflater.decompress(request_body(), limit)
    except zlib.error as exc:
        raise BadRequest(f"the {encoding} body does not decompress: {exc}") from None
    if inflater.unconsumed_tail:
        raise PayloadTooLarge(f"the decompressed body is larger than the limit of {limit} bytes")
    return inflated


def _only(inputs: list[tensors.Tensor], expected: list[str]) -> dict[str, tensors.Tensor]:
    by_name = {t.name: t for t in inputs}
    unknown = sorted(set(by_name) - set(expected))
    missing = [name for name in expected if name not in by_name]
    if unknown or missing:
        shown = ", ".join(repr(n) for n in expected[:10]) + (", ..." if len(expected) > 10 else "")
        problem = f"unknown input {unknown[0]!r}" if unknown else f"missing input {missing[0]!r}"
        raise BadRequest(f"{problem}: this model takes the inputs {shown}")
    return by_name


def _pixels(model: ServedModel, image: tuple[int, int], inputs: list[tensors.Tensor]) -> np.ndarray:
    """The ``pixels`` tensor as an (n, n_pixels) matrix, a view of the body when it came binary."""
    tensor = _only(inputs, [PIXELS])[PIXELS]
    if tensor.datatype not in PIXEL_TYPES:
        raise BadRequest(
            f"input {PIXELS!r} must be {', '.join(PIXEL_TYPES)} with values in [0, 1] "
            f"(divide 8-bit pixels by 255), got {tensor.datatype}"
        )
    shape = tensor.shape
    if not (len(shape) == 2 and shape[1] == model.n_features) and not (len(shape) == 3 and shape[1:] == image):
        raise BadRequest(
            f"input {PIXELS!r} must have shape [n, {model.n_features}] or [n, {image[0]}, {image[1]}], "
            f"got {list(shape)}"
        )
    return tensor.data.reshape(shape[0], model.n_features)


def _vector(model: ServedModel, name: str, inputs: list[tensors.Tensor]) -> np.ndarray:
    """The one vector input (a split network's ``features``) as an (n, n_features) matrix."""
    tensor = _only(inputs, [name])[name]
    if tensor.datatype not in PIXEL_TYPES:
        raise BadRequest(f"input {name!r} must be {', '.join(PIXEL_TYPES)}, got {tensor.datatype}")
    if len(tensor.shape) != 2 or tensor.shape[1] != model.n_features:
        raise BadRequest(f"input {name!r} must have shape [n, {model.n_features}], got {list(tensor.shape)}")
    return tensor.data


def _tree_records(model: ServedModel, inputs: list[tensors.Tensor]) -> list[dict[str, Any]]:
    """One record per row from one column tensor per field ("" and NaN are missing to the tree)."""
    by_name = _only(inputs, [f.name for f in model.fields])
    rows = None
    columns: list[tuple[str, list[Any]]] = []
    for field in model.fields:
        tensor = by_name[field.name]
        where = f"input {field.name!r}"
        if len(tensor.shape) not in (1, 2) or tensor.shape[1:] not in ((), (1,)):
            raise BadRequest(f"{where} must have shape [n] or [n, 1], got {list(tensor.shape)}")
        if rows is None:
            rows = tensor.shape[0]
        elif tensor.shape[0] != rows:
            raise BadRequest(f"{where} has {tensor.shape[0]} rows, the first input has {rows}")
        categorical = field.optype == "categorical"
        if categorical != (tensor.datatype == tensors.BYTES) or tensor.datatype == "BOOL":
            expected = 'BYTES (the category, "" for missing)' if categorical else "FP32 or FP64 (NaN for missing)"
            raise BadRequest(f"{where} is {field.optype}: send {expected}")
        values = tensor.data.reshape(-1)
        columns.append((field.name, values.tolist() if categorical else values.astype(np.float64).tolist()))
    return [{name: values[i] for name, values in columns} for i in range(rows or 0)]


def _output_names(model: ServedModel) -> tuple[str, ...]:
    """A split network's device stage answers its ``features`` first."""
    return (FEATURES, PROBABILITIES, LABEL) if model.feature_width is not None else (PROBABILITIES, LABEL)


def _check_outputs(wanted: list[tensors.RequestedOutput], names: tuple[str, ...]) -> None:
    """Refuse unknown outputs before predicting, so that a refused request costs no budget."""
    for want in wanted:
        if want.name not in names:
            shown = " and ".join([", ".join(repr(name) for name in names[:-1]), repr(names[-1])])
            raise BadRequest(f"unknown output {want.name!r}: this model has {shown}")
        if want.classification and want.name != PROBABILITIES:
            raise BadRequest(f"classification applies to {PROBABILITIES!r}, not to {want.name!r}")


def _output(prediction: Prediction, want: tensors.RequestedOutput) -> tensors.OutputTensor:
    """One requested output tensor of the defended prediction."""
    if want.name == LABEL:
        return tensors.OutputTensor(LABEL, tensors.BYTES, (len(prediction.labels),), prediction.label_names)
    if want.name == FEATURES:
        features = prediction.features()
        return tensors.OutputTensor(FEATURES, "FP32", features.shape, features)
    if want.classification:
        return _top_classes(prediction, want.classification)
    probabilities = prediction.probabilities.astype(np.float32)
    return tensors.OutputTensor(PROBABILITIES, "FP32", probabilities.shape, probabilities)


def _top_classes(prediction: Prediction, k: int) -> tensors.OutputTensor:
    """Triton's classification extension: per row the top k as "probability:index:label"."""
    k = min(k, prediction.probabilities.shape[1])
    order = np.argsort(-prediction.probabilities, axis=1, kind="stable")[:, :k]
    top = np.take_along_axis(prediction.probabilities, order, axis=1)
    classes = prediction.model.classes
    cells = [
        f"{p!r}:{i}:{classes[i]}" for row_p, row_i in zip(top.tolist(), order.tolist(), strict=True)
        for p, i in zip(row_p, row_i, strict=True)
    ]
    return tensors.OutputTensor(PROBABILITIES, tensors.BYTES, (len(order), k), cells)


# --- KServe v1 ------------------------------------------------------------------------------


@blp.route("/v1/models/<model_name>", methods=["GET"])
def v1_model(model_name: str) -> ResponseReturnValue:
    """KServe v1 model status."""
    if model_name.endswith(PREDICT_SUFFIX):
        # the rule above matches ``GET /v1/models/<m>:predict`` too: predict takes POST only
        raise MethodNotAllowed(valid_methods=["POST"])
    _, model = _model(model_name, None)
    return _json({"name": model_name, "ready": model_state(model) == READY})


@blp.route(f"/v1/models/<model_name>{PREDICT_SUFFIX}", methods=["POST"])
@prediction_endpoint("v1")
def v1_predict(model_name: str) -> ResponseReturnValue:
    """KServe v1 predict: ``{"instances": [...]}`` to ``{"predictions": [{"label", "probabilities"}]}``."""
    principal, model = _model(model_name, None)
    body = json_object()
    reject_unknown(body, {"instances"})
    instances = body.get("instances")
    if not isinstance(instances, list) or not instances:
        raise BadRequest("instances must be a non-empty list")
    if all(isinstance(i, dict) for i in instances):
        prediction = services().predict_records(principal, model, instances)
    elif not all(isinstance(i, list) for i in instances):
        raise BadRequest("instances must be all lists (values in field order) or all objects (keyed by field)")
    elif model.image_shape is not None:
        prediction = services().predict(principal, model, _instance_matrix(model, instances))
    else:
        prediction = services().predict_records(principal, model, _positional_records(model, instances))
    payload: dict[str, Any] = {
        "predictions": [
            {"label": label, "probabilities": row}
            for label, row in zip(prediction.label_names, prediction.probabilities.tolist(), strict=True)
        ]
    }
    if prediction.defense is not None:
        payload["defense"] = prediction.defense
    return _json(payload)


def _instance_matrix(model: ServedModel, instances: list[Any]) -> np.ndarray:
    try:
        array = np.array(instances)
    except ValueError:
        raise BadRequest("instances must all have the same shape") from None
    if array.dtype.kind not in "iuf":
        raise BadRequest("pixel values must be numbers in [0, 1]")
    if array.ndim < 2 or array[0].size != model.n_features:
        raise BadRequest(f"each instance must hold {model.n_features} pixel values (flat or as rows)")
    return array.reshape(len(array), -1)


def _positional_records(model: ServedModel, instances: list[list[Any]]) -> list[dict[str, Any]]:
    names = [f.name for f in model.fields]
    records = []
    for row in instances:
        if len(row) != len(names):
            raise BadRequest(f"each instance must hold {len(names)} values, in the order {', '.join(names)}")
        records.append(dict(zip(names, row, strict=True)))
    return records
