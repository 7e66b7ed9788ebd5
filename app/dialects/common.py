"""Reading request bodies and JSON, shared by every dialect (the formats differ, the strictness doesn't)."""

from __future__ import annotations

import json
import math
import re
import sys
from typing import Any

import orjson
from flask import current_app, request

from app.core.errors import BadRequest, PayloadTooLarge

# orjson reads integers beyond 64 bits as floats where ``json`` keeps them exact: a body with
# such a run of digits goes to ``json`` only.
LONG_DIGITS = re.compile(rb"[0-9]{19}")
# Python refuses to convert longer digit strings to int (a quadratic conversion): a 400 here.
MAX_INT_DIGITS = sys.int_info.default_max_str_digits
SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
LONE_SURROGATE = re.compile("[\ud800-\udfff]")
READ_STEP = 1 << 20


def request_body() -> bytes:
    """The whole body, or a 4xx: over the body limit 413 (chunked ones too), shorter than announced 400.

    werkzeug stops reading a chunked body at the limit and hands over what it read, and a
    server gives a body cut short by the client as it is: both would be parsed as if whole.
    """
    length = request.content_length
    if length is not None:
        raw = request.get_data(cache=True)
        if len(raw) != length:
            raise BadRequest(f"the body ended after {len(raw)} of its {length} bytes (Content-Length)")
        return raw
    cached: bytes | None = request.environ.get("mlaas.body")
    if cached is None:
        cached = _read_unsized(current_app.config["MAX_CONTENT_LENGTH"])
        request.environ["mlaas.body"] = cached
    return cached


def _read_unsized(limit: int) -> bytes:
    """A body without Content-Length (chunked), read to its end or refused past ``limit`` bytes."""
    stream = request.environ["wsgi.input"]
    parts: list[bytes] = []
    size = 0
    while chunk := stream.read(min(READ_STEP, limit + 1 - size)):
        parts.append(chunk)
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body larger than the limit of {limit} bytes")
    return b"".join(parts)


def _reject_constant(name: str) -> float:
    raise BadRequest(f"{name} is not valid JSON (NaN and infinity are not numbers here)")


def _bounded_int(digits: str) -> int:
    if len(digits) > MAX_INT_DIGITS:
        raise BadRequest(f"malformed JSON: an integer of {len(digits)} digits (at most {MAX_INT_DIGITS})")
    return int(digits)


def loads(raw: bytes | memoryview, *, allow_constants: bool = False) -> Any:
    """JSON that every dialect reads alike: anything that is not plain JSON is a 400, never a 500.

    Refused: malformed JSON, nesting deeper than the parsers' recursion limits (about a
    thousand levels), integers of more than ``MAX_INT_DIGITS`` digits, text that is not
    Unicode (bad UTF-8, lone surrogates, which no response could carry back), and NaN or
    infinity unless ``allow_constants`` (tritonclient writes them for float tensors).
    """
    if LONG_DIGITS.search(raw) is None:
        # The fast parser, where it agrees with ``json``: anything it refuses (malformed JSON,
        # NaN, UTF-16, a BOM, lone surrogates, 1e400, deep nesting) is read again by ``json``,
        # which accepts it or gives the error message it always gave.
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
    raw = bytes(raw)
    try:
        text = raw.decode(json.detect_encoding(raw))
        value = json.loads(text, parse_int=_bounded_int, parse_constant=None if allow_constants else _reject_constant)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"malformed JSON: {exc}") from exc
    except RecursionError as exc:
        raise BadRequest("malformed JSON: nested too deeply") from exc
    if SURROGATE_ESCAPE.search(text) is not None and _has_lone_surrogate(value):
        raise BadRequest("malformed JSON: a string holds a lone surrogate (\\ud800-\\udfff), which is not text")
    return value


def _has_lone_surrogate(value: Any) -> bool:
    """Whether a key or string anywhere in ``value`` holds a surrogate (escaped pairs are joined by then)."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if LONE_SURROGATE.search(item) is not None:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def json_body(*, required: bool = True) -> Any:
    """The request's JSON, strictly parsed: malformed bodies and NaN/Infinity are 400s."""
    raw = request_body()
    if not raw.strip():
        if required:
            raise BadRequest("the request needs a JSON body")
        return None
    return loads(raw)


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
