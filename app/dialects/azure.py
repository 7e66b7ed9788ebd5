"""Azure Machine Learning: the classic Studio request-response service and online endpoints.

Classic: ``POST /workspaces/<ws>/services/<model>/execute?api-version=2.0[&details=true]``
with one input table ``{"ColumnNames", "Values"}`` (values as strings) answers
``{"Results": {"output1": {"type": "DataTable", "value": {...}}}}``: the input columns
echoed, ``Scored Labels`` and the probabilities, every value a string; ``ColumnTypes``
only with ``details=true``. Errors take the classic form
``{"error": {"code", "message", "details": [{"code", "message"[, "target"]}]}}``.

Online endpoint: ``POST /score`` with ``azureml-model-deployment: <model>`` and
``{"input_data": {"columns", "index", "data"}}``, ``{"input_data": [[...]]}`` or
``{"data": [[...]]}`` (rows in field order when there are no columns) answers a bare
JSON array, one object per row: ``{"Scored Labels": label, <probability columns>: p}``.
Errors: ``{"error": {"code", "message"}}``.

Probability columns, as Azure names them: a binary model has one ``Scored
Probabilities`` column, the probability of its second class (``classes[1]``, the
positive label); otherwise one ``Scored Probabilities for Class "X"`` per class. Image
models take the columns ``pixel_0`` .. ``pixel_<n-1>``. When the operator discloses the
defence, the ``x-mlaas-defense`` header carries its spec.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
from flask import Response, request
from flask.typing import ResponseReturnValue
from flask_smorest import Blueprint

from app.core.accounts import Principal
from app.core.errors import ApiError, BadRequest
from app.core.service import Prediction, bearer_key, prediction_endpoint, services
from app.dialects.common import json_object, reject_unknown
from app.dialects.dialect import Dialect
from app.zoo.base import ServedModel

blp = Blueprint("azure", __name__, description="Azure ML classic request-response service and online endpoints")

API_VERSION = "2.0"
DEPLOYMENT_HEADER = "azureml-model-deployment"
DEFENSE_HEADER = "x-mlaas-defense"
LABELS = "Scored Labels"
OUTPUT = "output1"

# status: (classic error code, its standard message, default detail code)
CLASSIC_ERRORS = {
    400: ("BadArgument", "Invalid argument provided.", "BadParameterValue"),
    401: ("Unauthorized", "Request is unauthorized to access resource.", "ScoreRequestUnauthorized"),
    403: ("Forbidden", "Operation is forbidden.", "Forbidden"),
    404: ("NotFound", "Resource not found.", "WebServiceNotFound"),
    405: ("MethodNotAllowed", "The HTTP method is not allowed for this resource.", "MethodNotAllowed"),
    408: ("RequestTimeout", "The request was not received in time.", "RequestTimeout"),
    413: ("RequestEntityTooLarge", "The request is too large.", "RequestBodyTooLarge"),
    429: ("TooManyRequests", "Too many requests.", "RequestThrottled"),
    500: ("InternalError", "The server encountered an internal error.", "InternalError"),
    503: ("ServiceUnavailable", "The service is temporarily unavailable.", "ModelNotReady"),
}
ONLINE_ERRORS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    408: "RequestTimeout",
    413: "PayloadTooLarge",
    429: "TooManyRequests",
    500: "InternalServerError",
    503: "ServiceUnavailable",
}


class ClassicArgumentError(BadRequest):
    """A 400 with the classic service's specific detail code (and the offending input's name)."""

    def __init__(self, detail_code: str, message: str, target: str | None = None) -> None:
        super().__init__(message)
        self.detail_code = detail_code
        self.target = target


def _json(payload: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status, mimetype="application/json")


def _render_classic(err: ApiError) -> Response:
    code, message, detail_code = CLASSIC_ERRORS.get(err.status, CLASSIC_ERRORS[500])
    detail: dict[str, Any] = {"code": getattr(err, "detail_code", detail_code), "message": err.message}
    target = getattr(err, "target", None)
    if target is not None:
        detail["target"] = target
    return _json({"error": {"code": code, "message": message, "details": [detail]}}, err.status)


def _render_online(err: ApiError) -> Response:
    code = ONLINE_ERRORS.get(err.status, "InternalServerError")
    return _json({"error": {"code": code, "message": err.message}}, err.status)


DIALECT = Dialect(blp, ((("/workspaces",), _render_classic), (("/score",), _render_online)))


# --- classic request-response service -------------------------------------------------------


@blp.route("/workspaces/<workspace>/services/<service>/execute", methods=["POST"])
@prediction_endpoint("azure")
def execute(workspace: str, service: str) -> ResponseReturnValue:
    """Score a table of rows with the model named by the service id (any workspace id)."""
    principal = services().authenticate(bearer_key())
    version = request.args.get("api-version")
    if version != API_VERSION:
        raise ClassicArgumentError(
            "BadVersionCall",
            f"Invalid version parameter was passed during the API call: {version!r}. Use api-version={API_VERSION}.",
        )
    details = request.args.get("details", "false").lower()
    if details not in ("true", "false"):
        raise ClassicArgumentError("BadParameterValue", f"details must be true or false, got {details!r}")
    model = services().model(principal, service)
    table_name, columns, rows = _classic_table(json_object())
    prediction = _predict(principal, model, columns, rows, table_name)
    names, probabilities = _probability_columns(prediction)
    labels = prediction.label_names
    value: dict[str, Any] = {"ColumnNames": [*columns, LABELS, *names]}
    if details == "true":
        fields = {f.name: f for f in model.fields}
        types = ["String" if fields[c].optype == "categorical" else "Double" for c in columns]
        value["ColumnTypes"] = [*types, "String", *["Double"] * len(names)]
    value["Values"] = [
        [*("" if cell is None else str(cell) for cell in row), label, *map(repr, scores)]
        for row, label, scores in zip(rows, labels, probabilities.tolist(), strict=True)
    ]
    response = _json({"Results": {OUTPUT: {"type": "DataTable", "value": value}}})
    _disclose(response, prediction)
    return response


def _classic_table(body: dict[str, Any]) -> tuple[str, list[str], list[Any]]:
    """The one input table of a classic request: its name, column names and rows."""
    reject_unknown(body, {"Inputs", "GlobalParameters"})
    parameters = body.get("GlobalParameters", {})
    if not isinstance(parameters, dict) or parameters:
        raise ClassicArgumentError("BadParameterValue", "this service has no global parameters: send {}")
    inputs = body.get("Inputs")
    if not isinstance(inputs, dict) or len(inputs) != 1:
        raise ClassicArgumentError("InputParseError", 'Inputs must hold exactly one table, e.g. {"input1": {...}}')
    (name, table), = inputs.items()
    if not isinstance(table, dict):
        raise ClassicArgumentError("InputParseError", "the input table must be an object", name)
    unknown = sorted(set(table) - {"ColumnNames", "Values"})
    if unknown:
        raise ClassicArgumentError("InputParseError", f"unknown field(s) in the input table: {unknown}", name)
    columns = table.get("ColumnNames")
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise ClassicArgumentError("InputParseError", "ColumnNames must be a list of column names", name)
    return name, columns, table.get("Values")


def _probability_columns(prediction: Prediction) -> tuple[list[str], np.ndarray]:
    """Azure's probability column names and their values, one row per prediction."""
    classes = prediction.model.classes
    if len(classes) == 2:
        return ["Scored Probabilities"], prediction.probabilities[:, 1:]
    return [f'Scored Probabilities for Class "{c}"' for c in classes], prediction.probabilities


