"""BigML ("andromeda") API: the wire translation, so that BigML's own bindings work unmodified.

Authentication: ``?username=U&api_key=K`` (pairs joined by ``&`` or ``;``) or
``Authorization: Bearer K``. The key decides the user; a ``username`` that is not
the key's user is a 401.

Resources: built-in trees are ``model/<id>``, built-in image models
``deepnet/<id>`` (``id``: the first 24 hex digits of sha1 of the model's name),
uploads ``model/<upload id>``. ``GET /andromeda/model`` lists all of them (the
deepnets too); ``/andromeda/deepnet``, ``/source``, ``/dataset`` list their kind.
``POST /andromeda/source`` (multipart ``file``, or JSON ``{"data": csv}``),
``/dataset`` and ``/model`` train synchronously and answer 201 with status 5:
never 202, which the bindings would re-POST. ``DELETE`` works on the user's own
sources, datasets and models (a source still used by a dataset, or a dataset by a
model, is a 400). Predictions are not stored: ``GET /andromeda/prediction``
lists nothing and a prediction id is a 404.

White-box downloads: ``GET /andromeda/model/<id>`` is the whole tree, with
training counts per node; ``GET /andromeda/deepnet/<id>`` the network, streamed.
When the operator switched downloads off for a model, asking for the tree
(``root``) or the network is a 403, while the resource without it (``exclude=root``
or ``exclude=network``, or ``full=false``) is still served: that is what the
bindings read before a prediction, so remote predictions keep working while
``bigml.model.Model`` (which asks for everything) gets the 403. ``exclude`` drops
the named properties wherever they occur; ``optype`` keeps only fields of those
optypes; other query parameters the bindings add (``limit=-1``, ``only_model``,
``shared_hash``...) change nothing here.

Predictions: ``POST /prediction`` (current bindings) or ``/andromeda/prediction``
with ``{"model" | "deepnet": id, "input_data": {...}}``; the bindings send a
deepnet's id as ``model``. ``input_data`` keys are field names or ids; null or a
missing token ("", "NA", ...) leaves a field out, which stops a tree's descent
there (BigML's last-prediction strategy, ``missing_strategy`` 0, the only one);
the objective, if given, is ignored. Categorical values are strings among the
field's categories, numeric ones numbers or numeric strings. A deepnet needs
every pixel, in [0, 1]. The answer is 201 with a ``Location`` and BigML's
prediction object (``prediction_path`` for trees only).

Confidences (the defence layer sees every number): BigML's real tree predictions
report as ``confidence`` the Wilson-score lower bound of the leaf's majority share,
a function of the leaf's class counts. Here every confidence or probability a
prediction carries is the *defended* probability from the core: ``probability``
and ``confidence`` are the defended probability of the output class, and
``probabilities`` and ``confidences`` are the defended probabilities of every
class, in the model's class order. A Wilson bound would need the leaf's training
count, a number the defence cannot perturb (it would undo rounding, for
instance), so it appears only in the white-box download, where BigML puts it.
For the same reason ``prediction_path`` lists the splits taken only for models
whose download is on (the path is the tree, read one query at a time); for a
black-box model it is empty.

Errors: ``{"code": <http status>, "status": {"code": <BigML code>, "message": ...,
"extra": [...]}}``. The negative codes follow BigML's published table as we recall
it (unverified, no copy to check against): -1100 unauthorized use (401, 403),
-1200 missing parameter, -1201 invalid or unknown id (400, 404), -1203 field error
(unknown field), -1204 bad request (anything else), -1205 value error (wrong type,
unknown category, NaN or infinity, pixel missing or outside [0, 1]), -1206
validation error (budget and rate limits: 429; body too large: 413).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote_plus

import numpy as np
import orjson
from flask import Response, g, request
from flask.typing import ResponseReturnValue
from flask_smorest import Blueprint

from app.core.accounts import Principal
from app.core.errors import ApiError, BadRequest, InvalidInput, NotFound, Unauthorized
from app.core.registry import READY, model_state
from app.core.service import Prediction, Services, bearer_key, prediction_endpoint, services
from app.core.uploads import DatasetRecord, Uploads, check_name, decode_csv, rows_to_csv
from app.dialects import bigml_resources as res
from app.dialects.common import json_object
from app.dialects.dialect import Dialect
from app.transport import located
from app.zoo import MISSING_TOKENS
from app.zoo.base import Field, ServedModel
from app.zoo.trees import TreeModel

blp = Blueprint("bigml", __name__, description="BigML's andromeda API: models, deepnets, uploads, predictions")
# OpenAPI: BigML's ?username=&api_key= (the ``bigml`` scheme), or a bearer key.
authenticated = blp.doc(security=[{"bigml": []}, {"bearer": []}])

ID = re.compile(r"^[0-9a-f]{24}$")
RESOURCE = re.compile(r"^(model|deepnet|source|dataset)/([0-9a-f]{24})$")
PAGE_DEFAULT, PAGE_MAX, OFFSET_MAX = 20, 1000, 10**9
# Arguments BigML accepts on every create and that change nothing here.
COMMON_ARGS = {"name", "description", "tags", "category", "project"}
PREDICTION_ARGS = COMMON_ARGS | {"model", "deepnet", "input_data", "missing_strategy"}
SOURCE_ARGS = COMMON_ARGS | {"data", "remote", "file"}
DATASET_ARGS = COMMON_ARGS | {"source"}
MODEL_ARGS = COMMON_ARGS | {"dataset", "objective_field"}
FALSE = {"false", "no", "0"}

TITLES = {
    -1100: "Unauthorized use",
    -1200: "Missing parameter",
    -1201: "Invalid id",
    -1203: "Field error",
    -1204: "Bad request",
    -1205: "Value error",
    -1206: "Validation error",
}
STATUS_CODES = {401: -1100, 403: -1100, 404: -1201, 413: -1206, 429: -1206}
INPUT_CODES = {"unknown-field": -1203, "missing": -1205, "value": -1205}


class BigMLError(BadRequest):
    """A 400 with BigML's specific code and the offending names in ``extra``."""

    def __init__(self, code: int, message: str, extra: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.bigml_code = code
        self.extra = list(extra)


def _json(payload: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY), status, headers, "application/json")


