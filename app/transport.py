"""Speed-ups below WSGI: reading a body straight from gunicorn's socket, and a pre-converted ``Location``.

Both lean on internals that no public API promises, so they are listed here and tried once
at start-up (``check``); a speed-up whose internals are missing or behave otherwise is
switched off with a warning, and the portable path serves the same bytes, only slower.

Reading a body (``fill``) relies on gunicorn 27's
- ``gunicorn.http.body.Body`` with the attributes ``reader`` and ``buf`` (its read-ahead);
- ``gunicorn.http.body.LengthReader`` with ``unreader`` and ``length`` (bytes still to come);
- ``gunicorn.http.unreader.SocketUnreader`` with ``sock``, ``take_buffered()`` and ``unread()``.

``located`` relies on werkzeug converting ``Location`` with ``werkzeug.urls.iri_to_uri`` in
``Response.get_wsgi_headers`` and on nothing else there reading it.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, BinaryIO

from flask import Request, Response
from gunicorn.http.body import Body, LengthReader
from gunicorn.http.unreader import SocketUnreader
from werkzeug.datastructures import Headers
from werkzeug.test import EnvironBuilder
from werkzeug.urls import iri_to_uri

from app.core.errors import BadRequest

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

READ_STEP = 1 << 20
SOCKET_STEP = 1 << 22
CACHE_MAX = 64
LOCATION_PROBE = "andromeda/prediction/" + "0" * 24
log = logging.getLogger(__name__)


class _Switches:
    """Which speed-ups passed the start-up check (both off until ``check`` has run)."""

    socket_reads = False
    location_uris = False


switches = _Switches()


def check() -> None:
    """Try each speed-up against the installed gunicorn and werkzeug; switch off what fails."""
    switches.socket_reads = _works("reading bodies from gunicorn's socket", _socket_reads_work)
    switches.location_uris = _works("pre-converted Location headers", _location_uris_work)


def _works(name: str, probe: Any) -> bool:
    try:
        probe()
    except Exception:
        log.warning("transport speed-up off (%s): the internals it relies on changed", name, exc_info=True)
        return False
    return True


# --- request bodies ---------------------------------------------------------------------


def fill(stream: BinaryIO, view: memoryview) -> None:
    """Read exactly ``len(view)`` body bytes from ``stream`` into ``view``; a shorter body is a 400.

    Under gunicorn the bytes go from the socket into ``view``: its body stream copies
    each byte five or six times on the way, which took half of a worker's CPU time for
    a 512-row v2 request (14 ms; 5 ms from the socket).
    """
    if switches.socket_reads and _untouched_gunicorn_body(stream, len(view)):
        _receive(stream, view)  # type: ignore[arg-type]
        return
    filled = 0
    while filled < len(view):
        chunk = stream.read(min(READ_STEP, len(view) - filled))
        if not chunk:
            raise BadRequest(f"the body ended after {filled} of its {len(view)} bytes")
        view[filled : filled + len(chunk)] = chunk
        filled += len(chunk)


def _untouched_gunicorn_body(stream: BinaryIO, length: int) -> bool:
    """gunicorn's stream of a Content-Length body over a socket, not read from yet."""
    return (
        isinstance(stream, Body)
        and isinstance(stream.reader, LengthReader)
        and isinstance(stream.reader.unreader, SocketUnreader)
        and stream.reader.length == length
        and stream.buf.tell() == 0
    )


def _receive(stream: Body, view: memoryview) -> None:
    """The body from gunicorn's read-ahead, then ``recv_into`` the rest; gunicorn then sees it consumed.

    Read-ahead beyond the body (a pipelined next request) goes back to gunicorn.
    """
    reader = stream.reader
    unreader = reader.unreader
    ahead = unreader.take_buffered()
    filled = min(len(ahead), len(view))
    view[:filled] = ahead[:filled]
    if len(ahead) > filled:
        unreader.unread(ahead[filled:])
    while filled < len(view):
        received = unreader.sock.recv_into(view[filled:], min(len(view) - filled, SOCKET_STEP))
        if not received:
            reader.length = 0
            raise BadRequest(f"the body ended after {filled} of its {len(view)} bytes")
        filled += received
    reader.length = 0


