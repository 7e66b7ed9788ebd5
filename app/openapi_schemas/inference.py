"""Open Inference Protocol v2 and KServe v1: tensors in, probabilities and labels out."""

from __future__ import annotations

from app.openapi_schemas.common import (
    NO_KEY,
    STRING_LIST,
    json_body,
    json_response,
    operation,
    parameter,
    ref,
)

DATATYPES = ["BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
             "FP16", "FP32", "FP64", "BYTES"]
SHAPE = {"type": "array", "items": {"type": "integer"}}
TENSOR_PARAMETERS = {
    "type": "object",
    "properties": {
        "binary_data": {"type": "boolean"},
        "binary_data_output": {"type": "boolean"},
        "binary_data_size": {"type": "integer", "minimum": 0},
        "classification": {"type": "integer", "minimum": 0},
    },
}

SCHEMAS = {
    "InferenceError": {
        "type": "object",
        "properties": {"error": {"type": "string"}},
        "required": ["error"],
        "additionalProperties": False,
    },
    "ServerMetadata": {
        "type": "object",
        "properties": {"name": {"type": "string"}, "version": {"type": "string"}, "extensions": STRING_LIST},
        "required": ["name", "version", "extensions"],
    },
    "ModelReady": {
        "type": "object",
        "properties": {"name": {"type": "string"}, "ready": {"type": "boolean"}},
        "required": ["name", "ready"],
    },
    "TensorMetadata": {
        "type": "object",
        "properties": {"name": {"type": "string"}, "datatype": {"type": "string", "enum": DATATYPES}, "shape": SHAPE},
        "required": ["name", "datatype", "shape"],
    },
    "ModelMetadata": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "versions": STRING_LIST,
            "platform": {"type": "string", "enum": ["numpy_dense", "decision_tree"]},
            "inputs": {"type": "array", "items": ref("TensorMetadata")},
            "outputs": {"type": "array", "items": ref("TensorMetadata")},
            "parameters": {
                "type": "object",
                "description": "classes, kind, image_shape or fields and sensitive, data-set split",
                "properties": {
                    "kind": {"type": "string", "enum": ["image", "tree", "features"]},
                    "classes": {"type": "array"},
                },
                "required": ["kind", "classes"],
            },
        },
        "required": ["name", "versions", "platform", "inputs", "outputs", "parameters"],
    },
    "InferInputTensor": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "datatype": {"type": "string", "enum": DATATYPES},
            "shape": SHAPE,
            "data": {"type": "array", "description": "row-major values, flat or nested (absent when binary)"},
            "parameters": TENSOR_PARAMETERS,
        },
        "required": ["name", "datatype", "shape"],
        "additionalProperties": False,
    },
    "InferRequestedOutput": {
        "type": "object",
        "properties": {"name": {"type": "string", "enum": ["probabilities", "label"]}, "parameters": TENSOR_PARAMETERS},
        "required": ["name"],
        "additionalProperties": False,
    },
    "InferRequest": {
        "type": "object",
        "description": "With Inference-Header-Content-Length, this JSON header is followed by the binary tensors",
        "properties": {
            "id": {"type": "string"},
            "parameters": {"type": "object", "properties": {"binary_data_output": {"type": "boolean"}}},
            "inputs": {"type": "array", "minItems": 1, "items": ref("InferInputTensor")},
            "outputs": {"type": "array", "items": ref("InferRequestedOutput")},
        },
        "required": ["inputs"],
        "additionalProperties": False,
    },
    "InferOutputTensor": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "datatype": {"type": "string", "enum": DATATYPES},
            "shape": SHAPE,
            "data": {"type": "array"},
            "parameters": TENSOR_PARAMETERS,
        },
        "required": ["name", "datatype", "shape"],
    },
    "InferResponse": {
        "type": "object",
        "properties": {
            "model_name": {"type": "string"},
            "model_version": {"type": "string"},
            "id": {"type": "string"},
            "parameters": {"type": "object", "properties": {"defense": {"type": "array"}}},
            "outputs": {"type": "array", "items": ref("InferOutputTensor")},
        },
        "required": ["model_name", "model_version", "outputs"],
    },
    "V1PredictRequest": {
        "type": "object",
        "properties": {
            "instances": {
                "type": "array",
                "minItems": 1,
                "description": "all lists (pixels, or a tree's values in field order) or all objects keyed by field",
                "items": {"oneOf": [{"type": "array"}, {"type": "object"}]},
            }
        },
        "required": ["instances"],
        "additionalProperties": False,
    },
    "V1PredictResponse": {
        "type": "object",
        "properties": {
            "predictions": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "label": {"type": "string"},
                        "probabilities": {"type": "array", "items": {"type": "number"}},
                    },
                    "required": ["label", "probabilities"],
                },
            },
            "defense": {"type": "array"},
        },
        "required": ["predictions"],
    },
}

ERROR = "InferenceError"
MODEL = "/v2/models/{model_name}"
VERSIONED = "/v2/models/{model_name}/versions/{version}"
HEADER_LENGTH = parameter(
    "Inference-Header-Content-Length", "header", {"type": "integer", "minimum": 0},
    "Length of the JSON header when binary tensors follow it",
)
CONTENT_ENCODING = parameter(
    "Content-Encoding", "header", {"type": "string", "enum": ["gzip", "deflate", "identity"]},
    "A compressed body is inflated within the body limit",
)
INFER = operation(
    ERROR,
    {200: {
        "description": "The defended prediction (binary tensors after the JSON header when asked for)",
        "content": {
            "application/json": {"schema": ref("InferResponse")},
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        },
        "headers": {"Inference-Header-Content-Length": {"schema": {"type": "integer"}}},
    }},
    body={
        "required": True,
        "content": {
            "application/json": {"schema": ref("InferRequest")},
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        },
    },
    parameters=[HEADER_LENGTH, CONTENT_ENCODING],
)
READY = operation(ERROR, {200: json_response("The caller can use the model", ref("ModelReady"))})
METADATA = operation(ERROR, {200: json_response("Tensors, classes, schema and split", ref("ModelMetadata"))})

OPERATIONS = {
    ("/v2", "get"): operation(
        ERROR, {200: json_response("Server name, version, extensions", ref("ServerMetadata"))}, security=NO_KEY
    ),
    ("/v2/health/live", "get"): operation(
        ERROR,
        {200: json_response("The worker answers", {"type": "object", "properties": {"live": {"type": "boolean"}},
                                                   "required": ["live"]})},
        security=NO_KEY,
    ),
    ("/v2/health/ready", "get"): operation(
        ERROR,
        {200: json_response("Ready to predict", {"type": "object", "properties": {"ready": {"type": "boolean"}},
                                                 "required": ["ready"]})},
        security=NO_KEY,
    ),
    (f"{MODEL}/ready", "get"): READY,
    (f"{VERSIONED}/ready", "get"): READY,
    (MODEL, "get"): METADATA,
    (VERSIONED, "get"): METADATA,
    (f"{MODEL}/infer", "post"): INFER,
    (f"{VERSIONED}/infer", "post"): INFER,
    ("/v1/models/{model_name}", "get"): READY,
    ("/v1/models/{model_name}:predict", "post"): operation(
        ERROR,
        {200: json_response("One label and the defended probabilities per instance", ref("V1PredictResponse"))},
        body=json_body(ref("V1PredictRequest")),
    ),
}
