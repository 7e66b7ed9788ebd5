"""Per-thread capture of what an attack command prints.

``contextlib.redirect_stdout`` swaps one global stream, so two cells running in
threads (a Dask worker with threads) would swap each other's buffers and could
leave ``sys.stdout`` pointing at a dead one. Here a router is installed while
any capture is active and sends each thread's writes to that thread's buffer;
other threads still write to the original streams.
"""

from __future__ import annotations

import io
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class _Router(io.TextIOBase):
    """A text stream that writes to the current thread's buffer, else to ``fallback``."""

    def __init__(self, fallback: io.TextIOBase, local: threading.local) -> None:
        self.fallback = fallback
        self.local = local

    def write(self, text: str) -> int:
        buffer = getattr(self.local, "buffer", None)
        return (buffer if buffer is not None else self.fallback).write(text)

    def flush(self) -> None:
        if getattr(self.local, "buffer", None) is None:
            self.fallback.flush()

    def isatty(self) -> bool:
        """No terminal: progress bars stay off inside a captured command."""
        return False


_lock = threading.Lock()
_local = threading.local()
_active = 0
_saved: tuple = ()


@contextmanager
def captured() -> Iterator[io.StringIO]:
    """Everything this thread prints to stdout or stderr, in a buffer."""
    global _active, _saved
    with _lock:
        if _active == 0:
            _saved = (sys.stdout, sys.stderr)
            sys.stdout, sys.stderr = _Router(sys.stdout, _local), _Router(sys.stderr, _local)
        _active += 1
    buffer = io.StringIO()
    _local.buffer = buffer
    try:
        yield buffer
    finally:
        _local.buffer = None
        with _lock:
            _active -= 1
            if _active == 0:
                sys.stdout, sys.stderr = _saved
