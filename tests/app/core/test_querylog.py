"""The query log: rows survive a failed write and a killed process, and reach the database exactly once."""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from app.core.querylog import QueryLog, QueryRecord, default_directory
from app.storage.engine import make_engine
from app.storage.tables import query_log, query_log_segments

ROOT = Path(__file__).resolve().parents[3]


def record(rows: int) -> QueryRecord:
    return QueryRecord(None, "faces-softmax", "v2", rows, 200, 0.01, time.time())


def logged_rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.coalesce(func.sum(query_log.c.rows), 0))).scalar_one()


def logged_workers(engine: Engine) -> set[int]:
    with engine.connect() as conn:
        return set(conn.execute(select(query_log.c.worker)).scalars())


def segment_names(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(select(query_log_segments.c.name)).scalars())


def segments(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.wal")) if directory.exists() else []


def test_a_failed_write_keeps_its_rows_for_the_next_flush(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'log.sqlite3'}")
    log = QueryLog(engine, flush_seconds=3600)
    log.record(record(3))
    query_log.drop(engine)
    log.record(record(4))
    assert log.flush() == 0
    query_log.create(engine)
    log.record(record(5))
    assert log.flush() == 3
    assert logged_rows(engine) == 12
    log.close()
    assert logged_rows(engine) == 12
    assert segments(log.directory) == [] and segment_names(engine) == []


def test_a_row_is_on_disk_when_record_returns(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'log.sqlite3'}")
    log = QueryLog(engine, flush_seconds=3600)
    log.record(record(7))
    [segment] = segments(log.directory)
    assert b'"faces-softmax","v2",7,200' in segment.read_bytes()
    log.close()
    assert logged_rows(engine) == 7
    assert not log.directory.exists(), "an empty folder is not left behind"


def test_any_model_name_and_a_missing_user_come_back_as_they_were(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'log.sqlite3'}")
    log = QueryLog(engine, flush_seconds=3600)
    name = 'a\nb\rc\x00d\u2028e"f\\g\té \U0001f600'
    entry = QueryRecord(None, name, "bigml", 2, 404, 1.5e-05, 1765000000.123456)
    log.record(entry)
    log.record(QueryRecord(7, None, "v2", 0, 401, 0.25, 1765000001.0))
    assert log.flush() == 2
    with engine.connect() as conn:
        rows = conn.execute(select(query_log).order_by(query_log.c.id)).all()
    assert [tuple(row)[1:8] for row in rows] == [
        (None, name, "bigml", 2, 404, 1.5e-05, 1765000000.123456),
        (7, None, "v2", 0, 401, 0.25, 1765000001.0),
    ]
    assert {row.worker for row in rows} == {os.getpid()}
    log.close()


def test_a_row_written_in_part_is_taken_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A disk that fills up mid-row: the request fails, and the next row is not glued to the torn one."""
    engine = make_engine(f"sqlite:///{tmp_path / 'log.sqlite3'}")
    log = QueryLog(engine, flush_seconds=3600)
    log.record(record(1))
    real_write, calls = os.write, []

    def half_then_a_full_disk(fd: int, data: bytes) -> int:
        calls.append(fd)
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, bytes(data[: len(data) // 2]))

    monkeypatch.setattr(os, "write", half_then_a_full_disk)
    with pytest.raises(OSError):
        log.record(record(2))
    monkeypatch.undo()
    log.record(record(4))
    assert log.flush() == 2 and logged_rows(engine) == 5
    log.close()


def kill_a_writer(url: str, rows: list[int]) -> int:
    """Start a process that logs ``rows`` (no flush for an hour), SIGKILL it once they are recorded; its pid."""
    script = textwrap.dedent(
        f"""
        import sys, time
        from app.core.querylog import QueryLog, QueryRecord, default_directory
        from app.storage.engine import make_engine
        log = QueryLog(make_engine({url!r}), flush_seconds=3600)
        for rows in {rows!r}:
            log.record(QueryRecord(None, "fair-tree", "v1", rows, 200, 0.001, time.time()))
        print("recorded", flush=True)
        time.sleep(600)
        """
    )
    process = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "recorded"
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    return process.pid


def check_killed_writers_rows_are_replayed_once(url: str) -> None:
    """What a SIGKILLed worker wrote ahead reaches the database through the next process, once."""
    engine = make_engine(url)
    before = logged_rows(engine)
    pid = kill_a_writer(url, [1, 2, 3])
    directory = default_directory(engine)
    [segment] = [s for s in segments(directory) if s.name.startswith(f"{pid}-")]
    with segment.open("ab") as torn:  # the writer died inside write(): that request was never answered
        torn.write(b'[null,"fair-tree","v1",100')

    replayer = QueryLog(engine, flush_seconds=3600)  # a new worker replays at start-up
    assert logged_rows(engine) == before + 6
    assert pid in logged_workers(engine)
    assert not segment.exists()
    replayer.close()
    QueryLog(engine, flush_seconds=3600).close()
    assert logged_rows(engine) == before + 6


def test_a_killed_writers_rows_are_replayed_once_on_sqlite(tmp_path: Path) -> None:
    check_killed_writers_rows_are_replayed_once(f"sqlite:///{tmp_path / 'log.sqlite3'}")


def test_a_living_writers_segment_is_left_to_it(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'log.sqlite3'}")
    writer, other = QueryLog(engine, flush_seconds=3600), QueryLog(engine, flush_seconds=3600)
    writer.record(record(2))
    assert other.flush() == 0 and logged_rows(engine) == 0
    assert writer.flush() == 1 and logged_rows(engine) == 2
    writer.close()
    other.close()
    assert logged_rows(engine) == 2


def test_a_segment_already_written_is_deleted_not_written_again(tmp_path: Path) -> None:
    """A crash after the commit and before the file's deletion leaves the file: its name row says it is in."""
    engine = make_engine(f"sqlite:///{tmp_path / 'log.sqlite3'}")
    log = QueryLog(engine, flush_seconds=3600)
    log.record(record(4))
    log.record(record(1))
    [segment] = segments(log.directory)
    kept = shutil.copy(segment, tmp_path / "kept")
    assert log.flush() == 2
    assert segment_names(engine) == [segment.name]
    shutil.copy(kept, segment)  # as if the process had died before deleting it

    QueryLog(engine, flush_seconds=3600).close()
    assert logged_rows(engine) == 5
    assert not segment.exists()
    log.close()
    assert segment_names(engine) == []
