"""BigML's andromeda API: listings, resources, the upload flow and predictions."""

from __future__ import annotations

from app.openapi_schemas.common import STRING_LIST, json_body, json_response, operation, parameter, ref

COMMON_ARGS = {
    "name": {"type": "string"},
    "description": {"type": "string"},
    "tags": STRING_LIST,
    "category": {"type": "integer"},
    "project": {"type": "string"},
}
LOCATION = {"Location": {"description": "The new resource's URL", "schema": {"type": "string"}}}
PAGE = [
    parameter("offset", "query", {"type": "integer", "minimum": 0, "maximum": 10**9}, "First entry (default 0)"),
    parameter("limit", "query", {"type": "integer", "minimum": 1, "maximum": 1000}, "Entries per page (default 20)"),
]
READ = [
    parameter("exclude", "query", {"type": "string"}, "Comma-separated properties to leave out (e.g. root)"),
    parameter("optype", "query", {"type": "string"}, "Comma-separated optypes of the fields to keep"),
    parameter("full", "query", {"type": "string"}, "false: the resource without fields or tree"),
]
SECURITY = [{"bigml": []}, {"bearer": []}]


def _reference(kind: str) -> dict:
    return {"type": "string", "pattern": f"^{kind}/[0-9a-f]{{24}}$"}


SCHEMAS = {
    "BigMLError": {
        "type": "object",
        "properties": {
            "code": {"type": "integer"},
            "status": {
                "type": "object",
                "properties": {"code": {"type": "integer"}, "message": {"type": "string"}, "extra": STRING_LIST},
                "required": ["code", "message", "extra"],
                "additionalProperties": False,
            },
        },
        "required": ["code", "status"],
        "additionalProperties": False,
    },
    "BigMLResource": {
        "type": "object",
        "description": "A source, dataset, model or deepnet in BigML's JSON",
        "properties": {
            "resource": {"type": "string", "pattern": "^(source|dataset|model|deepnet)/[0-9a-f]{24}$"},
            "code": {"type": "integer"},
            "status": {"type": "object", "properties": {"code": {"type": "integer"}}},
            "name": {"type": "string"},
        },
        "required": ["resource", "code", "status"],
    },
    "BigMLListing": {
        "type": "object",
        "properties": {
            "meta": {
                "type": "object",
                "properties": {
                    "limit": {"type": "integer"},
                    "offset": {"type": "integer"},
                    "total_count": {"type": "integer"},
                    "next": {"type": "string", "nullable": True},
                    "previous": {"type": "string", "nullable": True},
                },
                "required": ["limit", "offset", "total_count", "next", "previous"],
            },
            "objects": {"type": "array", "items": ref("BigMLResource")},
        },
        "required": ["meta", "objects"],
    },
    "BigMLSourceRequest": {
        "type": "object",
        "properties": {**COMMON_ARGS, "data": {"type": "string", "description": "CSV text or a JSON list of rows"}},
        "required": ["data"],
        "additionalProperties": False,
    },
    "BigMLSourceUpload": {
        "type": "object",
        "properties": {**COMMON_ARGS, "file": {"type": "string", "format": "binary"}},
        "required": ["file"],
    },
    "BigMLDatasetRequest": {
        "type": "object",
        "properties": {**COMMON_ARGS, "source": _reference("source")},
        "required": ["source"],
        "additionalProperties": False,
    },
    "BigMLModelRequest": {
        "type": "object",
        "properties": {
            **COMMON_ARGS,
            "dataset": _reference("dataset"),
            "objective_field": {"type": "string", "description": "a field id or name (default: the last field)"},
        },
        "required": ["dataset"],
        "additionalProperties": False,
    },
    "BigMLPredictionRequest": {
        "type": "object",
        "properties": {
            **COMMON_ARGS,
            "model": {"type": "string", "pattern": "^(model|deepnet)/[0-9a-f]{24}$"},
            "deepnet": _reference("deepnet"),
            "input_data": {"type": "object", "description": "field names or ids to values; null is missing"},
            "missing_strategy": {"type": "integer", "enum": [0]},
        },
        "additionalProperties": False,
    },
    "BigMLPrediction": {
        "type": "object",
        "properties": {
            "resource": {"type": "string", "pattern": "^prediction/[0-9a-f]{24}$"},
            "code": {"type": "integer", "enum": [201]},
            "output": {"type": "string"},
            "probability": {"type": "number"},
            "confidence": {"type": "number"},
            "probabilities": {"type": "array", "items": {"type": "array"}},
            "confidences": {"type": "array", "items": {"type": "array"}},
            "prediction_path": {"type": "object"},
            "defense": {"type": "array"},
        },
        "required": ["resource", "code", "output", "probability", "probabilities"],
    },
}

ERROR = "BigMLError"


def _op(responses: dict, **kwargs: object) -> dict:
    return operation(ERROR, responses, security=SECURITY, **kwargs)  # type: ignore[arg-type]


LISTING = _op({200: json_response("One page of the listing", ref("BigMLListing"))}, parameters=PAGE)
RESOURCE = _op({200: json_response("The resource", ref("BigMLResource"))}, parameters=READ)
OWN = _op({200: json_response("The resource", ref("BigMLResource"))})
CREATED = {201: json_response("Created and finished (status 5)", ref("BigMLResource"), LOCATION)}
PREDICTION = _op(
    {201: json_response("The prediction (not stored)", ref("BigMLPrediction"), LOCATION)},
    body=json_body(ref("BigMLPredictionRequest")),
)

OPERATIONS = {
    ("/andromeda/model", "get"): LISTING,
    ("/andromeda/deepnet", "get"): LISTING,
    ("/andromeda/source", "get"): LISTING,
    ("/andromeda/dataset", "get"): LISTING,
    ("/andromeda/prediction", "get"): LISTING,
    ("/andromeda/model/{ident}", "get"): RESOURCE,
    ("/andromeda/deepnet/{ident}", "get"): RESOURCE,
    ("/andromeda/source/{ident}", "get"): OWN,
    ("/andromeda/dataset/{ident}", "get"): OWN,
    ("/andromeda/{kind}/{ident}", "delete"): _op({204: {"description": "Deleted"}}),
    ("/andromeda/source", "post"): _op(
        CREATED,
        body={
            "required": True,
            "content": {
                "application/json": {"schema": ref("BigMLSourceRequest")},
                "multipart/form-data": {"schema": ref("BigMLSourceUpload")},
            },
        },
    ),
    ("/andromeda/dataset", "post"): _op(CREATED, body=json_body(ref("BigMLDatasetRequest"))),
    ("/andromeda/model", "post"): _op(CREATED, body=json_body(ref("BigMLModelRequest"))),
    ("/andromeda/prediction", "post"): PREDICTION,
    ("/prediction", "post"): PREDICTION,
}