def render_error(err: ApiError) -> Response:
    if isinstance(err, InvalidInput):
        code, extra = INPUT_CODES[err.reason], [err.field] if err.field is not None else []
    else:
        code, extra = getattr(err, "bigml_code", None) or STATUS_CODES.get(err.status, -1204), getattr(err, "extra", [])
    extra = extra or [TITLES[code]]
    return _json({"code": err.status, "status": {"code": code, "message": err.message, "extra": extra}}, err.status)


DIALECT = Dialect(blp, ((("/andromeda", "/prediction"), render_error),))


# --- request parsing ------------------------------------------------------------------


def _params() -> dict[str, str]:
    """The query string, with ``&`` or ``;`` between pairs (Flask's parser knows only ``&``)."""
    params: dict[str, str] | None = g.get("bigml_params")
    if params is None:
        params = {}
        query = request.query_string
        for pair in re.split(r"[&;]", query.decode("latin-1")) if query else ():
            if pair:
                key, _, value = pair.partition("=")
                params[unquote_plus(key)] = unquote_plus(value)
        g.bigml_params = params
    return params


def _principal(svc: Services | None = None) -> Principal:
    params = _params()
    key = params.get("api_key") or bearer_key()
    if not key:
        raise Unauthorized("an API key is required: ?username=U&api_key=K, or 'Authorization: Bearer K'")
    principal = (svc or services()).authenticate(key)
    username = params.get("username")
    if username and username != principal.username:
        raise Unauthorized(f"the API key does not belong to user {username!r}")
    return principal


