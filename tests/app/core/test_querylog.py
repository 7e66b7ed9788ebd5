"""The query log keeps rows through a failed write and writes them once the database answers again."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import func, select

from app.core.querylog import QueryLog, QueryRecord
from app.storage.engine import make_engine
from app.storage.tables import query_log


def record(rows: int) -> QueryRecord:
    return QueryRecord(None, "faces-softmax", "v2", rows, 200, 0.01, time.time())


def logged_rows(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.coalesce(func.sum(query_log.c.rows), 0))).scalar_one()


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
