"""Azure ML: the classic Studio request-response service and online endpoints."""

from __future__ import annotations

from app.openapi_schemas.common import STRING_LIST, json_body, json_response, operation, parameter, ref

ROWS = {"type": "array", "minItems": 1, "items": {"type": "array"}, "description": "rows of cell values"}
DEFENSE_HEADER = {"x-mlaas-defense": {"description": "The defence spec, when disclosed", "schema": {"type": "string"}}}

SCHEMAS = {
    "AzureClassicError": {
        "type": "object",
        "properties": {
            "error": {
                "type": "object",
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "details": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "code": {"type": "string"},
                                "message": {"type": "string"},
                                "target": {"type": "string"},
                            },
                            "required": ["code", "message"],
                            "additionalProperties": False,
                        },
                    },
                },
                "required": ["code", "message", "details"],
                "additionalProperties": False,
            }
        },
        "required": ["error"],
        "additionalProperties": False,
    },
    "AzureOnlineError": {
        "type": "object",
        "properties": {
            "error": {
                "type": "object",
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                "required": ["code", "message"],
                "additionalProperties": False,
            }
        },
        "required": ["error"],
        "additionalProperties": False,
    },
    "AzureClassicRequest": {
        "type": "object",
        "properties": {
            "Inputs": {
                "type": "object",
                "minProperties": 1,
                "maxProperties": 1,
                "description": 'exactly one input table, e.g. {"input1": {...}}',
                "additionalProperties": {
                    "type": "object",
                    "properties": {"ColumnNames": STRING_LIST, "Values": ROWS},
                    "required": ["ColumnNames", "Values"],
                    "additionalProperties": False,
                },
            },
            "GlobalParameters": {"type": "object", "maxProperties": 0},
        },
        "required": ["Inputs"],
        "additionalProperties": False,
    },
    "AzureClassicResponse": {
        "type": "object",
        "properties": {
            "Results": {
                "type": "object",
                "properties": {
                    "output1": {
                        "type": "object",
                        "properties": {
                            "type": {"type": "string", "enum": ["DataTable"]},
                            "value": {
                                "type": "object",
                                "properties": {
                                    "ColumnNames": STRING_LIST,
                                    "ColumnTypes": STRING_LIST,
                                    "Values": {"type": "array", "items": STRING_LIST},
                                },
                                "required": ["ColumnNames", "Values"],
                            },
                        },
                        "required": ["type", "value"],
                    }
                },
                "required": ["output1"],
            }
        },
        "required": ["Results"],
    },
    "AzureOnlineRequest": {
        "oneOf": [
            {
                "type": "object",
                "properties": {
                    "input_data": {
                        "type": "object",
                        "properties": {"columns": STRING_LIST, "index": {"type": "array"}, "data": ROWS},
                        "required": ["data"],
                        "additionalProperties": False,
                    }
                },
                "required": ["input_data"],
                "additionalProperties": False,
            },
            {
                "type": "object",
                "properties": {"input_data": ROWS},
                "required": ["input_data"],
                "additionalProperties": False,
            },
            {"type": "object", "properties": {"data": ROWS}, "required": ["data"], "additionalProperties": False},
        ]
    },
    "AzureOnlineResponse": {
        "type": "array",
        "description": 'per row "Scored Labels" and the probability columns',
        "items": {
            "type": "object",
            "properties": {"Scored Labels": {"type": "string"}},
            "required": ["Scored Labels"],
            "additionalProperties": {"type": "number"},
        },
    },
}

OPERATIONS = {
    ("/workspaces/{workspace}/services/{service}/execute", "post"): operation(
        "AzureClassicError",
        {200: json_response("The input echoed with labels and probabilities, every value a string",
                            ref("AzureClassicResponse"), DEFENSE_HEADER)},
        body=json_body(ref("AzureClassicRequest")),
        parameters=[
            parameter("api-version", "query", {"type": "string", "enum": ["2.0"]}, "The classic API version",
                      required=True),
            parameter("details", "query", {"type": "string", "enum": ["true", "false"]}, "Add ColumnTypes"),
        ],
    ),
    ("/score", "post"): operation(
        "AzureOnlineError",
        {200: json_response("One object per row", ref("AzureOnlineResponse"), DEFENSE_HEADER)},
        body=json_body(ref("AzureOnlineRequest")),
        parameters=[
            parameter("azureml-model-deployment", "header", {"type": "string"},
                      "The model to use (optional when the key sees a single model)"),
        ],
    ),
}