def _disclose(response: Response, prediction: Prediction) -> None:
    if prediction.defense is not None:
        response.headers[DEFENSE_HEADER] = orjson.dumps(prediction.defense).decode()


# --- online endpoint ------------------------------------------------------------------------


@blp.route("/score", methods=["POST"])
@prediction_endpoint("azure")
def score() -> ResponseReturnValue:
    """Score rows with the model named by the ``azureml-model-deployment`` header."""
    principal = services().authenticate(bearer_key())
    model = services().model(principal, _deployment(principal))
    columns, rows = _online_table(json_object())
    prediction = _predict(principal, model, columns, rows, None)
    names, probabilities = _probability_columns(prediction)
    response = _json(
        [
            {LABELS: label, **dict(zip(names, scores, strict=True))}
            for label, scores in zip(prediction.label_names, probabilities.tolist(), strict=True)
        ]
    )
    _disclose(response, prediction)
    return response


def _deployment(principal: Principal) -> str:
    """The deployment (model) header; without it only a caller with a single model is understood."""
    name = request.headers.get(DEPLOYMENT_HEADER, "").strip()
    if name:
        return name
    visible = [m.name for m in services().registry.visible(principal)]
    if len(visible) == 1:
        return visible[0]
    raise BadRequest(f"set the {DEPLOYMENT_HEADER} header to the model to use, one of: {', '.join(visible)}")


