"""Operator endpoints: users, limits, defences, downloads, utility and the query log (admin key)."""

from __future__ import annotations

from app.openapi_schemas.common import json_body, json_response, operation, parameter, ref

LIMIT = {"type": "integer", "minimum": 0, "maximum": 2**63 - 1, "nullable": True}
SPEC = {"type": "array", "items": {"type": "object"}, "description": "defence steps, applied in order"}

SCHEMAS = {
    "AdminError": {
        "type": "object",
        "properties": {
            "error": {
                "type": "object",
                "properties": {"code": {"type": "integer"}, "message": {"type": "string"}},
                "required": ["code", "message"],
                "additionalProperties": False,
            }
        },
        "required": ["error"],
        "additionalProperties": False,
    },
    "NewUser": {
        "type": "object",
        "properties": {"username": {"type": "string"}, "row_budget": LIMIT, "rate_limit": LIMIT},
        "required": ["username"],
        "additionalProperties": False,
    },
    "UserKey": {
        "type": "object",
        "properties": {"username": {"type": "string"}, "api_key": {"type": "string"}},
        "required": ["username", "api_key"],
    },
    "Limits": {
        "type": "object",
        "properties": {"row_budget": LIMIT, "rate_limit": LIMIT, "rows_used": LIMIT},
        "additionalProperties": False,
    },
    "User": {
        "type": "object",
        "properties": {
            "username": {"type": "string"},
            "is_admin": {"type": "boolean"},
            "row_budget": {"type": "integer", "nullable": True},
            "rows_used": {"type": "integer"},
            "rate_limit": {"type": "integer", "nullable": True},
        },
        "required": ["username", "is_admin", "row_budget", "rows_used", "rate_limit"],
    },
    "DefenseSpec": SPEC,
    "DefenseSetting": {
        "type": "object",
        "properties": {
            "scope": {"type": "string", "enum": ["global", "model", "user"]},
            "name": {"type": "string", "nullable": True},
            "spec": SPEC,
        },
        "required": ["scope", "name", "spec"],
    },
    "Download": {
        "type": "object",
        "properties": {"downloadable": {"type": "boolean"}},
        "required": ["downloadable"],
        "additionalProperties": False,
    },
    "DownloadSetting": {
        "type": "object",
        "properties": {"name": {"type": "string"}, "downloadable": {"type": "boolean"}},
        "required": ["name", "downloadable"],
    },
    "Utility": {
        "type": "object",
        "description": "accuracy, log loss, Brier score and confidence change, clean and defended",
        "properties": {"model": {"type": "string"}, "heldout_rows": {"type": "integer"}, "defense": SPEC},
        "required": ["model", "heldout_rows", "defense"],
    },
    "QueryLog": {
        "type": "object",
        "properties": {
            "queries": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "username": {"type": "string", "nullable": True},
                        "model": {"type": "string"},
                        "endpoint": {"type": "string"},
                        "rows": {"type": "integer"},
                        "status": {"type": "integer"},
                        "seconds": {"type": "number"},
                        "worker": {"type": "string", "nullable": True},
                    },
                },
            }
        },
        "required": ["queries"],
    },
    "FeatureLog": {
        "type": "object",
        "properties": {
            "model": {"type": "string"},
            "queries": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "username": {"type": "string", "nullable": True},
                        "at": {"type": "number"},
                        "features": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}},
                    },
                    "required": ["username", "at", "features"],
                },
            },
        },
        "required": ["model", "queries"],
    },
}

ERROR = "AdminError"
USER = operation(ERROR, {200: json_response("The user's limits and usage", ref("User"))})
SETTING = operation(ERROR, {200: json_response("The setting of this scope ([] if none)", ref("DefenseSetting"))})
PUT_SETTING = operation(
    ERROR, {200: json_response("The new setting", ref("DefenseSetting"))}, body=json_body(ref("DefenseSpec"))
)
DELETED = operation(ERROR, {204: {"description": "The setting is gone"}})
DOWNLOAD = operation(ERROR, {200: json_response("Whether the white-box download is on", ref("DownloadSetting"))})
UTILITY = operation(ERROR, {200: json_response("Held-out utility under the defence", ref("Utility"))})

OPERATIONS = {
    ("/admin/users", "post"): operation(
        ERROR, {201: json_response("The user and its key, shown only this once", ref("UserKey"))},
        body=json_body(ref("NewUser")),
    ),
    ("/admin/users/{username}", "get"): USER,
    ("/admin/users/{username}/limits", "put"): operation(
        ERROR, {200: json_response("The user's limits and usage", ref("User"))}, body=json_body(ref("Limits"))
    ),
    ("/admin/defense", "get"): SETTING,
    ("/admin/defense", "put"): PUT_SETTING,
    ("/admin/models/{name}/defense", "get"): SETTING,
    ("/admin/models/{name}/defense", "put"): PUT_SETTING,
    ("/admin/models/{name}/defense", "delete"): DELETED,
    ("/admin/users/{username}/defense", "get"): SETTING,
    ("/admin/users/{username}/defense", "put"): PUT_SETTING,
    ("/admin/users/{username}/defense", "delete"): DELETED,
    ("/admin/models/{name}/download", "get"): DOWNLOAD,
    ("/admin/models/{name}/download", "put"): operation(
        ERROR, {200: json_response("The new setting", ref("DownloadSetting"))}, body=json_body(ref("Download"))
    ),
    ("/admin/models/{name}/utility", "get"): UTILITY,
    ("/admin/models/{name}/utility", "post"): operation(
        ERROR, {200: json_response("Held-out utility under the posted defence", ref("Utility"))},
        body=json_body(ref("DefenseSpec"), required=False),
    ),
    ("/admin/models/{name}/features", "get"): operation(
        ERROR, {200: json_response("The feature vectors a split network's service stage received, newest first",
                                   ref("FeatureLog"))},
        parameters=[
            parameter("limit", "query", {"type": "integer", "minimum": 1}, "How many queries (default 1000)"),
            parameter("username", "query", {"type": "string"}, "Only this user's queries"),
        ],
    ),
    ("/admin/query-log", "get"): operation(
        ERROR, {200: json_response("The latest queries, newest first", ref("QueryLog"))},
        parameters=[parameter("limit", "query", {"type": "integer", "minimum": 1, "maximum": 10000},
                              "How many (default 100)")],
    ),
}