def _socket_reads_work() -> None:
    """A body split between gunicorn's read-ahead and the socket, then a pipelined request, read back."""
    body, pipelined = b"0123456789" * 100, b"GET / HTTP/1.1\r\n"
    ours, theirs = socket.socketpair()
    with ours, theirs:
        unreader = SocketUnreader(ours)
        theirs.sendall(b"HEAD" + body[:10])
        assert unreader.read(4) == b"HEAD"
        stream = Body(LengthReader(unreader, len(body)))
        theirs.sendall(body[10:] + pipelined)
        assert _untouched_gunicorn_body(stream, len(body))  # type: ignore[arg-type]
        view = memoryview(bytearray(len(body)))
        _receive(stream, view)
        assert bytes(view) == body
        assert stream.read() == b""
        assert unreader.read(len(pipelined)) == pipelined


# --- the Location header ----------------------------------------------------------------


class LocatedResponse(Response):
    """A response whose ``Location`` may come already converted to a URI (``location_uri``).

    werkzeug converts ``Location`` with ``iri_to_uri`` on every response (a URL parse,
    three quotes and an IDNA encoding of the host), which costs a single-row BigML
    prediction more than its tree walk.
    """

    location_uri: str | None = None

    def get_wsgi_headers(self, environ: WSGIEnvironment) -> Headers:
        uri = self.location_uri
        if uri is None:
            return super().get_wsgi_headers(environ)
        location = self.headers.pop("Location")
        try:
            headers = super().get_wsgi_headers(environ)
        finally:
            self.headers["Location"] = location
        headers["Location"] = uri
        return headers


def located(
    request: Request, body: bytes, status: int, path: str, headers: Mapping[str, str] | None = None
) -> Response:
    """A JSON response with ``Location: <request's URL root><path>``, ``path`` made of ASCII letters,
    digits and ``/`` (werkzeug's conversion is then done once per URL root)."""
    root, uri_root = _url_root(request)
    response = LocatedResponse(body, status, {**(headers or {}), "Location": root + path}, "application/json")
    if uri_root is not None:
        response.location_uri = uri_root + path
    return response


_url_roots: dict[tuple[Any, ...], tuple[str, str | None]] = {}


def _url_root(req: Request) -> tuple[str, str | None]:
    """``req.url_root`` and, when appending an ASCII path to it commutes with werkzeug's
    ``iri_to_uri``, that root as a URI; remembered by what the root is computed from."""
    trusted = req.trusted_hosts
    key = (
        req.scheme, req.server, req.root_path, req.environ.get("HTTP_HOST"),
        None if trusted is None else tuple(trusted),
    )
    cached = _url_roots.get(key)
    if cached is None:
        root = req.url_root
        uri_root: str | None = iri_to_uri(root)
        if not switches.location_uris or iri_to_uri(root + LOCATION_PROBE) != f"{uri_root}{LOCATION_PROBE}":
            uri_root = None
        cached = (root, uri_root)
        if len(_url_roots) >= CACHE_MAX:
            _url_roots.clear()
        _url_roots[key] = cached
    return cached


def _location_uris_work() -> None:
    """The pre-converted header equals what werkzeug itself sends, for an internationalised host."""
    environ = EnvironBuilder(base_url="http://bücher.example:8080/ä/").get_environ()
    iri = Request(environ).url_root + LOCATION_PROBE
    plain = Response(b"", 201, {"Location": iri}).get_wsgi_headers(environ)
    fast = LocatedResponse(b"", 201, {"Location": iri})
    fast.location_uri = iri_to_uri(iri)
    assert fast.get_wsgi_headers(environ)["Location"] == plain["Location"] != iri
