"""gunicorn's guarded threaded worker, leaving a new connection to a sibling that holds fewer.

Every worker waits on the same listening socket and every one of them wakes for a new
connection, so a worker already serving a client takes the next one about as often as an idle
worker does; with keep-alive the connection then stays there. Two clients sharing one worker
share its CPU time and its GIL while the other worker idles: 512-row v2 requests from two
clients ran at 0.72-0.74 of a raw receiver in the rounds where that happened, 0.87-0.91 in the
others. Here each worker publishes how many connections it holds, and one that holds more than
a living sibling leaves a new connection for up to ``DEFER`` seconds, so that the sibling gets
there first (on a loaded machine its turn on a CPU can take a while); a connection still waiting
after that is taken as before, so no client waits longer than that.

Loaded by the gunicorn master (``gunicorn.conf.py``): the shared counts are made before it forks.
"""

from __future__ import annotations

import multiprocessing
import os
import select
import socket
import time

from slow_clients import GuardedThreadWorker

SLOTS = 64
DEFER = 0.05
STEP = 0.001


class Slots:
    """Connections held per worker, in memory shared across fork: one slot per living worker."""

    def __init__(self, size: int = SLOTS) -> None:
        self._pids = multiprocessing.RawArray("q", size)
        self._counts = multiprocessing.RawArray("q", size)
        self._lock = multiprocessing.Lock()

    def claim(self, pid: int) -> int | None:
        """A slot for ``pid``: a free one, or one whose worker has died (None when all are taken)."""
        with self._lock:
            for index, owner in enumerate(self._pids):
                if owner == 0 or not _alive(owner):
                    self._pids[index] = pid
                    self._counts[index] = 0
                    return index
        return None

    def publish(self, index: int, connections: int) -> None:
        self._counts[index] = connections

    def fewer_elsewhere(self, index: int) -> bool:
        """Does a living worker in another slot hold fewer connections than the one in ``index``?"""
        mine = self._counts[index]
        return any(
            owner and slot != index and self._counts[slot] < mine and _alive(owner)
            for slot, owner in enumerate(self._pids)
        )


def wait_until_taken(listener: socket.socket, seconds: float) -> None:
    """Return once ``listener`` has no connection waiting (another worker took it), or after ``seconds``."""
    poller = select.poll()
    poller.register(listener, select.POLLIN)
    deadline = time.monotonic() + seconds
    while poller.poll(0) and time.monotonic() < deadline:
        time.sleep(STEP)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


shared = Slots()


class BalancedThreadWorker(GuardedThreadWorker):
    """``GuardedThreadWorker`` that defers accepting while a sibling holds fewer connections."""

    slot: int | None = None

    def run(self) -> None:
        self.slot = shared.claim(os.getpid())
        super().run()

    def wait_for_and_dispatch_events(self, timeout: float) -> None:
        if self.slot is not None:
            shared.publish(self.slot, self.nr_conns)
        super().wait_for_and_dispatch_events(timeout)

    def accept(self, listener: socket.socket) -> None:
        if self.slot is not None and shared.fewer_elsewhere(self.slot):
            wait_until_taken(listener, DEFER)
        super().accept(listener)