def _page() -> tuple[int, int]:
    params = _params()
    values = []
    for name, default, low, high in (("offset", 0, 0, OFFSET_MAX), ("limit", PAGE_DEFAULT, 1, PAGE_MAX)):
        raw = params.get(name, str(default))
        try:
            value = int(raw)
        except ValueError:
            raise BigMLError(-1205, f"{name} must be an integer, got {raw!r}") from None
        if not low <= value <= high:
            raise BigMLError(-1205, f"{name} must be between {low} and {high}, got {value}")
        values.append(value)
    return values[0], values[1]


def _listing(kind: str, objects: list[dict[str, Any]], total: int, offset: int, limit: int) -> Response:
    def link(start: int) -> str:
        return f"/andromeda/{kind}?limit={limit}&offset={start}"

    meta = {
        "limit": limit,
        "offset": offset,
        "total_count": total,
        "next": link(offset + limit) if offset + limit < total else None,
        "previous": link(max(0, offset - limit)) if offset > 0 else None,
    }
    return _json({"meta": meta, "objects": objects})


def _args(allowed: set[str]) -> dict[str, Any]:
    """A create's JSON arguments: an object whose keys BigML knows and whose common ones are well typed."""
    body = json_object()
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise BigMLError(-1204, f"unknown argument(s): {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}",
                         unknown)
    _common_types(body)
    return body


def _common_types(body: Mapping[str, Any]) -> None:
    for name in ("name", "description", "project"):
        if body.get(name) is not None and not isinstance(body[name], str):
            raise BigMLError(-1205, f"{name} must be a string", [name])
    tags = body.get("tags")
    if tags is not None and (not isinstance(tags, list) or not all(isinstance(t, str) for t in tags)):
        raise BigMLError(-1205, "tags must be a list of strings", ["tags"])
    category = body.get("category")
    if category is not None and (isinstance(category, bool) or not isinstance(category, int)):
        raise BigMLError(-1205, "category must be an integer", ["category"])


def _reference(body: Mapping[str, Any], kind: str) -> str:
    """The id in ``body[kind]`` (``kind/<24 hex>``): missing is -1200, malformed -1201."""
    value = body.get(kind)
    if value is None:
        raise BigMLError(-1200, f"the {kind} argument is required", [kind])
    match = RESOURCE.match(value) if isinstance(value, str) else None
    if match is None or match.group(1) != kind:
        raise BigMLError(-1201, f"{kind} must be a {kind} id like {kind}/<24 hex digits>, got {value!r}", [kind])
    return match.group(2)


def _uploads() -> Uploads:
    registry = services().registry
    return Uploads(registry.engine, registry)


def _created(resource: dict[str, Any]) -> Response:
    """A create's answer: 201, the resource, and its ``Location`` (the bindings read both)."""
    resource["code"] = 201
    location = f"{request.url_root}andromeda/{resource['resource']}"
    return _json(resource, 201, {"Location": location})


# --- finding models -------------------------------------------------------------------


def _builtin(ident: str, svc: Services | None = None) -> str | None:
    """The built-in model whose id is ``ident``."""
    return res.builtin_names(tuple((svc or services()).registry.builtins)).get(ident)


def _model(principal: Principal, kind: str, ident: str, svc: Services | None = None) -> ServedModel:
    """The model behind ``kind/ident`` that ``principal`` may use; a 404 otherwise."""
    svc = svc or services()
    name = _builtin(ident, svc)
    if name is None and kind == "model" and ID.match(ident):
        name = f"model/{ident}"
    model = svc.model(principal, name) if name is not None else None
    if model is None or res.resource_of(model) != f"{kind}/{ident}":
        raise NotFound(f"no {kind} {kind}/{ident}")
    return model


def _upload_context(principal: Principal, model: ServedModel) -> dict[str, Any]:
    """An uploaded model's creation time, origins and its dataset's field summaries."""
    uploads = _uploads()
    record = uploads.model(principal, model.upload_id)
    dataset = uploads.dataset(principal, record.dataset_id)
    return {
        "created": record.created_at,
        "dataset": f"dataset/{record.dataset_id}",
        "source": f"source/{record.source_id}",
        "summaries": res.upload_summaries(dataset, model),
    }