def _online_table(body: dict[str, Any]) -> tuple[list[str] | None, list[Any]]:
    """Columns (None: rows are in field order) and rows of the accepted request shapes."""
    reject_unknown(body, {"input_data", "data"})
    if len(body) != 1:
        raise BadRequest('send {"input_data": {"columns": [...], "index": [...], "data": [[...]]}}, '
                         '{"input_data": [[...]]} or {"data": [[...]]}')
    payload = body.get("input_data", body.get("data"))
    if not isinstance(payload, dict):
        return None, payload
    reject_unknown(payload, {"columns", "index", "data"}, "input_data")
    columns = payload.get("columns")
    if columns is not None and (not isinstance(columns, list) or not all(isinstance(c, str) for c in columns)):
        raise BadRequest("input_data.columns must be a list of column names")
    rows = payload.get("data")
    index = payload.get("index")
    if index is not None and (not isinstance(index, list) or not isinstance(rows, list) or len(index) != len(rows)):
        raise BadRequest("input_data.index must be a list with one entry per row of input_data.data")
    return columns, rows


# --- tables to the core ---------------------------------------------------------------------


def _predict(
    principal: Principal, model: ServedModel, columns: list[str] | None, rows: Any, table: str | None
) -> Prediction:
    """Rows of cells (strings or JSON values) to a prediction; ``columns`` None means field order."""
    names = [f.name for f in model.fields]
    if not isinstance(rows, list) or not rows or not all(isinstance(r, list) for r in rows):
        raise _table_error("the rows must be a non-empty list of lists of values", table)
    if columns is None:
        columns = names
    unknown = sorted(set(columns) - set(names))
    if unknown:
        shown = ", ".join(names[:10]) + (", ..." if len(names) > 10 else "")
        raise _table_error(f"unknown column {unknown[0]!r}; the columns are {shown}", table)
    if len(set(columns)) != len(columns):
        raise _table_error("a column is named twice", table)
    width = len(columns)
    for i, row in enumerate(rows):
        if len(row) != width:
            raise _table_error(f"row {i} has {len(row)} values for {width} columns", table)
    if model.image_shape is not None:
        return services().predict(principal, model, _pixel_matrix(names, columns, rows, table))
    # the tree parses its own cells: numbers or numeric strings, categories, "" or null for missing
    return services().predict_records(principal, model, [dict(zip(columns, row, strict=True)) for row in rows])


def _table_error(message: str, table: str | None) -> BadRequest:
    return ClassicArgumentError("InputParseError", message, table) if table is not None else BadRequest(message)


def _pixel_matrix(names: list[str], columns: list[str], rows: list[list[Any]], table: str | None) -> np.ndarray:
    """Numbers or numeric strings, in any column order, to the (n, n_pixels) matrix."""
    if len(columns) != len(names):
        missing = next(n for n in names if n not in set(columns))
        raise _table_error(f"missing column {missing!r}: an image model needs every pixel", table)
    try:
        matrix = np.array(rows).astype(np.float64)
    except (TypeError, ValueError):
        raise _table_error("pixel values must be numbers in [0, 1] (as numbers or strings)", table) from None
    if columns != names:
        position = {c: i for i, c in enumerate(columns)}
        matrix = matrix[:, [position[n] for n in names]]
    return matrix
