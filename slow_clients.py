"""gunicorn's threaded worker, with a read timeout and a bound on the threads clients keep waiting.

gunicorn's gthread worker gives a connection a thread once its first bytes arrive, then reads
the headers and the body with blocking reads and no timeout: eight clients that send the start
of a request and then nothing hold all the threads of two 4-thread workers, and a health check
waits behind them. Here a read that would block waits at most ``MLAAS_READ_TIMEOUT`` seconds,
and at most ``threads - 1`` threads of a worker wait on clients at once: a thread that finds
every waiting slot taken gives the client a short grace and then drops it, so a request that
has arrived whole (a health check, a client on a fast link) always finds a thread. A connection
that has sent nothing yet waits for its first bytes within the same slots (gunicorn then moves it
to the worker's poller).

This module is loaded by the gunicorn master (``gunicorn.conf.py``): it imports nothing of ``app``.
"""

from __future__ import annotations

import os
import select
import socket
import threading
from typing import Any

from gunicorn.http.errors import NoMoreData
from gunicorn.workers.gthread import TConn, ThreadWorker

READ_TIMEOUT = float(os.environ.get("MLAAS_READ_TIMEOUT", "10"))
# How long a thread waits for a client's next bytes when every waiting slot is taken.
GRACE = 0.05


class ClientTimeout(TimeoutError, NoMoreData):
    """A client sent nothing in time.

    To the app a timeout (it answers 408); to gunicorn, reading headers, a client gone quiet
    (``NoMoreData``: the connection is closed with a debug line, not a logged traceback).
    """

    __str__ = OSError.__str__


class GuardedSocket:
    """A client socket whose reads wait only within the read timeout and the worker's waiting slots."""

    def __init__(self, sock: socket.socket, waiting: threading.BoundedSemaphore, timeout: float) -> None:
        self._sock = sock
        self._waiting = waiting
        self._timeout = timeout
        self._gave_up = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)

    def recv(self, size: int, flags: int = 0) -> bytes:
        self._wait()
        return self._sock.recv(size, flags)

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        self._wait()
        return self._sock.recv_into(buffer, nbytes, flags)

    def _wait(self) -> None:
        """Return once the socket is readable; raise ``ClientTimeout`` when the client is too slow."""
        if self._readable(0):
            return
        if self._gave_up:
            # The request was already answered for timing out: draining the rest is not worth a thread.
            raise ClientTimeout("the client was already too slow on this connection")
        own = self._sock.gettimeout()
        timeout = self._timeout if own is None else min(own, self._timeout)
        if not self._waiting.acquire(blocking=False):
            if self._readable(min(GRACE, timeout)):
                return
            self._gave_up = True
            raise ClientTimeout("the server is busy waiting on other slow clients")
        try:
            if self._readable(timeout):
                return
        finally:
            self._waiting.release()
        self._gave_up = True
        raise ClientTimeout(f"nothing received for {timeout:g} s")

    def _readable(self, timeout: float) -> bool:
        poller = select.poll()
        poller.register(self._sock, select.POLLIN | select.POLLPRI)
        return bool(poller.poll(int(timeout * 1000)))


class GuardedConn(TConn):
    """A connection whose socket is guarded, and whose wait for its first bytes takes a waiting slot."""

    def __init__(self, cfg: Any, sock: socket.socket, client: Any, server: Any,
                 waiting: threading.BoundedSemaphore) -> None:
        super().__init__(cfg, GuardedSocket(sock, waiting, READ_TIMEOUT), client, server)
        self.waiting = waiting

    def wait_for_data(self, timeout: float) -> bool:
        """gunicorn's wait (False: the connection waits on in the poller), within a waiting slot."""
        if super().wait_for_data(0):
            return True
        if not self.waiting.acquire(blocking=False):
            return super().wait_for_data(GRACE)
        try:
            return super().wait_for_data(timeout)
        finally:
            self.waiting.release()


class GuardedThreadWorker(ThreadWorker):
    """gunicorn's gthread worker with guarded connections (``worker_class`` in ``gunicorn.conf.py``)."""

    def init_process(self) -> None:
        self.waiting = threading.BoundedSemaphore(max(1, self.cfg.threads - 1))
        super().init_process()

    def accept(self, listener: socket.socket) -> None:
        """gunicorn's accept, making a ``GuardedConn``."""
        try:
            client_sock, client_addr = listener.accept()
        except (BlockingIOError, ConnectionAbortedError):
            return
        self.nr_conns += 1
        client_sock.setblocking(True)
        self.enqueue_req(GuardedConn(self.cfg, client_sock, client_addr, listener.getsockname(), self.waiting))