# --- listings -------------------------------------------------------------------------


def _model_entries(principal: Principal, kinds: set[str]) -> list[dict[str, Any]]:
    entries = [
        res.listing_entry(model, created=res.BUILTIN_CREATED)
        for model in services().registry.builtins.values()
        if res.kind_of(model) in kinds
    ]
    if "model" in kinds:
        entries += [
            res.listing_entry(
                r.model, created=r.created_at, dataset=f"dataset/{r.dataset_id}", source=f"source/{r.source_id}"
            )
            for r in _uploads().models(principal)
        ]
    return entries


@blp.route("/andromeda/model", methods=["GET"])
@authenticated
def list_models() -> ResponseReturnValue:
    """Every model the user may use: built-in trees, built-in face deepnets, own uploads."""
    principal = _principal()
    offset, limit = _page()
    entries = _model_entries(principal, {"model", "deepnet"})
    return _listing("model", entries[offset : offset + limit], len(entries), offset, limit)


@blp.route("/andromeda/deepnet", methods=["GET"])
@authenticated
def list_deepnets() -> ResponseReturnValue:
    """The built-in image models, as BigML deepnets."""
    principal = _principal()
    offset, limit = _page()
    entries = _model_entries(principal, {"deepnet"})
    return _listing("deepnet", entries[offset : offset + limit], len(entries), offset, limit)


@blp.route("/andromeda/source", methods=["GET"])
@authenticated
def list_sources() -> ResponseReturnValue:
    """The user's own sources."""
    principal = _principal()
    offset, limit = _page()
    records, total = _uploads().sources(principal, offset, limit)
    return _listing("source", [res.source_json(r) for r in records], total, offset, limit)


@blp.route("/andromeda/dataset", methods=["GET"])
@authenticated
def list_datasets() -> ResponseReturnValue:
    """The user's own datasets."""
    principal = _principal()
    offset, limit = _page()
    records, total = _uploads().datasets(principal, offset, limit)
    return _listing("dataset", [res.dataset_json(r) for r in records], total, offset, limit)


@blp.route("/andromeda/prediction", methods=["GET"], endpoint="list_predictions")
@authenticated
def list_predictions() -> ResponseReturnValue:
    """Predictions are not stored, so there are none to list."""
    _principal()
    offset, limit = _page()
    return _listing("prediction", [], 0, offset, limit)


# --- reading and downloading ----------------------------------------------------------


def _exclusions() -> tuple[set[str], set[str] | None, bool]:
    """``exclude`` names, the ``optype`` filter and whether ``full=false`` asked for a light resource."""
    params = _params()
    exclude = {name for name in params.get("exclude", "").split(",") if name}
    optypes = {name for name in params.get("optype", "").split(",") if name} or None
    return exclude, optypes, params.get("full", "").lower() in FALSE


def _prune(value: Any, exclude: set[str], optypes: set[str] | None) -> Any:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in exclude:
                continue
            if optypes is not None and key in ("fields", "model_fields") and isinstance(item, dict):
                item = {k: v for k, v in item.items() if v.get("optype") in optypes}
            out[key] = _prune(item, exclude, optypes)
        return out
    if isinstance(value, list):
        return [_prune(item, exclude, optypes) for item in value]
    return value


def _white_box(model: ServedModel, part: str) -> tuple[set[str], set[str] | None]:
    """The exclusions of this read; 403 if it asks for ``part`` of a model whose download is off."""
    exclude, optypes, light = _exclusions()
    if light:
        exclude |= {part, "fields", "model_fields", "input_fields"}
    if part not in exclude:
        services().registry.require_download(model)
    return exclude, optypes


