"""Parsing helpers every dialect shares (the formats differ, the strictness doesn't)."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import orjson
from flask import request

from app.core.errors import BadRequest

# orjson reads integers beyond 64 bits as floats where ``json`` keeps them exact: a body with
# such a run of digits goes to ``json`` only.
LONG_DIGITS = re.compile(rb"[0-9]{19}")


def _reject_constant(name: str) -> float:
    raise BadRequest(f"{name} is not valid JSON (NaN and infinity are not numbers here)")


def json_body(*, required: bool = True) -> Any:
    """The request's JSON, strictly parsed: malformed bodies and NaN/Infinity are 400s."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        if required:
            raise BadRequest("the request needs a JSON body")
        return None
    if LONG_DIGITS.search(raw) is None:
        # The fast parser, where it agrees with ``json``: anything it refuses (malformed JSON,
        # NaN, UTF-16, a BOM, lone surrogates, 1e400, deep nesting) is read again by ``json``,
        # which accepts it or gives the error message it always gave.
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"malformed JSON: {exc}") from exc
    except RecursionError as exc:
        raise BadRequest("malformed JSON: nested too deeply") from exc


def json_object(*, required: bool = True) -> dict[str, Any]:
    body = json_body(required=required)
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise BadRequest("the JSON body must be an object")
    return body


def reject_unknown(body: dict[str, Any], allowed: set[str], where: str = "the body") -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise BadRequest(f"unknown field(s) in {where}: {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")


def finite_number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BadRequest(f"{name} must be a finite number, got {value!r}")
    return float(value)
