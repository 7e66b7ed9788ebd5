"""The query log: every prediction request, written in batches off the hot path.

Requests put a row on an in-memory queue; one thread per worker inserts what has
gathered every ``flush_seconds``. ``close()`` (called at worker exit) drains the
queue, so a graceful shutdown loses no row. A failed insert (the database
restarting, a lock timeout) keeps its rows for the next flush instead of
dropping them or stopping the writer.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from app.storage.tables import query_log

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QueryRecord:
    user_id: int | None
    model: str | None
    endpoint: str
    rows: int
    status: int
    seconds: float
    at: float


class QueryLog:
    """Batched, thread-safe writer of ``QueryRecord`` rows."""

    def __init__(self, engine: Engine, flush_seconds: float) -> None:
        self.engine = engine
        self.flush_seconds = flush_seconds
        self._queue: queue.SimpleQueue[QueryRecord] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._pid = os.getpid()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._pending: list[dict[str, object]] = []
        atexit.register(self.close)

    def record(self, entry: QueryRecord) -> None:
        self._ensure_thread()
        self._queue.put(entry)

    def _ensure_thread(self) -> None:
        # A gunicorn worker forked from a master that already started the thread needs its own.
        if self._thread is not None and self._pid == os.getpid():
            return
        with self._lock:
            if self._thread is None or self._pid != os.getpid():
                self._pid = os.getpid()
                self._stop = threading.Event()
                self._thread = threading.Thread(target=self._run, name="query-log", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.flush_seconds):
            self.flush()
        self.flush()

    def flush(self) -> int:
        """Write everything queued so far; returns how many rows were written (0 if the write failed)."""
        with self._flush_lock:
            batch, self._pending = self._pending, []
            while True:
                try:
                    entry = self._queue.get_nowait()
                except queue.Empty:
                    break
                batch.append({**entry.__dict__, "worker": os.getpid()})
            if not batch:
                return 0
            try:
                with self.engine.begin() as conn:
                    conn.execute(query_log.insert(), batch)
            except SQLAlchemyError:
                self._pending = batch
                log.exception("query log: %d rows kept for the next flush", len(batch))
                return 0
            return len(batch)

    def close(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None and thread.is_alive() and self._pid == os.getpid():
            thread.join(timeout=10)
        self.flush()