@blp.route("/andromeda/model/<ident>", methods=["GET"])
@authenticated
def get_model(ident: str) -> ResponseReturnValue:
    """A tree as BigML model JSON with every node's training counts (the white-box download)."""
    principal = _principal()
    model = _model(principal, "model", ident)
    exclude, optypes = _white_box(model, "root")
    if model.owner is None:
        resource = res.tree_json(model, created=res.BUILTIN_CREATED)
    else:
        resource = res.tree_json(model, **_upload_context(principal, model))
    return _json(_prune(resource, exclude, optypes))


@blp.route("/andromeda/deepnet/<ident>", methods=["GET"])
@authenticated
def get_deepnet(ident: str) -> ResponseReturnValue:
    """An image model as a BigML deepnet: layer weights (one row per node), offsets, activations."""
    model = _model(_principal(), "deepnet", ident)
    exclude, optypes = _white_box(model, "network")
    head = _prune(res.deepnet_head(model, res.BUILTIN_CREATED), exclude, optypes)
    if {"network", "deepnet"} & exclude or model_state(model) != READY:  # no network before it is trained
        return _json(head)
    return Response(res.stream_deepnet(head, model), 200, mimetype="application/json")


@blp.route("/andromeda/source/<ident>", methods=["GET"])
@authenticated
def get_source(ident: str) -> ResponseReturnValue:
    """One of the user's sources."""
    return _json(res.source_json(_uploads().source(_principal(), ident)))


@blp.route("/andromeda/dataset/<ident>", methods=["GET"])
@authenticated
def get_dataset(ident: str) -> ResponseReturnValue:
    """One of the user's datasets, with a summary of every field."""
    return _json(res.dataset_json(_uploads().dataset(_principal(), ident)))


@blp.route("/andromeda/<any(source, dataset, model):kind>/<ident>", methods=["DELETE"])
@authenticated
def delete_resource(kind: str, ident: str) -> ResponseReturnValue:
    """Delete one of the user's own sources, datasets or uploaded models."""
    principal = _principal()
    uploads = _uploads()
    if kind == "model" and _builtin(ident) is not None:
        raise BigMLError(-1204, "built-in models cannot be deleted")
    {"source": uploads.delete_source, "dataset": uploads.delete_dataset, "model": uploads.delete_model}[kind](
        principal, ident
    )
    return Response(status=204)


# --- the upload flow ------------------------------------------------------------------


def _source_args() -> tuple[dict[str, Any], str, str]:
    """Arguments, CSV text and default name of a source create (multipart or JSON)."""
    if request.mimetype == "multipart/form-data":
        form = {key: request.form[key] for key in request.form}
        # werkzeug names a part whose name it cannot read None
        unknown = sorted(str(name) for name in set(form) - (COMMON_ARGS | {"file"}))
        if unknown:
            raise BigMLError(-1204, f"unknown argument(s): {', '.join(unknown)}", unknown)
        upload = request.files.get("file")
        if upload is None:
            raise BigMLError(-1200, "a multipart source upload needs a 'file' part", ["file"])
        return form, decode_csv(upload.read()), upload.filename or "Uploaded source"
    body = _args(SOURCE_ARGS)
    if "remote" in body:
        raise BigMLError(-1204, "remote sources are not supported here: upload the file instead", ["remote"])
    if "file" in body:
        raise BigMLError(-1205, "file must be a multipart upload", ["file"])
    data = body.get("data")
    if data is None:
        raise BigMLError(-1200, "a source needs a multipart 'file' upload or inline 'data'", ["data"])
    if not isinstance(data, str):
        raise BigMLError(-1205, "data must be a string of CSV text", ["data"])
    return body, _inline_csv(data), "Inline source"


def _inline_csv(data: str) -> str:
    """Inline data: CSV text, or the JSON list of rows that the bindings send."""
    if data.lstrip().startswith("["):
        try:
            rows = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise BigMLError(-1205, f"inline data looks like JSON but is not: {exc}", ["data"]) from exc
        if not isinstance(rows, list):
            raise BigMLError(-1205, "inline JSON data must be a list of rows", ["data"])
        return rows_to_csv(rows)
    return data


