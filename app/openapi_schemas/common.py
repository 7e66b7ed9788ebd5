"""Building blocks of the operation documents: JSON bodies, parameters and error responses."""

from __future__ import annotations

from typing import Any

Operation = dict[str, Any]

ERROR_STATUSES = {
    400: "The request is malformed or its values are invalid",
    401: "No API key, or an unknown one",
    403: "The key may not do this (not an admin, or the model's download is off)",
    404: "No such model or resource for this key",
    405: "The method is not allowed on this path (``Allow`` lists those that are)",
    408: "The request body stopped arriving",
    413: "The request body is over the size limit",
    429: "Row budget spent or rate limit reached (``Retry-After`` in seconds)",
}
ALLOW = {"Allow": {"description": "The methods the path accepts", "schema": {"type": "string"}}}
RETRY_AFTER = {"Retry-After": {"description": "Seconds until the rate window ends", "schema": {"type": "integer"}}}
NO_KEY: list[dict[str, list[str]]] = []


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def json_content(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def json_body(schema: dict[str, Any], *, required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": json_content(schema)}


def json_response(description: str, schema: dict[str, Any], headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": json_content(schema)}
    if headers:
        response["headers"] = headers
    return response


def parameter(name: str, where: str, schema: dict[str, Any], description: str, *, required: bool = False) -> dict:
    return {"name": name, "in": where, "required": required, "schema": schema, "description": description}


def errors(schema_name: str) -> dict[int, dict[str, Any]]:
    """Every error status the service answers, each in the dialect's own body ``schema_name``."""
    headers = {405: ALLOW, 429: RETRY_AFTER}
    return {
        status: json_response(description, ref(schema_name), headers.get(status))
        for status, description in ERROR_STATUSES.items()
    }


def operation(
    error_schema: str,
    responses: dict[int, dict[str, Any]],
    *,
    body: dict[str, Any] | None = None,
    parameters: list[dict[str, Any]] | None = None,
    security: list[dict[str, list[str]]] | None = None,
) -> Operation:
    """One operation's document: its success responses, then every error in ``error_schema``."""
    doc: Operation = {"responses": {**errors(error_schema), **responses}}
    if body is not None:
        doc["requestBody"] = body
    if parameters:
        doc["parameters"] = parameters
    if security is not None:
        doc["security"] = security
    return doc


STRING_LIST = {"type": "array", "items": {"type": "string"}}
