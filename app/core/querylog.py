"""The query log: every prediction request, written ahead to a file before it is answered.

A worker killed with SIGKILL (the OOM killer, an operator, gunicorn's timeout) loses
whatever it holds in memory, and every answered query must be logged. So ``record``
appends the row to this process's own *segment* file with ``os.write`` before the
response leaves, and a thread moves what has gathered into the database every
``flush_seconds``.

Durable here means: survives the death of the process, however it dies. A completed
``write()`` is in the kernel's page cache, which outlives the process, so an fsync is
not needed for that. A power cut can still lose the last rows (an fsync per request
would cost milliseconds each); it can equally lose SQLite's last commits, which run
with ``synchronous=NORMAL``.

Each row reaches the database exactly once. A segment's rows are inserted in the same
transaction that records its name in ``query_log_segments``; the file is deleted after
that commit, its name row in the next one (a process killed in between leaves a name
row that matches no file, and nothing else). A segment's writer holds an exclusive
``flock`` on it from creation to deletion, and the kernel drops that lock when the
process dies, so a segment whose lock can be taken has no writer: whichever process
sees it first (a new worker at start-up, any worker at its next flush) replays it,
or only deletes it when its name shows the rows are already in.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii as _json_string
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError

from app.config import INSTANCE_PATH
from app.core.featurelog import FeatureLog
from app.storage.tables import query_log, query_log_segments, users

log = logging.getLogger(__name__)

FIELDS = ("user_id", "model", "endpoint", "rows", "status", "seconds", "at")
SEGMENT = re.compile(r"(?P<pid>\d+)-\d+-[0-9a-f]+\.wal")
MAX_CLOSED_SEGMENTS = 64
"""While the database is down, rows gather in the open segment rather than in ever more files."""
MAX_RECENT = 10_000



@dataclass(frozen=True)
class QueryRecord:
    user_id: int | None
    model: str | None
    endpoint: str
    rows: int
    status: int
    seconds: float
    at: float


@dataclass(frozen=True)
class Segment:
    """One write-ahead file, open and locked by this process."""

    path: Path
    fd: int

    @property
    def worker(self) -> int:
        match = SEGMENT.fullmatch(self.path.name)
        return int(match["pid"]) if match else 0

    def rows(self) -> Iterator[dict[str, Any]]:
        """The complete lines; a torn last line (its writer died inside ``write``) was never answered."""
        data = os.pread(self.fd, os.fstat(self.fd).st_size, 0)
        for line in data[: data.rfind(b"\n") + 1].splitlines():
            try:
                values = json.loads(line)
                yield {**dict(zip(FIELDS, values, strict=True)), "worker": self.worker}
            except (ValueError, TypeError):
                log.error("query log: unreadable line in %s skipped: %r", self.path, line[:200])

    def release(self) -> None:
        os.close(self.fd)


def _line(entry: QueryRecord) -> bytes:
    """One JSON array per line, in ``FIELDS`` order.

    Formatted by hand because it runs on every request (twice as fast as ``json``'s
    encoder); the strings still go through ``json``'s own escaping, which leaves no line
    break or non-ASCII character that a model name could carry.
    """
    user = "null" if entry.user_id is None else int(entry.user_id)
    model = "null" if entry.model is None else _json_string(entry.model)
    return (
        f"[{user},{model},{_json_string(entry.endpoint)},{int(entry.rows)},{int(entry.status)},"
        f"{float(entry.seconds)!r},{float(entry.at)!r}]\n"
    ).encode()


def default_directory(engine: Engine) -> Path:
    """Where the segments of ``engine``'s database live: beside a SQLite file, else under ``instance/``.

    Per database, so that a process never replays rows into another database than the
    one they were meant for (tests run many apps, each on its own database, in one tree).
    """
    url = engine.url
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).resolve().with_name(Path(url.database).name + "-querylog")
    digest = hashlib.sha256(url.render_as_string(hide_password=True).encode()).hexdigest()[:16]
    return INSTANCE_PATH / "querylog" / f"{url.get_backend_name()}-{digest}"


class QueryLog:
    """Thread-safe writer of ``QueryRecord`` rows: a file append per row, a database insert per flush."""

    def __init__(self, engine: Engine, flush_seconds: float, directory: Path | None = None) -> None:
        self.engine = engine
        self.flush_seconds = flush_seconds
        self.directory = directory if directory is not None else default_directory(engine)
        self.features = FeatureLog(self.directory / "features", engine)
        self._pid: int | None = None
        self._segment: Segment | None = None
        self._closed: list[Segment] = []
        self._committed: list[str] = []
        self._write_lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        atexit.register(self.close)
        self.flush()  # what a killed predecessor left

    def record(self, entry: QueryRecord) -> None:
        """Append ``entry`` to this process's segment; once this returns, killing the process cannot lose it.

        A row that cannot be written (a full disk) raises, so the request fails rather than
        being answered unlogged.
        """
        line = _line(entry)
        rest = memoryview(line)
        with self._write_lock:
            if self._pid != os.getpid():
                self._start()
            fd = self._segment.fd  # type: ignore[union-attr]
            try:
                while rest:
                    rest = rest[os.write(fd, rest) :]
            except OSError:  # take back a part-written line, or the next row would be glued to it
                os.ftruncate(fd, os.fstat(fd).st_size - (len(line) - len(rest)))
                raise

    def _start(self) -> None:
        """Open this process's segment and start its flush thread (again, in a forked child)."""
        if self._pid is not None:  # a forked child must not write into its parent's files: it opens its own
            for segment in (self._segment, *self._closed):
                if segment is not None:
                    segment.release()
            self._closed, self._committed = [], []
            self._flush_lock = threading.Lock()
        self._segment = self._open_segment()
        self._pid = os.getpid()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="query-log", daemon=True)
        self._thread.start()

    def _open_segment(self) -> Segment:
        stem = f"{os.getpid()}-{time.time_ns()}-{secrets.token_hex(4)}"
        temporary = self.directory / f"{stem}.tmp"
        flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
        try:
            fd = os.open(temporary, flags, 0o600)
        except FileNotFoundError:  # not made yet, or removed by a process closing its log
            self.directory.mkdir(parents=True, exist_ok=True)
            fd = os.open(temporary, flags, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        path = self.directory / f"{stem}.wal"
        os.rename(temporary, path)  # replayers look at *.wal only, so none sees it before it is locked
        return Segment(path, fd)

    def _run(self) -> None:
        while not self._stop.wait(self.flush_seconds):
            try:
                self.flush()
            except OSError:  # a new segment could not be made: the rows wait in the current one
                log.exception("query log: flush failed")

    def flush(self) -> int:
        """Move every finished segment (this process's, and any whose writer died) into the database.

        Returns how many rows were written (0 if the write failed: the segments stay for the next flush).
        """
        with self._flush_lock:
            self._rotate()
            orphans = self._claim_orphans()
            segments = (self._closed if self._pid == os.getpid() else []) + orphans
            if not segments and not self._committed:
                return 0
            try:
                written = self._insert(segments)
            except SQLAlchemyError:
                log.exception("query log: %d segment(s) kept for the next flush", len(segments))
                for segment in orphans:
                    segment.release()
                return 0
            for segment in segments:
                segment.path.unlink(missing_ok=True)
                segment.release()
            self._closed = []
            self._committed = [segment.path.name for segment in segments]
            return written

    def _rotate(self) -> None:
        """Close the open segment to new rows (if it has any) and open the next one."""
        current = self._segment
        if (
            current is None
            or self._pid != os.getpid()
            or len(self._closed) >= MAX_CLOSED_SEGMENTS
            or os.fstat(current.fd).st_size == 0
        ):
            return
        fresh = self._open_segment()
        with self._write_lock:
            self._closed.append(current)
            self._segment = fresh

    def _claim_orphans(self) -> list[Segment]:
        """Lock every segment that no living process holds (its writer died before deleting it)."""
        mine = {segment.path.name for segment in (self._segment, *self._closed) if segment is not None}
        try:
            entries = [e for e in os.scandir(self.directory) if SEGMENT.fullmatch(e.name) and e.name not in mine]
        except FileNotFoundError:
            return []
        orphans = []
        for entry in entries:
            try:
                fd = os.open(entry.path, os.O_RDWR | os.O_CLOEXEC)
            except FileNotFoundError:  # its writer deleted it since the listing
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # a living writer or another replayer holds it
                os.close(fd)
                continue
            if os.fstat(fd).st_nlink == 0:  # finished and deleted between our open and our lock
                os.close(fd)
                continue
            orphans.append(Segment(Path(entry.path), fd))
        return orphans

    def _insert(self, segments: list[Segment]) -> int:
        names = [segment.path.name for segment in segments]
        with self.engine.begin() as conn:
            if self._committed:
                conn.execute(query_log_segments.delete().where(query_log_segments.c.name.in_(self._committed)))
            known = select(query_log_segments.c.name).where(query_log_segments.c.name.in_(names))
            done = set(conn.execute(known).scalars()) if names else set()
            rows = [row for segment in segments if segment.path.name not in done for row in segment.rows()]
            if rows:
                conn.execute(query_log.insert(), rows)
            if len(done) < len(names):
                conn.execute(query_log_segments.insert(), [{"name": n} for n in names if n not in done])
        return len(rows)

    def recent(self, limit: int) -> list[dict[str, Any]]:
        """The latest ``limit`` rows (1 to 10,000), newest first, with the user's name.

        This process's rows are flushed first; other workers' appear after their next flush.
        """
        self.flush()
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(query_log, users.c.username)
                .join(users, users.c.id == query_log.c.user_id, isouter=True)
                .order_by(query_log.c.id.desc())
                .limit(max(1, min(limit, MAX_RECENT)))
            ).all()
        keys = ("username", "model", "endpoint", "rows", "status", "seconds", "at", "worker")
        return [{key: getattr(row, key) for key in keys} for row in rows]

    def close(self) -> None:
        """Flush and let go of the files; what the database refused stays on disk for the next process."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread.is_alive() and self._pid == os.getpid():
            thread.join(timeout=10)
        self.flush()
        self.flush()  # deletes the name rows of the segments the first flush wrote
        if self._pid != os.getpid():
            return
        with self._write_lock:
            for segment in (self._segment, *self._closed):
                if segment is not None:
                    if os.fstat(segment.fd).st_size == 0:
                        segment.path.unlink(missing_ok=True)
                    segment.release()
            self._segment, self._closed, self._pid = None, [], None
        with contextlib.suppress(OSError):  # still in use, or holding what the database refused
            self.directory.rmdir()