@blp.route("/andromeda/source", methods=["POST"])
@authenticated
def create_source() -> ResponseReturnValue:
    """Upload a CSV (multipart ``file``, or inline ``data``); remote URLs are a 400."""
    principal = _principal()
    args, text, default = _source_args()
    record = _uploads().create_source(principal, check_name(args.get("name")) or default, text)
    return _created(res.source_json(record))


@blp.route("/andromeda/dataset", methods=["POST"])
@authenticated
def create_dataset() -> ResponseReturnValue:
    """A dataset from one of the user's sources: ``{"source": "source/<id>"}``."""
    principal = _principal()
    body = _args(DATASET_ARGS)
    source = _reference(body, "source")
    record = _uploads().create_dataset(principal, source, check_name(body.get("name")))
    return _created(res.dataset_json(record))


@blp.route("/andromeda/model", methods=["POST"])
@authenticated
def create_model() -> ResponseReturnValue:
    """Train a tree on one of the user's datasets: ``{"dataset": "dataset/<id>", "objective_field"?}``."""
    principal = _principal()
    body = _args(MODEL_ARGS)
    uploads = _uploads()
    dataset = uploads.dataset(principal, _reference(body, "dataset"))
    objective = _objective(dataset, body.get("objective_field"))
    record = uploads.create_model(principal, dataset.id, objective, check_name(body.get("name")))
    return _created(res.tree_json(record.model, **_upload_context(principal, record.model)))


def _objective(dataset: DatasetRecord, value: Any) -> str | None:
    """The objective's column name from a field id, a name, or ``{"id": ...}`` as BigML also takes."""
    if value is None:
        return None
    if isinstance(value, dict) and set(value) == {"id"}:
        value = value["id"]
    if not isinstance(value, str):
        raise BigMLError(-1205, "objective_field must be a field id or name", ["objective_field"])
    names = [c.name for c in dataset.columns]
    ids = {res.field_id(i): name for i, name in enumerate(names)}
    if value in ids:
        return ids[value]
    if value in names:
        return value
    raise BigMLError(-1203, f"the dataset has no field {value!r}", [value])


# --- predictions ----------------------------------------------------------------------


def _prediction_target(body: Mapping[str, Any]) -> tuple[str, str]:
    """``(kind, id)`` of the model or deepnet to predict with; the bindings send deepnets as ``model``."""
    given = [key for key in ("model", "deepnet") if body.get(key) is not None]
    if not given:
        raise BigMLError(-1200, "a prediction needs a model or a deepnet", ["model"])
    if len(given) > 1:
        raise BigMLError(-1204, "give either a model or a deepnet, not both", given)
    value = body[given[0]]
    match = RESOURCE.match(value) if isinstance(value, str) else None
    if match is None or match.group(1) not in ("model", "deepnet"):
        raise BigMLError(-1201, f"{given[0]} must be an id like model/<24 hex> or deepnet/<24 hex>, got {value!r}",
                         [given[0]])
    if given[0] == "deepnet" and match.group(1) != "deepnet":
        raise BigMLError(-1201, f"deepnet must be a deepnet id, got {value!r}", ["deepnet"])
    return match.group(1), match.group(2)


def _value(field: Field, value: Any) -> Any:
    """A JSON value for a field: numbers (or numeric strings) for numeric fields, a string for categorical.

    Whether a string is one of the field's categories is the model's check (in the core).
    """
    field_name = field.name
    if field.optype == "categorical":
        if not isinstance(value, str):
            raise BigMLError(-1205, f"field {field_name!r} is categorical: its value must be a string, got {value!r}",
                             [field_name])
        return value
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise BigMLError(-1205, f"field {field_name!r} is numeric, got {value!r}", [field_name]) from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BigMLError(-1205, f"field {field_name!r} is numeric, got {value!r}", [field_name])
    try:
        number = float(value)
    except OverflowError:
        shown = f"{str(value)[:20]}..."
        raise BigMLError(-1205, f"field {field_name!r}: {shown} is too large for a number", [field_name]) from None
    if not math.isfinite(number):
        raise BigMLError(-1205, f"field {field_name!r} must be a finite number, got {value!r}", [field_name])
    return number


