"""The transport speed-ups: checked at start-up, switched off when gunicorn or werkzeug changed."""

from __future__ import annotations

import io
import socket
from collections.abc import Iterator

import pytest
from flask import Request, Response
from gunicorn.http.body import Body, LengthReader
from gunicorn.http.unreader import SocketUnreader, Unreader
from werkzeug.test import EnvironBuilder

from app import transport
from app.core.errors import BadRequest


@pytest.fixture(autouse=True)
def restore_switches() -> Iterator[None]:
    before = (transport.switches.socket_reads, transport.switches.location_uris)
    yield
    transport.switches.socket_reads, transport.switches.location_uris = before
    transport._url_roots.clear()


def gunicorn_body(payload: bytes) -> tuple[Body, socket.socket, socket.socket]:
    ours, theirs = socket.socketpair()
    theirs.sendall(payload)
    return Body(LengthReader(SocketUnreader(ours), len(payload))), ours, theirs


def test_both_speed_ups_pass_the_check_with_the_pinned_versions() -> None:
    transport.check()
    assert transport.switches.socket_reads and transport.switches.location_uris


def test_fill_reads_a_gunicorn_body_from_its_socket() -> None:
    transport.check()
    payload = bytes(range(256)) * 64
    stream, ours, theirs = gunicorn_body(payload)
    with ours, theirs:
        view = memoryview(bytearray(len(payload)))
        transport.fill(stream, view)
        assert bytes(view) == payload
        assert stream.reader.length == 0  # gunicorn sees the body consumed


def test_a_renamed_gunicorn_method_switches_socket_reads_off_and_bodies_still_arrive(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delattr(Unreader, "take_buffered")
    transport.check()
    assert not transport.switches.socket_reads
    assert transport.switches.location_uris
    payload = b"x" * 10_000
    stream, ours, theirs = gunicorn_body(payload)
    with ours, theirs:
        view = memoryview(bytearray(len(payload)))
        transport.fill(stream, view)
        assert bytes(view) == payload


@pytest.mark.parametrize("socket_reads", [True, False])
def test_a_short_body_is_a_400(socket_reads: bool) -> None:
    transport.switches.socket_reads = socket_reads
    stream, ours, theirs = gunicorn_body(b"abc")
    with ours, theirs:
        stream.reader.length = 10  # the client announced more than it sends
        theirs.shutdown(socket.SHUT_WR)
        with pytest.raises(BadRequest, match="after 3 of its 10 bytes"):
            transport.fill(stream, memoryview(bytearray(10)))
    with pytest.raises(BadRequest):
        transport.fill(io.BytesIO(b"abc"), memoryview(bytearray(10)))


@pytest.mark.parametrize("location_uris", [True, False])
@pytest.mark.parametrize("base_url", ["http://localhost:5000/", "http://bücher.example/ä/", "https://[::1]:8443/"])
def test_located_sends_the_location_werkzeug_would(location_uris: bool, base_url: str) -> None:
    transport.switches.location_uris = location_uris
    environ = EnvironBuilder(base_url=base_url).get_environ()
    request = Request(environ)
    path = "andromeda/prediction/" + "ab" * 12
    ours = transport.located(request, b"{}", 201, path).get_wsgi_headers(environ)
    plain = Response(b"{}", 201, {"Location": request.url_root + path}).get_wsgi_headers(environ)
    assert ours["Location"] == plain["Location"]
    assert ours["Content-Type"] == "application/json"
