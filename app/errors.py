"""One error path for the whole app: each URL prefix's dialect renders its own format.

Errors raised inside a view, werkzeug's own (unknown route, wrong method, body too
large) and anything unexpected all come here, so no client ever sees an HTML page.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Flask, Response, current_app, jsonify, request
from gunicorn.http.errors import NoMoreData, ParseException
from werkzeug.exceptions import ClientDisconnected, HTTPException, MethodNotAllowed, RequestEntityTooLarge

from app.core.errors import ApiError, BadRequest, InternalError, RequestTimeout, from_http_status

Renderer = Callable[[ApiError], Response]
Renderers = tuple[tuple[tuple[str, ...], Renderer], ...]
"""Each entry claims the paths starting with one of its prefixes for its renderer's format."""
DRAIN_LIMIT = 1024 * 1024 * 1024
RENDERERS_KEY = "mlaas_error_renderers"
log = logging.getLogger(__name__)


def generic_error(err: ApiError) -> Response:
    response = jsonify({"error": {"code": err.status, "message": err.message}})
    response.status_code = err.status
    return response


def render(err: ApiError) -> Response:
    renderers: Renderers = current_app.extensions[RENDERERS_KEY]
    renderer = next((r for prefixes, r in renderers if request.path.startswith(prefixes)), generic_error)
    response = renderer(err)
    response.status_code = err.status
    if err.retry_after is not None:
        response.headers["Retry-After"] = str(int(err.retry_after))
    return response


def _drain_body() -> None:
    """Read what the client is still sending, so it sees our 413 rather than a reset."""
    stream = request.environ.get("wsgi.input")
    remaining = min(request.content_length or 0, DRAIN_LIMIT)
    while stream is not None and remaining > 0:
        chunk = stream.read(min(remaining, 1 << 20))
        if not chunk:
            break
        remaining -= len(chunk)


def client_timeout(err: TimeoutError) -> Response:
    """The server's read timeout on the client's socket (slow_clients.py)."""
    return render(RequestTimeout(f"the request body stopped arriving: {err}"))


def malformed_body(err: Exception) -> Response:
    """gunicorn reading the body for the app: a chunked body cut short or malformed."""
    return render(BadRequest(f"the request body is malformed or cut short: {err}"))


def install(app: Flask, renderers: Renderers) -> None:
    """Route every error of ``app`` to the renderer of its path's dialect (JSON ``{"error"}`` elsewhere)."""
    app.extensions[RENDERERS_KEY] = renderers
    app.register_error_handler(TimeoutError, client_timeout)
    app.register_error_handler(NoMoreData, malformed_body)
    app.register_error_handler(ParseException, malformed_body)

    @app.errorhandler(ApiError)
    def api_error(err: ApiError) -> Response:
        return render(err)

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException) -> Response:
        if isinstance(err, RequestEntityTooLarge):
            _drain_body()
            limit = app.config["MAX_CONTENT_LENGTH"]
            return render(from_http_status(413, f"request body larger than the limit of {limit} bytes"))
        if isinstance(err, ClientDisconnected):
            # werkzeug's stream turns the server's read errors into this; the cause says which.
            if isinstance(err.__context__, TimeoutError):
                return client_timeout(err.__context__)
            return malformed_body(err.__context__ or err)
        response = render(from_http_status(err.code or 400, err.description or err.name))
        if isinstance(err, MethodNotAllowed) and err.valid_methods:
            response.headers["Allow"] = ", ".join(err.valid_methods)
        return response

    @app.errorhandler(Exception)
    def unexpected(err: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.path)
        return render(InternalError("internal error"))
