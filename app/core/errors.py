"""Errors the core raises; each dialect renders them in its own wire format."""

from __future__ import annotations


class ApiError(Exception):
    """A client error with an HTTP status and a message for humans."""

    status = 400
    title = "Bad Request"

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class BadRequest(ApiError):
    status = 400
    title = "Bad Request"


class InvalidInput(BadRequest):
    """Input the model cannot take: ``field`` names the offending field (None: the input as a
    whole), ``reason`` the rule it broke (``unknown-field``, ``missing`` or ``value``); each
    dialect maps them to its own error codes."""

    def __init__(self, message: str, *, field: str | None = None, reason: str = "value") -> None:
        super().__init__(message)
        self.field = field
        self.reason = reason


class Unauthorized(ApiError):
    status = 401
    title = "Unauthorized"


class Forbidden(ApiError):
    status = 403
    title = "Forbidden"


class NotFound(ApiError):
    status = 404
    title = "Not Found"


class MethodNotAllowed(ApiError):
    status = 405
    title = "Method Not Allowed"


class RequestTimeout(ApiError):
    """The client stopped sending its request: the connection is closed after the answer."""

    status = 408
    title = "Request Timeout"


class PayloadTooLarge(ApiError):
    status = 413
    title = "Payload Too Large"


class TooManyRequests(ApiError):
    status = 429
    title = "Too Many Requests"


class InternalError(ApiError):
    """A bug of ours: rendered in the dialect's format, status 500."""

    status = 500
    title = "Internal Server Error"


def from_http_status(status: int, message: str) -> ApiError:
    """Map a werkzeug HTTP error (404 route, 405, 413 body) to the core's errors."""
    for cls in (BadRequest, Unauthorized, Forbidden, NotFound, MethodNotAllowed, RequestTimeout, PayloadTooLarge,
                TooManyRequests):
        if cls.status == status:
            return cls(message)
    return BadRequest(message)