def _record(ids: res.FieldIds, input_data: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """``input_data`` (keys: field names or ids) as a record by name, and its echo by id.

    Missing values (null, or a missing token such as "" or "NA") are left out, as
    the zoo reads them; the objective, if given, is ignored as BigML does.
    """
    if not isinstance(input_data, dict):
        raise BigMLError(-1205, "input_data must be an object of field names or ids to values", ["input_data"])
    record: dict[str, Any] = {}
    echo: dict[str, Any] = {}
    unknown = []
    for key, value in input_data.items():
        ident = ids.resolve(key)
        if ident is None:
            unknown.append(key)
            continue
        field = ids.fields[ident]
        if ident in echo:
            raise BigMLError(-1203, f"field {field.name!r} is given twice in input_data (by name and by id)",
                             [field.name])
        if ident == ids.objective or value is None or (isinstance(value, str) and value.strip() in MISSING_TOKENS):
            continue
        record[field.name] = _value(field, value)
        echo[ident] = value
    if unknown:
        shown = ", ".join(repr(k) for k in unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
        raise BigMLError(-1203, f"unknown field(s) in input_data: {shown}", unknown[:20])
    return record, echo


def _pixels(model: ServedModel, record: Mapping[str, float]) -> np.ndarray:
    """A deepnet's record as the one-row pixel matrix; every pixel must be given."""
    row = np.array([record.get(f.name, math.nan) for f in model.fields], dtype=np.float32)
    for problem, bad in (("missing from input_data", np.isnan(row)), ("outside [0, 1]", (row < 0) | (row > 1))):
        where = np.flatnonzero(bad)
        if where.size:
            names = [model.fields[i].name for i in where[:20]]
            raise BigMLError(-1205, f"{where.size} pixel(s) {problem}, the first {names[0]!r}", names)
    return row[None, :]


def _path(svc: Services, model: TreeModel, prediction: Prediction) -> dict[str, Any]:
    """The splits a tree took; none when the core does not disclose them (a black-box model)."""
    node = svc.disclosed_node(model, prediction)
    if node is None:
        return {"path": [], "next_predicates": [], "unknown_fields": []}
    return res.rendered_tree(model).path_to(model, node)


def _predict() -> ResponseReturnValue:
    svc = services()
    principal = _principal(svc)
    body = _args(PREDICTION_ARGS)
    kind, ident = _prediction_target(body)
    strategy = body.get("missing_strategy", 0)
    if strategy != 0 or isinstance(strategy, bool):
        raise BigMLError(-1205, "only missing_strategy 0 (last prediction) is supported", ["missing_strategy"])
    model = _model(principal, kind, ident, svc)
    ids = res.field_ids(model)
    record, echo = _record(ids, body.get("input_data", {}))
    if model.image_shape is not None:
        prediction = svc.predict(principal, model, _pixels(model, record))
    else:
        prediction = svc.predict_records(principal, model, [record])
    out = res.prediction_json(model, ids, prediction, echo, body)
    if isinstance(model, TreeModel):
        out["prediction_path"] = _path(svc, model, prediction)
    return located(
        request._get_current_object(),  # type: ignore[attr-defined]
        orjson.dumps(out, option=orjson.OPT_SERIALIZE_NUMPY),
        201,
        f"andromeda/{out['resource']}",
    )


@blp.route("/prediction", methods=["POST"], endpoint="prediction")
@authenticated
@prediction_endpoint("bigml")
def prediction() -> ResponseReturnValue:
    """Predict with a model or deepnet: ``{"model": id, "input_data": {field: value}}`` (current bindings)."""
    return _predict()


@blp.route("/andromeda/prediction", methods=["POST"], endpoint="andromeda_prediction")
@authenticated
@prediction_endpoint("bigml")
def andromeda_prediction() -> ResponseReturnValue:
    """The same prediction at the path older bindings use."""
    return _predict()
